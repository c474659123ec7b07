import DeployKit
import Foundation

/// Builds `FlagDiffEntry` values from outside DeployKit.
///
/// `FlagDiffEntry` has only its synthesized (internal) memberwise initializer; its public interface is
/// `Codable`, so an entry is made by decoding the same fields.
struct DriftEntry: Codable {
    var kind = "changed"
    var flag: String
    var before: String?
    var after: String?
    var effective = true

    init(flag: String, before: String?, after: String?) {
        self.flag = flag
        self.before = before
        self.after = after
    }

    /// The entry (`changed`, effective); nil only if `FlagDiffEntry` stopped decoding from these fields.
    var entry: FlagDiffEntry? {
        guard let data = try? JSONEncoder().encode(self) else { return nil }
        return try? JSONDecoder().decode(FlagDiffEntry.self, from: data)
    }
}
