import ArgumentParser
import Config
import Foundation
import Logging
import NIOCore
import NIOPosix
import LogSetup
import ServiceLifecycle

struct SSHCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ssh", abstract: "Docker over SSH: check a remote, or run the proxy without the helper.",
        subcommands: [SSHCheckCommand.self, SSHProxyCommand.self])
}

/// `bulkhead-agent ssh check NAME`: can this remote be used, and why not.
struct SSHCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Verify a remote: SSH reachability, the host key, authentication, and the remote daemon's version.",
        discussion: """
            Connects exactly as the ssh service does (same key, known_hosts, transport \
            choice), prints each step, and exits 0 when the remote daemon answered, 1 \
            otherwise. Nothing is cached: run it after changing keys or known_hosts. \
            For a remote that works it also prints the `docker context create` line for \
            its local socket: run it once, then `docker --context bulkhead-NAME ps`.

            Examples:
              bulkhead-agent ssh check prod --config /etc/bulkhead/bulkhead.yaml
              bulkhead-agent ssh check -ssh-user deploy -ssh-host build1:22 -ssh-key ~/.ssh/id_ed25519
            """)

    @Argument(help: "Remote names from the config (all of them when none is given).")
    var names: [String] = []

    @OptionGroup var options: SSHRemoteOptions

    func run() throws {
        var failures = 0
        let remotes = try options.remotes(named: names)
        try AgentSandbox.install()  // before the first byte from an SSH server
        for remote in remotes {
            let target = remote
            print("remote \(remote.name): \(target.display) -> \(remote.remoteSocket)")
            do {
                let session = try SSHSession.connect(target)
                print("  host key:  \(session.fingerprint) (\(remote.hostKey.isEmpty ? "in \(remote.knownHosts)" : "pinned"))")
                print("  ssh:       authenticated as \(remote.sshUser) (\(remote.sshKeyPath.isEmpty ? "ssh-agent" : remote.sshKeyPath))")
                let (transport, note) = session.chooseTransport()
                print("  transport: \(transport.rawValue) (\(note))")
                print("  docker:    \(try session.daemonVersion(over: transport))")
                print("  ok")
                print("  context:   \(SSHDockerContext.createLine(for: remote))")
            } catch {
                print("  FAILED: \(error)")
                failures += 1
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }
}

/// `bulkhead-agent ssh proxy`: the ssh service on its own, for a user's own socket.
struct SSHProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Serve a local Docker socket carried over SSH to a remote daemon (no helper needed).",
        discussion: """
            One SSH connection per remote; every client connection gets its own channel \
            (direct-streamlocal to the remote socket, or `docker system dial-stdio` when \
            the server forbids streamlocal forwarding). Host keys are checked strictly. \
            Runs in the foreground until SIGTERM or SIGINT, then removes its socket.

            Example:
              bulkhead-agent ssh proxy -ssh-user deploy -ssh-host build1:22 \\
                  -ssh-key ~/.ssh/id_ed25519 -local-socket /tmp/docker-proxy.sock
              DOCKER_HOST=unix:///tmp/docker-proxy.sock docker ps
            """)

    @Argument(help: "With --config: the remotes to serve (all when none is given). Without: a name for the logs.")
    var names: [String] = []

    @OptionGroup var options: SSHRemoteOptions

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    func run() async throws {
        let remotes = try options.remotes(named: names)
        LoggingSetup.bootstrap(json: false, identifier: "bulkhead-agent", level: logLevel)
        let logger = Logger(label: "ssh")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        try AgentSandbox.install()
        let service = SSHService(remotes: remotes, helper: nil, group: group, logger: logger)
        try await AgentServices.run([.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)], group: group, logger: logger)
    }
}
