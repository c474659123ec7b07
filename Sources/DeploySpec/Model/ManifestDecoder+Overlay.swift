import DeployCore

extension ManifestDecoder {
    /// An `Overlay` document (already checked against its schema).
    func decodeOverlay(name: String, at location: SourceLocation, spec: YAMLMapping) -> OverlayDocument? {
        guard let base = spec["base"]?.locatedString else { return nil }
        var patches: [DeploymentPatch] = []
        for (key, node) in spec["deployments"]?.mapping?.stringPairs ?? [] {
            guard let m = node.mapping else { continue }
            patches.append(DeploymentPatch(deployment: Located(key.value, at: key.location, length: key.length),
                                           ops: Self.patchOps(set: m["set"], remove: m["remove"])))
        }
        return OverlayDocument(name: name, file: file, location: location, base: base, patches: patches)
    }

    /// `set:` (a mapping of path → value) and `remove:` (a list of paths) as operations.
    static func patchOps(set: YAMLNode?, remove: YAMLNode?) -> [PatchOp] {
        var ops: [PatchOp] = []
        for (k, v) in set?.mapping?.stringPairs ?? [] {
            ops.append(PatchOp(path: Located(k.value, at: k.location.advanced(by: k.contentOffset),
                                             length: max(1, k.length - 2 * k.contentOffset)),
                               kind: .set(v)))
        }
        for item in remove?.locatedStrings ?? [] { ops.append(PatchOp(path: item, kind: .remove)) }
        return ops
    }
}
