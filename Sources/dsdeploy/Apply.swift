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
            to their last good revision and keep serving).
            """)

    @Argument(help: "Manifest files, or one plan file written by `dsdeploy plan --out`.")
    var files: [String]

    @Flag(name: .long, help: "Apply without asking.")
    var autoApprove = false

    @Flag(name: .long, help: "Show the plan and stop.")
    var dryRun = false

    @Flag(name: .long, help: "Delete deployments that left the manifest (only ones in this state directory).")
    var prune = false

    @OptionGroup var options: ManifestOptions

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
        let ctx = try DeployContext.load(manifestFiles, options: options, resolveSecrets: !dryRun)
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
        guard plan.hasChanges else {
            if options.output == .json {
                Output.stdout(Output.json(ApplyOutput(plan: plan, report: nil)))
            }
            return
        }
        if dryRun { if options.output == .json { Output.stdout(Output.json(plan)) }; return }
        guard try Confirm.ask("\nApply this plan?", autoApprove: autoApprove || savedPlan != nil) else {
            Output.stderr("Apply cancelled.\n")
            throw ExitCode.failure
        }
        let interactive = options.output == .text && isatty(STDOUT_FILENO) == 1
        let view = ProgressView(interactive: interactive) { s in
            if options.output == .text { Output.stdout(s) } else { Output.stderr(s) }
        }
        let executor = ApplyExecutor(target: target, clock: SystemClock(), environment: ctx.environment)
        let report = executor.apply(plan, onEvent: view.handle)
        switch options.output {
        case .json: Output.stdout(Output.json(ApplyOutput(plan: plan, report: report)))
        case .text: Output.stdout(ApplyReportText.render(report))
        }
        if !report.succeeded { throw ExitCode.failure }
    }
}

/// The `--output json` shape of apply.
struct ApplyOutput: Encodable {
    var plan: Plan
    var report: ApplyReport?
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
