import ArgumentParser
import DeployCore
import DeployKit
import DeploySpec
import DeployTargets
import Foundation

/// `dsdeploy plan FILE...`
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what apply would change: observe → desired → plan, per replica, with the flag-level diff.",
        discussion: "With --detailed-exitcode: 0 no changes, 1 error, 2 changes present.")

    @Argument(help: "Manifest files or directories (their *.yaml, *.yml).")
    var files: [String]

    @Flag(name: .long, help: "Exit 2 when the plan has changes.")
    var detailedExitcode = false

    @Flag(name: .long, help: "Plan to delete deployments that left the manifest.")
    var prune = false

    @Option(name: .long, help: "Also write the plan as JSON to this file (apply it with `dsdeploy apply FILE`).")
    var out: String?

    @OptionGroup var options: ManifestOptions

    @OptionGroup var settings: SettingsOptions

    func run() throws {
        let ctx = try DeployContext.load(files, options: options, settings: settings.settings, resolveSecrets: false)
        let target = try TargetResolver.target(of: ctx.result)
        if out != nil { try target.requireCapabilityOrFail(.savedPlans, for: "plan --out") }
        if prune { try target.requireCapabilityOrFail(.prune, for: "--prune") }
        let plan: Plan
        do { plan = try target.plan(ctx.input(prune: prune)) } catch { throw fail(error.message) }
        if let out {
            do { try Data(Output.json(PlanFile(plan: plan, prune: prune, set: settings.set.nilIfEmpty, values: settings.values.nilIfEmpty)).utf8).write(to: URL(fileURLWithPath: out)) } catch {
                throw fail("cannot write plan to \(out): \(error)")
            }
        }
        switch options.output {
        case .json: Output.stdout(Output.json(plan))
        case .text:
            Output.stdout(PlanTextRenderer(color: options.useColor()).render(plan))
            if let out { Output.stdout("Saved the plan to \(out); apply it with: dsdeploy apply \(out)\n") }
        }
        if !plan.blockers.isEmpty { throw ExitCode.failure }
        if detailedExitcode && plan.hasChanges { throw ExitCode(2) }
    }
}

extension Target {
    /// `requireCapability`, printed as a dsdeploy error.
    func requireCapabilityOrFail(_ c: TargetCapabilities, for option: String) throws {
        do { try requireCapability(c, for: option) } catch { throw fail(error.message) }
    }
}

/// A saved plan: the plan plus what is needed to check it is still current.
struct PlanFile: Codable {
    var kind = "dsdeploy-plan"
    var plan: Plan
    var prune: Bool
    /// The `--set` arguments the plan was made with (applying it loads the manifests with them again).
    var set: [String]? = nil
    /// The `--values` files the plan was made with.
    var values: [String]? = nil

    /// What identifies a plan file and its format, whatever the format.
    struct Header: Decodable {
        struct Version: Decodable {
            var formatVersion: Int
            enum CodingKeys: String, CodingKey { case formatVersion = "format_version" }
        }
        var kind: String
        var plan: Version
    }
}

extension Array {
    /// nil when empty (optional JSON fields left out).
    var nilIfEmpty: [Element]? { isEmpty ? nil : self }
}
