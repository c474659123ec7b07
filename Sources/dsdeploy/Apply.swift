import ArgumentParser
import DeployCore
import DeployFlows
import DeployKit
import DeploySpec
import DeployTargets
import Foundation

/// `dsdeploy apply FILE...|PLAN`
struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Reconcile the engines with the manifests: start, replace (verified, rolling), stop; revert on failure.",
        discussion: """
            Shows the plan, asks on a terminal (--auto-approve for pipelines), then applies it. \
            Exit 0 when everything converged, 1 when anything failed (failed deployments are returned \
            to their last good revision and keep serving), 3 when a benchmark gate failed (--gate; the \
            deployment is returned to its previous revision).
            """)

    @Argument(help: "Manifest files or directories (their *.yaml, *.yml), or one plan file written by `dsdeploy plan --out`.")
    var files: [String]

    @Flag(name: .long, help: "Apply without asking.")
    var autoApprove = false

    @Flag(name: .long, help: "Show the plan and stop.")
    var dryRun = false

    @Flag(name: .long, help: "Delete deployments that left the manifest (only ones in this state directory).")
    var prune = false

    @Flag(name: .long, help: "After the rollout, benchmark each deployment with new instances (or a never-gated revision) against its benchmarks: gates; revert one that fails (exit 3).")
    var gate = false

    @Flag(name: .long, help: "Like --gate, but also benchmark deployments whose rollout was a no-op.")
    var gateAlways = false

    @OptionGroup var options: ManifestOptions

    @OptionGroup var settings: SettingsOptions

    /// Exit status of `apply` when a benchmark gate failed (and no rollout failed).
    static let gateFailedExitCode: Int32 = 3

    func run() throws {
        var manifestFiles = files
        var savedPlan: PlanFile?
        if files.count == 1, let data = FileManager.default.contents(atPath: files[0]),
           let header = try? JSONDecoder().decode(PlanFile.Header.self, from: data), header.kind == "dsdeploy-plan" {
            guard header.plan.formatVersion == Plan.currentFormatVersion,
                  let pf = try? JSONDecoder().decode(PlanFile.self, from: data) else {
                throw fail("\(files[0]) is a plan of format \(header.plan.formatVersion) (this dsdeploy writes and reads "
                           + "format \(Plan.currentFormatVersion)); run plan again")
            }
            savedPlan = pf
            manifestFiles = pf.plan.files
            if !settings.set.isEmpty || !settings.values.isEmpty {
                throw fail("\(files[0]) is a saved plan: it carries the --set and --values it was made with; run plan again to change them")
            }
        }
        let manifestSettings = savedPlan.map { ManifestSettings(set: $0.set ?? [], valuesFiles: $0.values ?? []) } ?? settings.settings
        let lock = try TargetResolver.lock()
        defer { lock.release() }
        let ctx = try DeployContext.load(manifestFiles, options: options, settings: manifestSettings,
                                         resolveSecrets: !dryRun)
        let target = try TargetResolver.target(of: ctx.result)
        if savedPlan != nil { try target.requireCapabilityOrFail(.savedPlans, for: "applying a saved plan") }
        if gate || gateAlways { try target.requireCapabilityOrFail(.gates, for: gateAlways ? "--gate-always" : "--gate") }
        let pruning = savedPlan?.prune ?? prune
        if pruning { try target.requireCapabilityOrFail(.prune, for: "--prune") }
        try target.requireCapabilityOrFail(.apply, for: "apply")
        let targetLock = dryRun ? nil : try TargetResolver.lock(target)
        defer { targetLock?.release() }
        let input = ctx.input(prune: pruning)
        let plan: Plan
        do { plan = try target.plan(input) } catch { throw fail(error.message) }
        if let saved = savedPlan?.plan { try Apply.checkCurrent(saved, against: plan) }
        let color = options.useColor()
        let text = options.output == .text
        if text { Output.stdout(PlanTextRenderer(color: color).render(plan)) }
        let write: @Sendable (String) -> Void = { s in if text { Output.stdout(s) } else { Output.stderr(s) } }
        guard plan.blockers.isEmpty else {
            if !text { Output.stdout(Output.json(ApplyOutput(plan: plan, report: nil, gate: nil))) }
            throw ExitCode.failure
        }
        let gateMode: GateMode? = dryRun ? nil : (gateAlways ? .always : (gate ? .changed : nil))
        func runGates(_ report: ApplyReport?) throws -> GateReport? {
            guard let gateMode else { return nil }
            let store: StateStore
            do { store = try StateStore(directory: TargetResolver.stateDirectory) } catch {
                throw fail("cannot open the gate history in \(TargetResolver.stateDirectory): \(error)")
            }
            // Plain lines after the live rollout view (it redraws in place, which would overwrite them).
            let plain = ProgressView(interactive: false, write: write)
            return GateRunner(target: target, store: store, mode: gateMode, progress: write, onEvent: plain.handle)
                .run(plan: plan, input: input, report: report)
        }
        if dryRun && plan.hasChanges {
            if !text { Output.stdout(Output.json(plan)) }
            return
        }
        guard plan.hasChanges else {
            let gates = try runGates(nil)
            switch options.output {
            case .json: Output.stdout(Output.json(ApplyOutput(plan: plan, report: nil, gate: gates)))
            case .text: if let gates { Output.stdout(GateReportText.render(gates)) }
            }
            if gates.map({ !$0.passed }) == true { throw ExitCode(Apply.gateFailedExitCode) }
            return
        }
        guard try Confirm.ask("\nApply this plan?", autoApprove: autoApprove || savedPlan != nil) else {
            Output.stderr("Apply cancelled.\n")
            throw ExitCode.failure
        }
        let view = ProgressView(interactive: text && isatty(STDOUT_FILENO) == 1, write: write)
        let report = target.apply(plan, input, events: view.handle)
        if text { Output.stdout(ApplyReportText.render(report)) }
        let gates = try runGates(report)
        switch options.output {
        case .json: Output.stdout(Output.json(ApplyOutput(plan: plan, report: report, gate: gates)))
        case .text: if let gates { Output.stdout(GateReportText.render(gates)) }
        }
        if !report.succeeded { throw ExitCode.failure }
        if gates.map({ !$0.passed }) == true { throw ExitCode(Apply.gateFailedExitCode) }
    }

    /// Refuses a saved plan that no longer describes what apply would do: made for another target,
    /// other manifests, or against a target state that changed since.
    static func checkCurrent(_ saved: Plan, against fresh: Plan) throws {
        if saved.target.name != fresh.target.name || saved.target.type != fresh.target.type {
            throw fail("the plan was made for target '\(saved.target.name)' (\(saved.target.type)), not '\(fresh.target.name)'")
        }
        if saved.desiredDigest != fresh.desiredDigest {
            throw fail("the plan is stale: the manifests changed since it was made; run plan again")
        }
        if saved.observedDigest != fresh.observedDigest
            || saved.changes.map({ "\($0.id) \($0.action)" }) != fresh.changes.map({ "\($0.id) \($0.action)" }) {
            throw fail("the plan is stale: what runs on target '\(fresh.target.name)' changed since it was made; run plan again")
        }
    }
}

/// The `--output json` shape of apply.
struct ApplyOutput: Encodable {
    var plan: Plan
    var report: ApplyReport?
    /// Benchmark gate results (`--gate`), absent without it.
    var gate: GateReport?
}
