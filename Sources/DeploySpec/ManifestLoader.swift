public import DeployCore
import Engines

/// Reads manifest files. The CLI reads the disk (its `DiskFileSource`), `diff --git` files at a git
/// revision, tests files held in memory.
public protocol ManifestFileSource: Sendable {
    /// The bytes of a file, or nil when it does not exist.
    func read(_ path: String) -> [UInt8]?
    /// YAML files of a directory (sorted), or [] when it does not exist.
    func yamlFiles(in directory: String) -> [String]
    /// Whether `path` is a directory (default: false, a source without directories).
    func isDirectory(_ path: String) -> Bool
}

extension ManifestFileSource {
    public func isDirectory(_ path: String) -> Bool { false }
}

/// Loads manifest files (following `Include` documents) into a `Manifest` and diagnostics.
public struct ManifestLoader: Sendable {
    /// Where files come from.
    public var source: any ManifestFileSource
    /// Extra directories searched for stock backends (after the `templates/` found beside the manifests).
    public var templateDirectories: [String]
    /// Largest manifest file accepted, in bytes.
    public var maxFileSize = 64 << 20
    /// Threads for parsing and decoding a large file in parts (1: one pass on the calling thread).
    public var threads = Parallel.defaultThreads

    /// The registered target types (their Target documents' fields).
    public var targetTypes: TargetTypes

    /// Creates a loader; Target documents are decoded by the fields `targetTypes` declare.
    public init(source: any ManifestFileSource, templateDirectories: [String] = [], targetTypes: TargetTypes) {
        self.targetTypes = targetTypes
        self.source = source
        self.templateDirectories = templateDirectories
    }

    /// Loads the files, their includes and overlays' bases, resolves the overlays and then `settings`
    /// (`--values`, `--set`), and adds stock backends they reference but do not define.
    /// `valuesSource` reads `--values` files (default: `source`).
    public func load(_ paths: [String], settings: ManifestSettings = ManifestSettings(),
                     valuesSource: (any ManifestFileSource)? = nil) -> (Manifest, [Diagnostic]) {
        var manifest = Manifest()
        var diags: [Diagnostic] = []
        // A directory given on the command line stands for its `*.yaml` and `*.yml` files, sorted
        // (not its subdirectories), as `kubectl apply -f DIR` reads one.
        var expanded: [String] = []
        for path in paths {
            guard source.isDirectory(path) else { expanded.append(path); continue }
            let files = source.yamlFiles(in: path)
            if files.isEmpty {
                diags.append(.error("unknown-reference", "directory '\(path)' holds no .yaml or .yml files",
                                    at: nil))
            }
            expanded += files
        }
        let paths = expanded
        var queue = paths.map { ($0, Optional<Reference>.none) }
        var seen: Set<String> = []
        var loaded: Set<String> = []
        var edges: [String: [String]] = [:]
        while !queue.isEmpty {
            let (path, reference) = queue.removeFirst()
            let key = ManifestPath.normalize(path)
            if seen.contains(key) { continue }
            seen.insert(key)
            guard let bytes = source.read(path) else {
                var msg = "cannot read manifest '\(path)': no such file"
                if let overlay = reference?.overlay { msg = "cannot read the base '\(path)' of overlay '\(overlay)': no such file" }
                diags.append(.error("unknown-reference", msg, at: reference?.text.location, length: reference?.text.length ?? 1))
                continue
            }
            if bytes.count > maxFileSize {
                diags.append(.error("yaml-syntax", "manifest '\(path)' is \(bytes.count) bytes; the limit is \(maxFileSize)",
                                    at: SourceLocation(file: path, line: 1, column: 1)))
                continue
            }
            PhaseClock.mark("read \(path)")
            // Loading and checking take about 40 bytes of heap per byte of YAML (58 MB for the
            // 1.5 MB benchmark manifest): large files get that heap in huge pages.
            HugePageHeap.expect(bytes: bytes.count * 40, threads: threads)
            loaded.insert(key)
            manifest.sources[path] = SourceText(bytes: bytes)
            let references = loadFile(path, bytes, into: &manifest, &diags, isStock: false)
            PhaseClock.mark("merge")
            for ref in references {
                let target = ManifestPath.resolve(ref.text.value, from: path)
                edges[key, default: []].append(ManifestPath.normalize(target))
                queue.append((target, ref))
            }
        }
        var resolver = OverlayResolver(targetTypes: targetTypes, edges: edges, loaded: loaded)
        let settingList = SettingsReader(source: valuesSource ?? source).read(settings, into: &manifest, &diags)
        resolver.resolve(&manifest, settings: settingList, &diags)
        PhaseClock.mark("overlays, settings")
        loadStockBackends(near: paths, into: &manifest)
        PhaseClock.mark("stock backends")
        var unique: Set<Diagnostic> = []
        return (manifest, diags.filter { unique.insert($0).inserted })
    }

    /// A file another file names: an `Include` entry, or an overlay's `base` (`overlay` is its name).
    struct Reference {
        var text: Located<String>
        var overlay: String?
    }

    /// One document, decoded.
    struct DecodedPart: Sendable {
        var hasRoot: Bool
        var decoded: DecodedDocument?
        var diagnostics: [Diagnostic]
    }

    /// Parses one file's documents into the manifest; returns the files it includes or overlays.
    func loadFile(_ path: String, _ bytes: [UInt8], into manifest: inout Manifest,
                  _ diags: inout [Diagnostic], isStock: Bool) -> [Reference] {
        // Each document is decoded where it was parsed (side by side for large files); what it
        // adds to the manifest is decided here, in document order.
        let targetTypes = targetTypes
        var (chunks, yamlDiags, _) = bytes.withUnsafeBufferPointer { raw in
            YAMLLoader.loadEach(raw, file: path, threads: threads) { doc -> DecodedPart in
                var decoder = ManifestDecoder(file: path, targetTypes: targetTypes)
                let decoded = decoder.decode(doc)
                return DecodedPart(hasRoot: doc.root != nil, decoded: decoded, diagnostics: decoder.diagnostics)
            }
        }
        if !isStock { PhaseClock.mark("parse+decode") }
        diags += yamlDiags
        var decoder = ManifestDecoder(file: path, targetTypes: targetTypes)
        var includes: [Reference] = []
        let documents = chunks.reduce(0) { $0 + $1.count }
        manifest.deployments.reserveCapacity(manifest.deployments.count + documents)
        manifest.deploymentIndex.reserveCapacity(manifest.deploymentIndex.count + documents)
        manifest.rawDeployments.reserveCapacity(manifest.rawDeployments.count + documents)
        for c in chunks.indices {
            // Each chunk is walked once and freed: its documents are taken out, not copied.
            var docs: [DecodedPart] = []
            swap(&docs, &chunks[c])
            for i in docs.indices {
                if !isStock, docs[i].hasRoot { manifest.documentCount += 1 }
                decoder.diagnostics += docs[i].diagnostics
                guard var decoded = docs[i].decoded.take() else { continue }
                if var b = decoded.backend.take() {
                    b.isStock = isStock
                    if let prev = manifest.backends[b.name] {
                        if isStock { continue }
                        if !prev.isStock {
                            decoder.diagnostics.append(.error("duplicate-key", "Backend '\(b.name)' is defined twice",
                                at: b.location, notes: ["first defined at \(prev.location.file):\(prev.location.line)"]))
                            continue
                        }
                    }
                    manifest.backends[b.name] = b
                } else if let d = decoded.deployment.take(), let raw = decoded.raw.take() {
                    if manifest.deploymentIndex[d.name] != nil, let prev = manifest.deployment(named: d.name) {
                        decoder.diagnostics.append(.error("duplicate-key", "Deployment '\(d.name)' is defined twice",
                            at: d.location, notes: ["first defined at \(prev.location.file):\(prev.location.line)"]))
                        continue
                    }
                    manifest.deploymentIndex[d.name] = manifest.deployments.count
                    manifest.rawDeployments[d.name] = raw
                    manifest.deployments.append(d)
                } else if let o = decoded.overlay.take() {
                    if isStock { continue }
                    if let prev = manifest.overlays.first(where: { ManifestPath.normalize($0.file) == ManifestPath.normalize(path) }) {
                        decoder.diagnostics.append(.error("duplicate-key", "a file holds at most one Overlay document; '\(prev.name)' is one",
                            at: o.location, notes: ["put overlay '\(o.name)' in a file of its own"]))
                        continue
                    }
                    manifest.overlays.append(o)
                    includes.append(Reference(text: o.base, overlay: o.name))
                } else if let t = decoded.target.take() {
                    if let prev = manifest.targets[t.name] {
                        decoder.diagnostics.append(.error("duplicate-key", "Target '\(t.name)' is defined twice",
                            at: t.location, notes: ["first defined at \(prev.location.file):\(prev.location.line)"]))
                        continue
                    }
                    manifest.targets[t.name] = t
                } else if let files = decoded.include.take() {
                    includes += files.map { Reference(text: $0) }
                }
            }
        }
        if !isStock { diags += decoder.diagnostics }
        return includes
    }

    /// Adds stock backends for backends referenced but not defined: from the `templates/` directories
    /// found beside the manifests, `templateDirectories`, then the ones compiled into the binary (the
    /// first definition of a name wins).
    func loadStockBackends(near paths: [String], into manifest: inout Manifest) {
        let missing = Set(manifest.deployments.map(\.backend.value)).subtracting(manifest.backends.keys)
        guard !missing.isEmpty else { return }
        var dirs: [String] = []
        for p in paths {
            var dir = ManifestPath.directory(of: p)
            for _ in 0..<5 {
                let candidate = ManifestPath.normalize(dir + "/templates")
                if !source.yamlFiles(in: candidate).isEmpty {
                    if !dirs.contains(candidate) { dirs.append(candidate) }
                    break
                }
                dir = dir + "/.."
            }
        }
        dirs += templateDirectories
        var files: [(String, [UInt8]?)] = dirs.flatMap { dir in source.yamlFiles(in: dir).map { ($0, source.read($0)) } }
        // Last, the stock backends compiled into the binary: found wherever the manifests are.
        files += EmbeddedFiles.names(under: "templates/").map { (Self.builtInPrefix + $0, EmbeddedFiles.bytes($0)) }
        var ignored: [Diagnostic] = []
        for case let (file, bytes?) in files {
            let before = manifest.backends.count
            _ = loadFile(file, bytes, into: &manifest, &ignored, isStock: true)
            if manifest.backends.count > before { manifest.sources[file] = SourceText(bytes: bytes) }
        }
    }

    /// How the files of the stock backends compiled into the binary are named in diagnostics and
    /// provenance: `(built in)/templates/vllm.yaml`.
    public static let builtInPrefix = "(built in)/"
}
