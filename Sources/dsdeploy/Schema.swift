import ArgumentParser
import DeploySpec
import DeployTargets

/// `dsdeploy schema`
struct Schema: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema of a manifest document (for editors).")

    func run() throws {
        Output.stdout(JSONSchemaWriter.manifestSchema(targetTypes: TargetKinds.schemas))
    }
}

/// `dsdeploy version`
struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version.")

    func run() throws {
        Output.stdout("dsdeploy \(DSDeploy.version)\n")
    }
}
