import DeployCore
import DeploySpec
import Foundation

/// Resolves env values (literals, `valueFrom` env or file) at apply time. Errors never carry values.
enum SecretResolver {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func resolve(_ r: ResolvedDeployment) throws -> [String: Secret] {
        var out: [String: Secret] = [:]
        for e in r.env {
            switch e.value {
            case .literal(let v): out[e.name.value] = Secret(v)
            case .secretLiteral(let s): out[e.name.value] = s
            case .fromEnv(let name, _):
                guard let v = ProcessInfo.processInfo.environment[name] else {
                    throw Failure(description: "deployment '\(r.deployment.name)': env \(e.name.value) takes its value from $\(name), which is not set")
                }
                out[e.name.value] = Secret(v)
            case .fromFile(let path, _):
                // Relative to the file that wrote it when an overlay or a setting did (--set: the working directory).
                let writer = e.name.location.file
                let full = ManifestPath.resolve(path, from: r.layers[writer] != nil ? writer : r.deployment.file)
                guard let data = FileManager.default.contents(atPath: full) else {
                    throw Failure(description: "deployment '\(r.deployment.name)': env \(e.name.value) takes its value from file '\(full)', which cannot be read")
                }
                var s = String(decoding: data, as: UTF8.self)
                while s.hasSuffix("\n") || s.hasSuffix("\r") { s.removeLast() }
                out[e.name.value] = Secret(s)
            }
        }
        return out
    }
}
