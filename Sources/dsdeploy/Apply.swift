import ArgumentParser
import DeployCore
import DeployKit
import DeploySpec
import DeployTargets
import Foundation

/// `dsdeploy apply FILE...|PLAN`
struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reconcile the engines with the manifests: start, replace (verified, rolling), stop; revert on failure.",
        discussion: """
            Shows the plan, asks on a terminal (--auto-approve for pipelines), then applies it. \
            Exit 0 when everything converged, 1 when anything failed (failed deployments are returned \
            to their last good revision and keep serving), 3 when a benchmark gate failed (--gate; the \
            deployment is returned to its previous revision).
            """)

    @Argument(help: "Manifest files, or one plan file written by `dsdeploy plan --out`.")
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

    /// Exit status of `apply` when a benchmark gate failed (and no rollout failed).
    static let gateFailedExitCode: Int32 = 3

    func run() throws {
        var manifestFiles = files
        var savedPlan: PlanFile?
        if files.count == 1, let data = FileManager.default.contents(atPath: files[0]),
           let pf = try? JSONDecoder().decode(PlanFile.self, from: data), pf.kind == "dsdeploy-plan" {
            savedPlan = pf
            manifestFiles = pf.plan.files
        }
        let lock = try TargetFactory.lock()
        defer { lock.release() }
        var ctx = try DeployContext.load(manifestFiles, options: options, resolveSecrets: !dryRun)
        if let gs = try GPUStackCommands.target(of: ctx.result) {
            if savedPlan != nil { throw GPUStackCommands.fail("saved plan files are not supported on a gpustack target yet") }
            if gate || gateAlways {
                throw GPUStackCommands.fail("--gate is not supported on a gpustack target yet (gate runs are kept in the local state)")
            }
            return try GPUStackCommands.apply(ctx, target: gs, prune: prune, autoApprove: autoApprove, dryRun: dryRun, options: options)
        }
        try ctx.digestSecrets(bestEffort: dryRun)
        let target = try TargetFactory.local(ctx.result.manifest)
        let plan = Planner(prune: savedPlan?.prune ?? prune).plan(desired: ctx.specs, observed: try target.observe(),
                                                                  files: manifestFiles)
        if let saved = savedPlan?.plan {
            if saved.desiredDigest != plan.desiredDigest {
                Output.stderr("dsdeploy: error: the plan is stale: the manifests changed since it was made; run plan again\n")
                throw ExitCode.failure
            }
            if saved.observedDigest != plan.observedDigest {
                Output.stderr("dsdeploy: error: the plan is stale: what runs changed since it was made; run plan again\n")
                throw ExitCode.failure
            }
        }
        let color = options.useColor()
        if options.output == .text { Output.stdout(PlanTextRenderer(color: color).render(plan)) }
        let interactive = options.output == .text && isatty(STDOUT_FILENO) == 1
        let view = ProgressView(interactive: interactive) { s in
            if options.output == .text { Output.stdout(s) } else { Output.stderr(s) }
        }
        let executor = ApplyExecutor(target: target, clock: SystemClock(), environment: ctx.environment)
        let gateMode: GateMode? = gateAlways ? .always : (gate ? .changed : nil)
        func runGates(_ report: ApplyReport?) -> GateReport? {
            guard let gateMode, !dryRun else { return nil }
            // Plain lines after the live rollout view (it redraws in place, which would overwrite them).
            let write: (String) -> Void = { s in if options.output == .text { Output.stdout(s) } else { Output.stderr(s) } }
            let step = GateStep(context: ctx, target: target, executor: executor, mode: gateMode, progress: write,
                                onEvent: ProgressView(interactive: false, write: write).handle)
            return step.run(plan: plan, report: report)
        }
        guard plan.hasChanges else {
            let gates = runGates(nil)
            if options.output == .json {
                Output.stdout(Output.json(ApplyOutput(plan: plan, report: nil, gate: gates)))
            } else if let gates {
                Output.stdout(GateReportText.render(gates))
            }
            if gates.map({ !$0.passed }) == true { throw ExitCode(Apply.gateFailedExitCode) }
            return
        }
        if dryRun { if options.output == .json { Output.stdout(Output.json(plan)) }; return }
        guard try Confirm.ask("\nApply this plan?", autoApprove: autoApprove || savedPlan != nil) else {
            Output.stderr("Apply cancelled.\n")
            throw ExitCode.failure
        }
        let report = executor.apply(plan, onEvent: view.handle)
        if options.output == .text { Output.stdout(ApplyReportText.render(report)) }
        let gates = runGates(report)
        switch options.output {
        case .json: Output.stdout(Output.json(ApplyOutput(plan: plan, report: report, gate: gates)))
        case .text: if let gates { Output.stdout(GateReportText.render(gates)) }
        }
        if !report.succeeded { throw ExitCode.failure }
        if gates.map({ !$0.passed }) == true { throw ExitCode(Apply.gateFailedExitCode) }
    }
}

/// The `--output json` shape of apply.
struct ApplyOutput: Encodable {
    var plan: Plan
    var report: ApplyReport?
    /// Benchmark gate results (`--gate`), absent without it.
    var gate: GateReport?
}

/// Text summary of an apply.
enum ApplyReportText {
    static func render(_ r: ApplyReport) -> String {
        var out = "\n"
        for o in r.outcomes where o.result != "done" || o.action != "noop" {
            if o.action == "noop" { continue }
            out += "  \(o.result == "done" ? "✔" : (o.result == "reverted" ? "↺" : "✘")) \(o.id) \(o.action): \(o.result)"
                + (o.result == "done" ? "" : " — \(o.message)") + "\n"
        }
        let done = r.outcomes.filter { $0.result == "done" && $0.action != "noop" }.count
        if r.succeeded {
            out += "Apply complete: \(done) change\(done == 1 ? "" : "s") in \(String(format: "%.1f", r.seconds))s.\n"
        } else {
            out += "Apply FAILED for \(r.failedDeployments.joined(separator: ", ")): returned to the last good revision where there was one.\n"
        }
        return out
    }
}
