import Foundation
import POSIXSpawn
import TestSupport

/// A fake remote host for the docker target's tests: a network namespace of its own, joined to this
/// machine by a veth pair (`address` inside, `.1` of the same /30 outside), optionally running its
/// own sshd on `address:2222` (root, keys only, a fresh ed25519 host key; `known_hosts` pins it).
/// The namespace shares the filesystem and pids; only the network is separate.
final class NamespaceHost: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible { var description: String }

    /// Where its keys, configs and logs live.
    let dir: String
    let ns: String
    let veth: String
    let address: String
    private(set) var sshd: Int32 = 0

    /// A namespace `PREFIX-<tag>` on `10.<net>.N.0/30`.
    init(dir: String, prefix: String, net: Int) throws {
        self.dir = dir
        let tag = String(UInt32.random(in: 0...0xffffff), radix: 16)
        ns = prefix + "-" + tag
        veth = prefix.replacingOccurrences(of: "-", with: "") + "v" + tag
        let n = try Self.subnet(net)
        address = "10.\(net).\(n).2"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Self.sh(["/sbin/ip", "netns", "add", ns])
        try Self.sh(["/sbin/ip", "link", "add", veth, "type", "veth", "peer", "name", veth + "p"])
        try Self.sh(["/sbin/ip", "link", "set", veth + "p", "netns", ns])
        try Self.sh(["/sbin/ip", "addr", "add", "10.\(net).\(n).1/30", "dev", veth])
        try Self.sh(["/sbin/ip", "link", "set", veth, "up"])
        try Self.sh(["/sbin/ip", "-n", ns, "addr", "add", address + "/30", "dev", veth + "p"])
        try Self.sh(["/sbin/ip", "-n", ns, "link", "set", veth + "p", "up"])
        try Self.sh(["/sbin/ip", "-n", ns, "link", "set", "lo", "up"])
    }

    /// A `/30` of `10.NET.N.0` that no other host of this test process has and no interface of this
    /// machine uses: the docker suites run side by side, and two hosts on one subnet made ssh reach the
    /// other suite's sshd ("REMOTE HOST IDENTIFICATION HAS CHANGED").
    static func subnet(_ net: Int) throws -> Int {
        let inUse = (try? runProcess("/sbin/ip", ["-o", "-4", "addr", "show"], environment: [:], cwd: "/").out) ?? ""
        takenLock.lock()
        defer { takenLock.unlock() }
        for n in (1...250).shuffled() where !taken.contains("\(net).\(n)") && !inUse.contains(" 10.\(net).\(n).") {
            taken.insert("\(net).\(n)")
            return n
        }
        throw Failure(description: "no free 10.\(net).N.0/30 for a namespace host")
    }
    static let takenLock = NSLock()
    nonisolated(unsafe) static var taken: Set<String> = []

    static func sh(_ args: [String]) throws {
        let r = try runProcess(args[0], Array(args.dropFirst()), environment: ProcessInfo.processInfo.environment, cwd: "/")
        guard r.status == 0 else { throw Failure(description: "\(args.joined(separator: " ")): \(r.err)") }
    }

    /// Starts sshd in the namespace (installing it first when missing: `scripts/setup-sshd.sh`);
    /// `setEnv` goes to every session (sshd_config `SetEnv`: a `PATH` with stand-in tools).
    func startSSHD(setEnv: [String: String] = [:]) throws {
        try Self.sh(["/bin/bash", CLITests.root + "/scripts/setup-sshd.sh"])
        try Self.sh(["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir + "/host_key"])
        try Self.sh(["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir + "/client_key"])
        try FileManager.default.copyItem(atPath: dir + "/client_key.pub", toPath: dir + "/authorized_keys")
        let hostKey = try String(contentsOfFile: dir + "/host_key.pub", encoding: .utf8)
        try "[\(address)]:2222 \(hostKey)".write(toFile: dir + "/known_hosts", atomically: true, encoding: .utf8)
        try ("""
        Port 2222
        ListenAddress \(address)
        HostKey \(dir)/host_key
        PidFile \(dir)/sshd.pid
        AuthorizedKeysFile \(dir)/authorized_keys
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        UsePAM no
        StrictModes no
        AllowUsers root
        """ + setEnv.sorted { $0.key < $1.key }.map { "\nSetEnv \($0.key)=\($0.value)" }.joined()
        ).write(toFile: dir + "/sshd_config", atomically: true, encoding: .utf8)
        sshd = try Spawner.spawn(argv: ["/sbin/ip", "netns", "exec", ns, "/usr/sbin/sshd", "-D", "-f", dir + "/sshd_config",
                                        "-E", dir + "/sshd.log"],
                                 environment: ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" },
                                 fileActions: [.open(0, path: "/dev/null", flags: O_RDONLY), .open(1, path: "/dev/null", flags: O_WRONLY),
                                               .duplicate(1, to: 2)], newSession: true)
    }

    /// This host's entry of a user's ssh config, as `Host ALIAS` (its key, its pinned host key,
    /// `StrictHostKeyChecking yes`).
    func sshConfigEntry(_ alias: String) -> String {
        """
        Host \(alias)
          HostName \(address)
          Port 2222
          User root
          IdentityFile \(dir)/client_key
          IdentitiesOnly yes
          UserKnownHostsFile \(dir)/known_hosts
          StrictHostKeyChecking yes
          ConnectTimeout 5

        """
    }

    /// Waits until `ssh -F CONFIG ALIAS true` works.
    func waitForSSH(_ alias: String, config: String) throws {
        let up = eventually(timeout: 20) {
            (try? runProcess("/usr/bin/ssh", ["-F", config, "-o", "BatchMode=yes", alias, "true"], environment: [:], cwd: "/"))?.status == 0
        }
        guard up else { throw Failure(description: "sshd in \(ns) did not accept the key") }
    }

    /// Joins this namespace and `other`'s by a veth pair of their own, with a route each way to the
    /// other's address: the hosts of a multi-node group reach each other directly, as on a cluster
    /// network, while each one's link to this machine can still be cut alone. Removed with the namespaces.
    func link(to other: NamespaceHost) throws {
        let tag = String(UInt32.random(in: 0...0xffffff), radix: 16)
        let (x, y) = ("dsl" + tag + "x", "dsl" + tag + "y")
        try Self.sh(["/sbin/ip", "link", "add", x, "type", "veth", "peer", "name", y])
        try Self.sh(["/sbin/ip", "link", "set", x, "netns", ns])
        try Self.sh(["/sbin/ip", "link", "set", y, "netns", other.ns])
        try Self.sh(["/sbin/ip", "-n", ns, "link", "set", x, "up"])
        try Self.sh(["/sbin/ip", "-n", other.ns, "link", "set", y, "up"])
        try Self.sh(["/sbin/ip", "-n", ns, "route", "add", other.address + "/32", "dev", x, "src", address])
        try Self.sh(["/sbin/ip", "-n", other.ns, "route", "add", address + "/32", "dev", y, "src", other.address])
    }

    /// Cuts the host off this machine (its link goes down), or brings it back.
    func cut(_ down: Bool) throws { try Self.sh(["/sbin/ip", "link", "set", veth, down ? "down" : "up"]) }

    /// Stops the ssh masters whose command line names `masters` (dsdeploy leaves them running,
    /// ControlPersist), then sshd.
    func stopSSHD(masters: String) {
        _ = try? runProcess("/usr/bin/pkill", ["-f", masters], environment: [:], cwd: "/")
        guard sshd > 0 else { return }
        _ = try? runProcess("/usr/bin/pkill", ["-P", String(sshd)], environment: [:], cwd: "/")
        kill(sshd, SIGTERM)
        var status: Int32 = 0
        _ = waitpid(sshd, &status, 0)
        sshd = 0
    }

    /// Removes the veth pair and the namespace.
    func remove() {
        _ = try? runProcess("/sbin/ip", ["link", "del", veth], environment: [:], cwd: "/")
        _ = try? runProcess("/sbin/ip", ["netns", "del", ns], environment: [:], cwd: "/")
    }
}
