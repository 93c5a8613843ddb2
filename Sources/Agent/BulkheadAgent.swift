import ArgumentParser
import LogSetup

@main
struct BulkheadAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bulkhead-agent",
        abstract: "The unprivileged half of Bulkhead: runs every service, asks the helper for sockets.",
        discussion: """
            You normally never start it yourself: bulkhead-helper spawns it as agent.user \
            with no capabilities, connected by a socketpair on fd 3, and restarts it if it \
            dies. Its config arrives from the helper over that channel.

            Services (each enabled by its own config section):
              router   the system Docker socket, routed to each user's rootless daemon
              audit    a Docker socket whose log/attach streams are audited for secrets
              ssh      local Docker sockets carried over SSH to remote daemons
              netwatch container labels drive DNAT/FORWARD/MARK rules in the helper's chains
              i2p      a Docker network plugin (bulkhead-i2p) that puts each container on I2P only

            Offline tools:
              audit scan   scan a file or stdin with the audit service's secret detector
              ssh check    verify a remote: SSH, host key, authentication, daemon version
              ssh proxy    run the ssh service alone, on your own socket, without the helper
              netwatch plan  print the rules the running containers would produce
              audit-sandbox  install the agent's seccomp filter and report every thread
              i2p status   each container on a bulkhead-i2p network and its .b32.i2p addresses
              status       ask the running agent how each service is (metrics.listen)

            Every subcommand but `audit rules` runs under the agent's seccomp filter
            (security/syscalls.md) before it reads any input.
            """,
        version: BulkheadVersion.line,
        subcommands: [RunAgent.self, AuditCommand.self, SSHCommand.self, NetwatchCommand.self, AuditSandboxCommand.self, I2PCommand.self, StatusCommand.self],
        defaultSubcommand: RunAgent.self)
}
