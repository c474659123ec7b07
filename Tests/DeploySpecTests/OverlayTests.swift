import DeployCore
import Engines
import Foundation
@testable import DeploySpec
import DeployTargets
import Testing
import TestSupport

/// Overlays, `--values` and `--set`: how they resolve, and every mistake located where it is written.
@Suite struct OverlayTests {
    /// Loads inline files with settings and validates them.
    func resolve(_ files: [String: String], _ paths: [String], set: [String] = [], values: [String] = []) -> ValidationResult {
        let source = MemoryFileSource(files: files)
        let (m, d) = ManifestLoader(source: source, targetTypes: TargetKinds.schemas)
            .load(paths, settings: ManifestSettings(set: set, valuesFiles: values))
        return SpecValidator(targetTypes: TargetKinds.schemas, files: source).validate(m, loadDiagnostics: d)
    }

    /// Asserts a diagnostic with `id` in `file` exactly at the marker; returns it.
    @discardableResult
    func expectAt(_ r: ValidationResult, _ id: String, file: String, _ pos: (line: Int, column: Int),
                  sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Diagnostic? {
        let hit = r.diagnostics.first {
            $0.id == id && $0.location == SourceLocation(file: file, line: pos.line, column: pos.column)
        }
        let got = r.diagnostics.map { "\($0.location.map { "\($0.file):\($0.line):\($0.column)" } ?? "-") [\($0.id)] \($0.message)" }
        #expect(hit != nil, "expected [\(id)] at \(file):\(pos.line):\(pos.column); got \(got)", sourceLocation: sourceLocation)
        return hit
    }

    /// A base file: the seed's backend and one deployment with these args (engine version as given).
    func base(args: [String], engineVersion: String = "0.5.19", extra: String = "") -> String {
        seedBackend(engineVersion: engineVersion) + deployment(name: "dspark", args: args, extra: extra)
    }

    /// An overlay of `base` named `name` changing deployment `dspark` with this `set`/`remove` body.
    func overlay(_ name: String, base: String, _ body: String) -> String {
        """
        apiVersion: dsdeploy/v1
        kind: Overlay
        metadata: {name: \(name)}
        spec:
          base: \(base)
          deployments:
            dspark:
        \(body.split(separator: "\n", omittingEmptySubsequences: false).map { "      " + $0 }.joined(separator: "\n"))

        """
    }

    // MARK: resolution

    @Test func overlaySetsFieldsLabelsEnvAndFlags() throws {
        let files = [
            "m/base.yaml": base(args: ["--context-length 1000000", "--tp-size 8", "--ep-size 8", "--disable-overlap-schedule"]),
            "m/envs/staging.yaml": overlay("staging", base: "../base.yaml", """
            set:
              replicas: 1
              gpusPerReplica: 4
              labels.env: staging
              env.LOG_LEVEL: debug
              --context-length: 131072
              --tp-size: 4
              --ep-size: 4
            remove: [--disable-overlap-schedule]
            """),
        ]
        let r = resolve(files, ["m/envs/staging.yaml"])
        #expect(!r.diagnostics.hasErrors, "\(r.diagnostics.map(\.message))")
        let d = try #require(r.deployments.first)
        #expect(r.deployments.count == 1)
        #expect(d.deployment.replicas == 1)
        #expect(d.deployment.gpusPerReplica == 4)
        #expect(d.deployment.labels["env"] == "staging")
        #expect(d.env.map(\.name.value) == ["LOG_LEVEL"])
        #expect(d.flagSet.values["--context-length"]?.description == "131072")
        #expect(d.flagSet.values["--tp-size"]?.description == "4")
        #expect(d.flagSet.values["--disable-overlap-schedule"] == nil)
        // A set flag keeps its place in argv; provenance says the overlay wrote it.
        #expect(d.deployment.args.map(\.value) == ["--context-length 131072", "--tp-size 4", "--ep-size 4"])
        let ctx = try #require(d.args.first { $0.canonicalName == "--context-length" }?.location)
        #expect(d.origin(of: ctx).layer == "overlay")
        #expect(d.origin(of: ctx).overlay == "staging")
        #expect(ctx.file == "m/envs/staging.yaml")
        let trust = try #require(d.deployment.fieldLocations["replicas"])
        #expect(trust.file == "m/envs/staging.yaml")
        #expect(d.deployment.fieldLocations["backend"]?.file == "m/base.yaml")
    }

    @Test func aliasAndAttachedSpellingsInTheBaseAreMatched() throws {
        // `--tensor-parallel-size` is SGLang's alias of `--tp-size`; `--expert-parallel-size=8` spells
        // the alias of `--ep-size` with `=`.
        let files = [
            "base.yaml": base(args: ["--tensor-parallel-size 8", "--expert-parallel-size=8", "--context-length=1000000",
                                     "--trust-remote-code"]),
            "o.yaml": overlay("o", base: "base.yaml", """
            set: {--tp-size: 4, --ep-size: 4, --context-length: 131072}
            remove: [--trust-remote-code]
            """),
        ]
        let r = resolve(files, ["o.yaml"])
        #expect(!r.diagnostics.hasErrors, "\(r.diagnostics.map(\.message))")
        let d = try #require(r.deployments.first)
        #expect(d.deployment.args.map(\.value) == ["--tp-size 4", "--ep-size 4", "--context-length 131072"])
        #expect(d.flagSet.values.count == 3)
    }

    @Test func presenceFlagsTakeBooleans() throws {
        let files = [
            "base.yaml": base(args: ["--tp-size 8", "--disable-overlap-schedule"]),
            "o.yaml": overlay("o", base: "base.yaml", "set: {--disable-overlap-schedule: false, --trust-remote-code: true}"),
        ]
        let r = resolve(files, ["o.yaml"])
        #expect(!r.diagnostics.hasErrors, "\(r.diagnostics.map(\.message))")
        #expect(r.deployments.first?.deployment.args.map(\.value) == ["--tp-size 8", "--trust-remote-code"])
    }

    @Test func chainsResolveBasesFirst() throws {
        let files = [
            "base.yaml": base(args: ["--tp-size 8", "--context-length 1000000"]),
            "staging.yaml": overlay("staging", base: "base.yaml", "set: {replicas: 2, --context-length: 131072}"),
            "small.yaml": overlay("small", base: "staging.yaml", "set: {replicas: 1, --context-length: 32768}"),
        ]
        let r = resolve(files, ["small.yaml"])
        #expect(!r.diagnostics.hasErrors, "\(r.diagnostics.map(\.message))")
        let d = try #require(r.deployments.first)
        #expect(d.deployment.replicas == 1)
        #expect(d.flagSet.values["--context-length"]?.description == "32768")
        #expect(d.deployment.fieldLocations["replicas"]?.file == "small.yaml")
        // The middle of the chain alone is its own environment.
        let mid = try #require(resolve(files, ["staging.yaml"]).deployments.first)
        #expect(mid.deployment.replicas == 2)
        #expect(mid.flagSet.values["--context-length"]?.description == "131072")
    }

    @Test func settingsApplyAfterOverlaysValuesBeforeSet() throws {
        let files = [
            "base.yaml": base(args: ["--tp-size 8"]),
            "o.yaml": overlay("o", base: "base.yaml", "set: {replicas: 2}"),
            "v.yaml": """
            deployments.dspark.replicas: 3
            deployments.dspark.servedModelName: from-values
            deployments.dspark.args.--context-length: 65536
            """,
        ]
        let r = resolve(files, ["o.yaml"], set: ["deployments.dspark.replicas=4", "deployments.dspark.servedModelName=yes"],
                        values: ["v.yaml"])
        #expect(!r.diagnostics.hasErrors, "\(r.diagnostics.map(\.message))")
        let d = try #require(r.deployments.first)
        #expect(d.deployment.replicas == 4)
        #expect(d.deployment.servedModelName == "yes", "a string field takes --set text as written")
        #expect(d.flagSet.values["--context-length"]?.description == "65536")
        #expect(d.origin(of: try #require(d.deployment.fieldLocations["replicas"])).layer == "set")
        #expect(d.deployment.fieldLocations["replicas"]?.line == 1)
        let ctx = try #require(d.args.first { $0.canonicalName == "--context-length" }?.location)
        #expect(d.origin(of: ctx).layer == "values")
    }

    @Test func sameLaunchSpecKeepsTheRevisionInputs() throws {
        // An overlay that restates the base's values (through an alias) changes nothing that runs.
        let files = [
            "base.yaml": base(args: ["--tp-size 8", "--context-length 1000000"]),
            "o.yaml": overlay("o", base: "base.yaml", "set: {--tensor-parallel-size: 8, replicas: 1, --context-length: 1000000}"),
        ]
        let b = try #require(resolve(files, ["base.yaml"]).deployments.first)
        let o = try #require(resolve(files, ["o.yaml"]).deployments.first)
        #expect(b.flagSet == o.flagSet)
        #expect(b.deployment.replicas == o.deployment.replicas)
    }

    // MARK: located errors

    @Test func unknownBaseIsLocated() {
        let (text, m) = markers(overlay("o", base: "⁁nope.yaml", "set: {replicas: 1}"))
        let r = resolve(["o.yaml": text], ["o.yaml"])
        let d = expectAt(r, "unknown-reference", file: "o.yaml", m[0])
        #expect(d?.message.contains("base 'nope.yaml' of overlay 'o'") == true)
        #expect(r.deployments.isEmpty)
    }

    @Test func cycleIsLocatedOnce() {
        let (a, ma) = markers(overlay("a", base: "⁁b.yaml", "set: {replicas: 1}"))
        let b = overlay("b", base: "a.yaml", "set: {replicas: 2}")
        let r = resolve(["a.yaml": a, "b.yaml": b], ["a.yaml"])
        let d = expectAt(r, "overlay-cycle", file: "a.yaml", ma[0])
        #expect(d?.message.contains("a.yaml → b.yaml → a.yaml") == true)
        #expect(r.diagnostics.filter { $0.id == "overlay-cycle" }.count == 1)
        #expect(!r.isValid)
    }

    @Test func selfBaseIsACycle() {
        let (a, m) = markers(overlay("a", base: "⁁a.yaml", "set: {replicas: 1}"))
        expectAt(resolve(["a.yaml": a], ["a.yaml"]), "overlay-cycle", file: "a.yaml", m[0])
    }

    @Test func unknownDeploymentOfTheBase() {
        let (o, m) = markers("""
        apiVersion: dsdeploy/v1
        kind: Overlay
        metadata: {name: o}
        spec:
          base: base.yaml
          deployments:
            ⁁dsprak:
              set: {replicas: 1}
        """)
        let r = resolve(["base.yaml": base(args: ["--tp-size 8"]), "o.yaml": o], ["o.yaml"])
        let d = expectAt(r, "unknown-reference", file: "o.yaml", m[0])
        #expect(d?.message.contains("did you mean 'dspark'?") == true)
    }

    @Test func unknownOverlayPathHasDidYouMean() {
        let (o, m) = markers(overlay("o", base: "base.yaml", "set:\n  ⁁replicaz: 1"))
        let r = resolve(["base.yaml": base(args: ["--tp-size 8"]), "o.yaml": o], ["o.yaml"])
        let d = expectAt(r, "unknown-key", file: "o.yaml", m[0])
        #expect(d?.message.contains("did you mean 'replicas'?") == true)
    }

    @Test func unknownSetPathIsLocatedOnTheCommandLine() {
        let r = resolve(["base.yaml": base(args: ["--tp-size 8"])], ["base.yaml"],
                        set: ["deployments.dspark.replicas=2", "deployments.dspark.model.revison=main"])
        // `deployments.dspark.model.` is 25 characters: the bad segment starts at column 26 of the second --set.
        let d = expectAt(r, "unknown-key", file: "--set", (2, 26))
        #expect(d?.message.contains("did you mean 'revision'?") == true)
        #expect(r.manifest.sources["--set"]?.text.split(separator: "\n").count == 2, "the --set pseudo-file quotes the argument")
    }

    @Test func unknownDeploymentInSet() {
        let r = resolve(["base.yaml": base(args: ["--tp-size 8"])], ["base.yaml"], set: ["deployments.dsprak.replicas=2"])
        let d = expectAt(r, "unknown-reference", file: "--set", (1, 13))
        #expect(d?.message.contains("did you mean 'dspark'?") == true)
    }

    @Test func typeErrorFromSetPointsAtTheValue() {
        let r = resolve(["base.yaml": base(args: ["--tp-size 8"], extra: "  replicas: 2\n")], ["base.yaml"],
                        set: ["deployments.dspark.replicas=two"])
        let d = expectAt(r, "invalid-type", file: "--set", (1, 29))
        #expect(d?.message.contains("must be an integer") == true)
        #expect(d?.notes.contains { $0.contains("replaces the value at base.yaml:") } == true, "\(d?.notes ?? [])")
        #expect(!r.isValid)
    }

    @Test func setWithoutEqualsIsAnError() {
        let r = resolve(["base.yaml": base(args: ["--tp-size 8"])], ["base.yaml"], set: ["deployments.dspark.replicas"])
        expectAt(r, "invalid-value", file: "--set", (1, 1))
    }

    @Test func flagTheEngineVersionLacksPointsAtTheOverlayLine() {
        // --cuda-graph-max-bs left SGLang in 0.5.20 (manifests/dspark-sglang-0.5.23.yaml): an overlay
        // that brings the seed's flag back onto a 0.5.23 base is refused at the overlay's line.
        let (o, m) = markers(overlay("legacy", base: "base.yaml", "set:\n  ⁁--cuda-graph-max-bs: 32"))
        let r = resolve(["base.yaml": base(args: ["--tp-size 8"], engineVersion: "0.5.23"), "o.yaml": o], ["o.yaml"])
        let d = expectAt(r, "removed-flag", file: "o.yaml", m[0])
        #expect(d?.notes.contains { $0.contains("overlay 'legacy' adds '--cuda-graph-max-bs' to deployment 'dspark' (defined at base.yaml:") } == true,
                "\(d?.notes ?? [])")
    }

    @Test func badFlagValueInOverlayPointsAtTheValueWithANoteAtTheBase() {
        let (o, m) = markers(overlay("o", base: "base.yaml", "set:\n  --mem-fraction-static: ⁁high"))
        let r = resolve(["base.yaml": base(args: ["--mem-fraction-static 0.85"]), "o.yaml": o], ["o.yaml"])
        let d = expectAt(r, "invalid-value", file: "o.yaml", m[0])
        #expect(d?.notes.contains { $0.contains("replaces '--mem-fraction-static 0.85' at base.yaml:") } == true, "\(d?.notes ?? [])")
    }

    @Test func fieldValueErrorInOverlayHasANoteAtTheBase() {
        let (o, m) = markers(overlay("o", base: "base.yaml", "set:\n  gpusPerReplica: ⁁lots"))
        let r = resolve(["base.yaml": base(args: ["--tp-size 8"]), "o.yaml": o], ["o.yaml"])
        let d = expectAt(r, "invalid-type", file: "o.yaml", m[0])
        #expect(d?.notes.contains { $0.contains("replaces the value at base.yaml:") } == true, "\(d?.notes ?? [])")
    }

    @Test func requiredFieldsCannotBeRemovedAndAbsentOnesWarn() {
        let (o, m) = markers(overlay("o", base: "base.yaml", "remove: [⁁backend, ⁁readiness, ⁁--enable-foo]"))
        let r = resolve(["base.yaml": base(args: ["--tp-size 8"]), "o.yaml": o], ["o.yaml"])
        expectAt(r, "invalid-value", file: "o.yaml", m[0])
        expectAt(r, "no-effect", file: "o.yaml", m[1])
        expectAt(r, "no-effect", file: "o.yaml", m[2])
    }

    @Test func twoOverlaysOfOneBaseConflict() {
        let files = [
            "base.yaml": base(args: ["--tp-size 8"]),
            "a.yaml": overlay("a", base: "base.yaml", "set: {replicas: 1}"),
            "b.yaml": overlay("b", base: "base.yaml", "set: {replicas: 2}"),
        ]
        let r = resolve(files, ["a.yaml", "b.yaml"])
        #expect(r.diagnostics.contains { $0.id == "duplicate-key" && $0.message.contains("two overlays") }, "\(r.diagnostics.map(\.message))")
    }

    // MARK: property: an overlay followed by its inverse resolves to the base

    /// The parts of a resolved deployment that revisions, plans and diffs are computed from.
    struct Canonical: Equatable {
        var flags: [String: String]
        var env: [String: String]
        var replicas: Int, gpus: Int, port: Int
        var labels: [String: String]
        var target: String?
    }

    func canonical(_ r: ResolvedDeployment) -> Canonical {
        Canonical(flags: r.flagSet.values.mapValues(\.description),
                  env: Dictionary(r.env.map { ($0.name.value, "\($0.value)") }, uniquingKeysWith: { a, _ in a }),
                  replicas: r.deployment.replicas, gpus: r.deployment.gpusPerReplica, port: r.deployment.port,
                  labels: r.deployment.labels, target: r.deployment.target?.value)
    }


    @Test(arguments: 1...40) func overlayThenInverseIsTheBase(seed: Int) throws {
        var rng = SplitMix64(seed: UInt64(seed))
        // The base: seed flags, some spelled through an alias (`--tensor-parallel-size` for `--tp-size`)
        // and an alias with `=` (`--nccl-init-addr=` for `--dist-init-addr`), an env var, replicas.
        // `change` is a different valid value the overlay may set (nil: a presence flag).
        let baseFlags: [(spelled: String, name: String, value: String?, change: String?)] = [
            ("--context-length", "--context-length", "1000000", "131072"),
            ("--tensor-parallel-size", "--tp-size", "8", "4"),
            ("--nccl-init-addr=", "--dist-init-addr", "10.0.0.1:5000", "10.0.0.2:5000"),
            ("--mem-fraction-static", "--mem-fraction-static", "0.85", "0.7"),
            ("--max-running-requests", "--max-running-requests", "32", "16"),
            ("--trust-remote-code", "--trust-remote-code", nil, nil),
            ("--disable-overlap-schedule", "--disable-overlap-schedule", nil, nil),
        ]
        let args = baseFlags.map { f in
            f.value.map { f.spelled.hasSuffix("=") ? f.spelled + $0 : "\(f.spelled) \($0)" } ?? f.spelled
        }
        let baseText = base(args: args, extra: "  replicas: 2\n  env: {LOG_LEVEL: info}\n")
        // Flags the base does not set, with values valid for sglang 0.5.19 (nil: a presence flag).
        let extraFlags: [(name: String, value: String?)] = [("--chunked-prefill-size", "8192"), ("--enable-metrics", nil),
                                                            ("--max-total-tokens", "65536"), ("--schedule-policy", "lpm")]
        var sets: [String] = [], removes: [String] = []            // the overlay
        var undoSets: [String] = [], undoRemoves: [String] = []    // its inverse
        for f in baseFlags where Bool.random(using: &rng) {
            if let change = f.change, Bool.random(using: &rng) {
                sets.append("\(f.name): \(change)")
            } else {
                removes.append(f.name)
            }
            undoSets.append("\(f.name): \(f.value ?? "true")")
        }
        for f in extraFlags where Bool.random(using: &rng) {
            sets.append("\(f.name): \(f.value ?? "true")")
            undoRemoves.append(f.name)
        }
        if Bool.random(using: &rng) { sets.append("replicas: 5"); undoSets.append("replicas: 2") }
        if Bool.random(using: &rng) { sets.append("labels.env: canary"); undoRemoves.append("labels.env") }
        if Bool.random(using: &rng) { sets.append("env.LOG_LEVEL: debug"); undoSets.append("env.LOG_LEVEL: info") }
        if Bool.random(using: &rng) { sets.append("env.EXTRA: x"); undoRemoves.append("env.EXTRA") }

        func body(_ sets: [String], _ removes: [String]) -> String {
            (sets.isEmpty ? "set: {}\n" : "set:\n" + sets.map { "  \($0)\n" }.joined())
                + "remove: [" + removes.joined(separator: ", ") + "]"
        }
        let files = [
            "base.yaml": baseText,
            "there.yaml": overlay("there", base: "base.yaml", body(sets, removes)),
            "back.yaml": overlay("back", base: "there.yaml", body(undoSets, undoRemoves)),
        ]
        let b = resolve(files, ["base.yaml"]), there = resolve(files, ["there.yaml"]), back = resolve(files, ["back.yaml"])
        for r in [b, there, back] {
            #expect(!r.diagnostics.hasErrors, "seed \(seed): \(r.diagnostics.map(\.message))\n\(files["there.yaml"] ?? "")")
        }
        let cb = canonical(try #require(b.deployments.first))
        #expect(canonical(try #require(back.deployments.first)) == cb,
                "seed \(seed)\n\(files["there.yaml"] ?? "")\n\(files["back.yaml"] ?? "")")
        if !sets.isEmpty || !removes.isEmpty {
            #expect(canonical(try #require(there.deployments.first)) != cb, "seed \(seed): the overlay itself changes something")
        }
    }
}
