import ArgumentParser
import CFDPass
import Config
import Foundation
import IPC
import Logging
import NIOPosix

struct NetwatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netwatch", abstract: "Tools of the netwatch service.", subcommands: [NetwatchPlanCommand.self])
}

/// `bulkhead-agent netwatch plan`: the rules the running containers would produce,
/// exactly as the helper would write them, without applying anything.
struct NetwatchPlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Print the netfilter rules the current containers would produce (dry run).",
        discussion: """
            Reads the containers from the runtime API (connecting to it directly, so run \
            it as a user who may), derives the rules exactly as the service does, and \
            prints them in iptables-save form with the helper's chain names. Nothing is \
            applied. Label problems are listed, naming the container.

            Settings come from the netwatch: section of --config (if it exists), then the \
            original daemon's environment variables (WATCH_NETWORK, ...), then these flags.

            Example:
              bulkhead-agent netwatch plan -runtime-api /var/run/docker.sock -watch-network internal
            """)

    @Option(name: .original("config"), help: ArgumentHelp("Bulkhead config file.", valueName: "file"))
    var config = "/etc/bulkhead/bulkhead.yaml"

    @Option(name: .original("runtime-api"), help: "Docker/Podman API socket (default: auto-detect).")
    var runtimeAPI: String?
    @Option(name: .original("watch-network"), help: "Network to watch (default: bridge).")
    var watchNetwork: String?
    @Option(name: .original("watch-container-label"),
            help: "Label that must be true on containers (default: network.enable).")
    var watchContainerLabel: String?
    @Option(name: .original("iptables-mangle-mark-published-ports"),
            help: "Mark for replies from published ports (default: disabled).", transform: { try PacketMark(parsing: $0) })
    var mark: PacketMark?
    @Option(name: .original("iptables-dnat-ports-label"),
            help: "Label listing DNAT ports (default: network.dnat.ports).")
    var dnatPortsLabel: String?

    func run() async throws {
        var settings = try loadSettings()
        if let runtimeAPI { settings.runtimeAPI = runtimeAPI }
        if let watchNetwork { settings.watchNetwork = watchNetwork }
        if let watchContainerLabel { settings.watchContainerLabel = watchContainerLabel }
        if let mark { settings.iptablesMangleMarkPublishedPorts = mark }
        if let dnatPortsLabel { settings.iptablesDnatPortsLabel = dnatPortsLabel }
        var config = BulkheadConfig()
        config.netwatch = settings
        let problems = ConfigValidator.problems(in: config)
        guard problems.isEmpty else { throw ValidationError(problems.joined(separator: "\n")) }
        let environment = ProcessInfo.processInfo.environment
        guard let socket = settings.runtimeAPI.isEmpty ? RuntimeAPI.detectSocket(environment: environment) : settings.runtimeAPI else {
            throw ValidationError("no Docker or Podman socket found; give -runtime-api")
        }
        let group = MultiThreadedEventLoopGroup.singleton
        let runtime = RuntimeAPI(connect: {
            let fd = bh_connect_unix(socket)
            guard fd >= 0 else { throw ValidationError("cannot connect to \(socket): \(String(cString: strerror(errno)))") }
            return fd
        }, group: group, logger: Logger(label: "netwatch"))
        try AgentSandbox.install()
        let containers = try await runtime.listContainers(
            network: settings.watchNetwork, label: settings.watchContainerLabel, imageLabels: !settings.trustImageLabels)
        let desired = DesiredRules.compute(containers, settings: settings)
        print("# \(containers.count) container(s) on \(settings.watchNetwork) with \(settings.watchContainerLabel)=true, via \(socket)")
        for container in containers.sorted(by: { $0.name < $1.name }) {
            print("#   \(container.name) \(container.id.prefix(12)) \(container.ipv4 ?? "no IPv4")")
        }
        print(Self.render(desired.sets, settings: settings), terminator: "")
        if !desired.problems.isEmpty {
            print("# problems:")
            for problem in desired.problems { print("#   \(problem)") }
        }
    }

    private func loadSettings() throws -> NetwatchSection {
        guard FileManager.default.fileExists(atPath: config) else { return NetwatchSection() }
        return try ConfigLoader.load(file: config, environment: ProcessInfo.processInfo.environment).netwatch ?? NetwatchSection()
    }

    /// iptables-save form, table by table, as the helper would write it.
    static func render(_ sets: [ContainerRuleSet], settings: NetwatchSection) -> String {
        var out = ""
        for table in NetfilterLayout.Table.allCases {
            var lines: [String] = []
            for parent in NetfilterLayout.containerParents where parent.table == table {
                lines.append("-A \(parent.hooks[0]) -j \(parent.chain)")
                for set in sets {
                    for (p, chainLines) in NetfilterLayout.chains(for: set, dnatInInterface: settings.dnatInInterface) where p.chain == parent.chain {
                        lines.append(NetfilterLayout.jump(from: parent.chain, to: NetfilterLayout.childChain(parent, set.key)))
                        lines += chainLines
                    }
                }
            }
            out += "*\(table.rawValue)\n" + lines.map { $0 + "\n" }.joined() + "COMMIT\n"
        }
        return out
    }
}
