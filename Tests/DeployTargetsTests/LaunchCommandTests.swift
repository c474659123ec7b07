import DeployCore
import DeployKit
@testable import DeployTargets
import Engines
import Testing

@Suite struct LaunchCommandTests {
    @Test func portMovesToTheChosenOne() throws {
        var spec = try makeSpec(argv: ["python3", "-m", "sglang.launch_server", "--model-path", "m", "--port", "30000",
                                       "--tp-size", "8"], engine: "sglang", version: "0.5.23", port: 30000,
                                entrypointCount: 3)
        spec.flagSet = FlagSet(["--tp-size": .int(8)])
        spec.flags = [try renderedFlag("--port", tokens: ["--port", "30000"], source: "template")]
        let moved = try LaunchCommand.moved(spec, to: 30005)
        #expect(moved.port == 30005)
        #expect(moved.argv == ["python3", "-m", "sglang.launch_server", "--model-path", "m", "--port", "30005",
                               "--tp-size", "8"])
        #expect(moved.flags.first?.tokens == ["--port", "30005"])
        #expect(try LaunchCommand.moved(spec, to: 30000) == spec)
    }

    @Test func attachedPortAndFlagSetEntryMove() throws {
        var spec = try makeSpec(argv: ["llama-server", "-m", "x.gguf", "--port=8080"], engine: "llama.cpp",
                                version: "b6000", port: 8080, entrypointCount: 1)
        spec.flagSet = FlagSet(["--port": .int(8080)])
        let moved = try LaunchCommand.moved(spec, to: 8081)
        #expect(moved.argv.last == "--port=8081")
        #expect(moved.flagSet["--port"] == .int(8081))
    }

    @Test func aPortInTheEntrypointIsLeftAlone() throws {
        let spec = try makeSpec(argv: ["run", "--port", "9000", "serve", "--port", "9000"], port: 9000, entrypointCount: 3)
        #expect(try LaunchCommand.moved(spec, to: 9001).argv == ["run", "--port", "9000", "serve", "--port", "9001"])
    }

    @Test func movingWithoutAPortFlagFails() throws {
        let spec = try makeSpec(argv: ["vllm", "serve", "m"], port: 8000)
        #expect(throws: LaunchCommand.PortError.self) { try LaunchCommand.moved(spec, to: 8001) }
    }

    @Test func imageCommandReplacesTheEntrypoint() throws {
        let spec = try makeSpec(argv: ["python3", "-m", "sglang.launch_server", "--model-path", "m"], engine: "sglang",
                                version: "0.5.23", entrypointCount: 3, image: "lmsysorg/sglang:v0.5.23")
        let argv = LaunchCommand.argv(for: spec, imageCommands: ["lmsysorg/sglang:v0.5.23": ["/opt/sim", "--x"]])
        #expect(argv == ["/opt/sim", "--x", "--model-path", "m"])
        #expect(LaunchCommand.argv(for: spec, imageCommands: [:]) == spec.argv)
    }

    @Test func environmentIsNotInheritedBeyondTheBasics() throws {
        var spec = try makeSpec(argv: ["x"])
        spec.gpuIds = [2, 3]
        spec.env = [try renderedEnv("PLAIN", value: "1", secret: false, from: nil),
                    try renderedEnv("TOKEN", value: nil, secret: true, from: "env:TOKEN")]
        let env = LaunchCommand.environment(
            for: spec, instance: "i1", resolved: ["TOKEN": Secret("s3cr3t"), "PLAIN": Secret("1")],
            parent: ["PATH": "/bin", "HOME": "/root", "AWS_SECRET_ACCESS_KEY": "leak", "LANG": "C.UTF-8"])
        #expect(Set(env.keys) == ["PATH", "HOME", "LANG", "PLAIN", "TOKEN", "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER",
                                  "DSDEPLOY_ENGINE_VERSION", "DSDEPLOY_INSTANCE"])
        #expect(env["DSDEPLOY_ENGINE_VERSION"]?.reveal() == "0.11.0", "the version the flags were checked against")
        #expect(env["TOKEN"]?.reveal() == "s3cr3t")
        #expect(env["CUDA_VISIBLE_DEVICES"]?.reveal() == "2,3")
        #expect(env["CUDA_DEVICE_ORDER"]?.reveal() == "PCI_BUS_ID", "the ids are nvidia-smi's, in PCI bus order")
        #expect("\(env)".contains("s3cr3t") == false)
    }

    @Test func deploymentCUDAVisibleDevicesWins() throws {
        var spec = try makeSpec(argv: ["x"])
        spec.gpuIds = [0]
        let env = LaunchCommand.environment(for: spec, instance: "i", resolved: ["CUDA_VISIBLE_DEVICES": Secret("5")],
                                            parent: [:])
        #expect(env["CUDA_VISIBLE_DEVICES"]?.reveal() == "5")
        #expect(env["CUDA_DEVICE_ORDER"] == nil, "the deployment's own ids: its own order")
        let cpu = LaunchCommand.environment(for: try makeSpec(argv: ["x"]), instance: "i", resolved: [:], parent: [:])
        #expect(cpu["CUDA_VISIBLE_DEVICES"] == nil && cpu["CUDA_DEVICE_ORDER"] == nil)
        spec.env = [try renderedEnv("CUDA_DEVICE_ORDER", value: "FASTEST_FIRST", secret: false, from: nil)]
        let own = LaunchCommand.environment(for: spec, instance: "i", resolved: [:], parent: [:])
        #expect(own["CUDA_VISIBLE_DEVICES"]?.reveal() == "0" && own["CUDA_DEVICE_ORDER"]?.reveal() == "FASTEST_FIRST")
    }

    @Test func readinessPathsPerEngine() throws {
        #expect(EngineProbe.readinessPath(for: try makeSpec(argv: [], engine: "sglang", version: "0.5.23",
                                                            readinessPath: nil)) == "/ready")
        #expect(EngineProbe.readinessPath(for: try makeSpec(argv: [], engine: "sglang", version: "0.5.19",
                                                            readinessPath: nil)) == "/health_generate")
        #expect(EngineProbe.readinessPath(for: try makeSpec(argv: [], engine: "vllm", readinessPath: nil)) == "/health")
        #expect(EngineProbe.readinessPath(for: try makeSpec(argv: [], engine: "llama.cpp", version: "b6000",
                                                            readinessPath: nil)) == "/health")
        #expect(EngineProbe.readinessPath(for: try makeSpec(argv: [], readinessPath: "ok")) == "/ok")
        #expect(EngineProbe.baseURL(host: "0.0.0.0", port: 1) == "http://127.0.0.1:1")
        #expect(EngineProbe.baseURL(host: "::1", port: 2) == "http://[::1]:2")
    }
}
