import ArgumentParser

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

            Offline tools:
              audit scan   scan a file or stdin with the audit service's secret detector
            """,
        subcommands: [RunAgent.self, AuditCommand.self],
        defaultSubcommand: RunAgent.self)
}
