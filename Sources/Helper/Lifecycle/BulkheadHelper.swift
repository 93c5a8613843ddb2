import ArgumentParser
import LogSetup

@main
struct BulkheadHelper: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bulkhead-helper",
        abstract: "The privileged half of Bulkhead: binds, connects and (later) configures the network for the agent.",
        discussion: """
            Start it as root. Before any thread exists it forks an unprivileged spawner \
            that runs bulkhead-agent as agent.user, then drops to helper.user keeping \
            only CAP_CHOWN, CAP_DAC_OVERRIDE and CAP_NET_BIND_SERVICE, sets no_new_privs and \
            installs a seccomp allow-list that kills the process on anything else. \
            From then on it only answers the agent's typed requests on a socketpair.

            Config precedence: --set flags, then BULKHEAD_SECTION__KEY environment \
            variables, then the file, then defaults.

            Examples:
              bulkhead-helper --config /etc/bulkhead/bulkhead.yaml
              bulkhead-helper check-config --config bulkhead.yaml --set router.listen=/run/bh.sock
              bulkhead-helper audit-sandbox --config bulkhead.yaml
              bulkhead-helper cleanup --dry-run
            """,
        version: BulkheadVersion.line,
        subcommands: [RunHelper.self, CheckConfig.self, AuditSandbox.self, Cleanup.self],
        defaultSubcommand: RunHelper.self)
}
