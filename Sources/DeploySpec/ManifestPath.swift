/// Lexical path handling for manifest references (no file system access, no symlink resolution).
public enum ManifestPath {
    /// Removes `.` components and resolves `..` against earlier components:
    /// `manifests/../templates` → `templates`, `./a//b` → `a/b`, `../x` stays `../x`.
    public static func normalize(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var out: [Substring] = []
        for c in path.split(separator: "/", omittingEmptySubsequences: true) {
            if c == "." { continue }
            if c == "..", let last = out.last, last != ".." { out.removeLast(); continue }
            if c == "..", absolute { continue }
            out.append(c)
        }
        let joined = out.joined(separator: "/")
        if absolute { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }

    /// `relative` resolved against the directory of `file`.
    public static func resolve(_ relative: String, from file: String) -> String {
        if relative.hasPrefix("/") { return normalize(relative) }
        return normalize(directory(of: file) + "/" + relative)
    }

    /// The directory part of a path (`.` when none).
    public static func directory(of path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return "." }
        return i == path.startIndex ? "/" : String(path[..<i])
    }
}
