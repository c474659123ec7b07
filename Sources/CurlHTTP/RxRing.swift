internal import CCurl

/// Multishot receives (`dsd_rx_ring`, io_uring): a socket armed once brings every read as a
/// completion, with the kernel's receive stamp. The reads run only inside this thread's calls into
/// the ring (`collect`, `wait`), never in between, and `wait` is where the thread sleeps until there
/// is something, watching other descriptors (`watch`: an epoll instance) as well. Loop thread only:
/// the thread that made it is the only one that may use it.
final class RxRing {
    private let raw: OpaquePointer
    private let events: UnsafeMutablePointer<dsd_rx_event>
    /// The most completions one `collect` returns.
    static let batch = 256

    /// nil where io_uring is not there or too old (not Linux, a kernel before 6.1, io_uring disabled
    /// or refused by a seccomp filter). `buffers` (a power of two) receive buffers of `bufferSize` bytes:
    /// when all are in use a socket's receive stops, with `-ENOBUFS`, and is armed again.
    init?(buffers: Int = 1024, bufferSize: Int = 4096) {
        guard let raw = dsd_rx_ring_create(Int32(buffers), Int32(bufferSize)) else { return nil }
        self.raw = raw
        events = .allocate(capacity: Self.batch)
    }

    deinit {
        dsd_rx_ring_destroy(raw)
        events.deallocate()
    }

    /// Queues a multishot receive of `fd` whose completions carry `tag` (submitted by the next
    /// `wait` or `collect`); false when it could not be queued.
    func arm(_ fd: Int32, tag: UInt64) -> Bool { dsd_rx_ring_arm(raw, fd, tag) == 0 }

    /// Queues a multishot poll of `fd` for reading: a completion with `tag` each time it becomes readable.
    func watch(_ fd: Int32, tag: UInt64) -> Bool { dsd_rx_ring_watch(raw, fd, tag) == 0 }

    /// Requests queued and not yet submitted.
    var queued: Int { Int(dsd_rx_ring_queued(raw)) }

    /// Submits what is queued and waits until there is a completion, at most `nanoseconds`; at once
    /// when one is there.
    func wait(nanoseconds: Int64) { _ = dsd_rx_ring_wait(raw, nanoseconds) }

    /// One completion of a receive or a watch.
    struct Completion {
        /// The tag the receive or watch was given.
        let tag: UInt64
        /// Bytes read (at `data`), 0 at end of file, or −errno (−`ENOBUFS`: the buffers ran out);
        /// for a watch, the poll events seen.
        let res: Int
        let data: UnsafeRawPointer?
        /// The kernel's receive stamp (real-time ns; 0: none).
        let stamp: Int64
        /// The buffer holding `data`, to hand back (`release`); -1: none.
        let buffer: Int32
        /// Still armed: false when the receive or watch ended (arm it again to go on).
        let more: Bool

        @inline(__always) init(_ e: dsd_rx_event) {
            tag = e.tag
            res = e.res
            data = UnsafeRawPointer(e.data)
            stamp = e.stamp
            buffer = e.buffer
            more = e.more != 0
        }
    }

    typealias Completions = LazyMapCollection<UnsafeBufferPointer<dsd_rx_event>, Completion>

    /// Submits what is queued, runs a batch of the reads that are due and returns up to `batch`
    /// completions (valid until the next call); empty when none (or when the system call failed).
    /// Called until it comes back empty, it runs all that are due.
    func collect() -> Completions {
        let n = dsd_rx_ring_collect(raw, events, Int32(Self.batch))
        return UnsafeBufferPointer(start: events, count: max(Int(n), 0)).lazy.map(Completion.init)
    }

    /// Hands a completion's buffer back.
    func release(_ buffer: Int32) { dsd_rx_ring_release(raw, buffer) }
}
