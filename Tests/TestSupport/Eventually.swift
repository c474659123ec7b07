import Foundation

/// Polls `probe` every `interval` seconds until it returns a value, for at most `timeout` seconds;
/// the value, or nil when time ran out (one last try is made at the deadline).
///
/// The one way tests wait for something to happen: on an observable condition, never for a fixed time.
/// (The blocking forms are disfavoured so that async code picks the suspending ones.)
@_disfavoredOverload
public func eventually<T>(timeout: Double = 10, interval: Double = 0.02, _ probe: () throws -> T?) rethrows -> T? {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if let value = try probe() { return value }
        Thread.sleep(forTimeInterval: interval)
    }
    return try probe()
}

/// `eventually` for a condition: true as soon as it holds, false when `timeout` passed without it.
@_disfavoredOverload
public func eventually(timeout: Double = 10, interval: Double = 0.02, _ condition: () throws -> Bool) rethrows -> Bool {
    try eventually(timeout: timeout, interval: interval) { try condition() ? true : nil } ?? false
}

/// `eventually` for async code: suspends between polls instead of blocking the thread.
public func eventually<T>(timeout: Double = 10, interval: Double = 0.02,
                          _ probe: () async throws -> T?) async rethrows -> T? {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if let value = try await probe() { return value }
        try? await Task.sleep(nanoseconds: UInt64(interval * 1e9))
    }
    return try await probe()
}

/// `eventually` for an async condition.
public func eventually(timeout: Double = 10, interval: Double = 0.02,
                       _ condition: () async throws -> Bool) async rethrows -> Bool {
    try await eventually(timeout: timeout, interval: interval) { try await condition() ? true : nil } ?? false
}
