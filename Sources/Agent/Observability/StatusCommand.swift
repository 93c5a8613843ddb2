import ArgumentParser
import Config
import Foundation
import NIOPosix

/// `bulkhead-agent status`: asks the running agent how each service is.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Ask the running agent how each service is: checks, facts, and for how long.",
        discussion: """
            Reads GET /status from the agent's observability listener (metrics.listen of \
            --config, or --listen). Each service is ok, failing or starting; each check \
            says its state, why it fails, and since when:

              bulkhead 0.5.0 (revision 5162b07), pid 4242, up 2h07m: FAILING: ssh
              router    ok for 2h07m  (open_connections=3)
                listener: listening for 2h07m
              ssh       FAILING for 12s  (channels_active=0)
                link prod: down for 12s: connection refused

            Exit status: 0 when every service is ok, 1 when one is failing or starting, \
            2 when the agent cannot be asked. /healthz on the same listener gives the same \
            verdict to load balancers and probes (200 or 503 naming the failing services).

            Examples:
              bulkhead-agent status
              bulkhead-agent status --format json | jq '.services[] | select(.healthy | not)'
              bulkhead-agent status --listen 127.0.0.1:9741
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Option(help: "text (one line per service and check) or json (the /status document).")
    var format: Format = .text
    @Option(help: ArgumentHelp("Bulkhead config file, for metrics.listen.", valueName: "file"))
    var config = "/etc/bulkhead/bulkhead.yaml"
    @Option(help: ArgumentHelp("The agent's observability listener (ADDRESS:PORT or a socket path); overrides --config.", valueName: "address"),
            transform: { try MetricsAddress(parsing: $0) })
    var listen: MetricsAddress?
    @Option(help: ArgumentHelp("Seconds to wait for the answer.", valueName: "seconds"))
    var timeout: Double = 5

    func validate() throws {
        guard timeout > 0, timeout <= 300 else { throw ValidationError("--timeout must be more than 0 and at most 300 seconds") }
    }

    func run() async throws {
        // Before the filter: creating an event loop needs calls it forbids (epoll_create).
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        try AgentSandbox.install()
        let address = try listen ?? configuredListen()
        let answer: (status: UInt, body: [UInt8])
        do {
            answer = try await StatusClient(listen: address, group: group).get("/status", timeout: .milliseconds(Int(timeout * 1000)))
        } catch {
            FileHandle.standardError.write(Data("bulkhead-agent status: \(error)\n".utf8))
            throw ExitCode(2)
        }
        guard answer.status == 200, let document = try? StatusDocument.decode(answer.body) else {
            FileHandle.standardError.write(Data("bulkhead-agent status: \(address) answered \(answer.status), not a status document\n".utf8))
            throw ExitCode(2)
        }
        print(format == .json ? String(decoding: answer.body, as: UTF8.self) : document.text())
        if !document.healthy { throw ExitCode(1) }
    }

    private func configuredListen() throws -> MetricsAddress {
        guard FileManager.default.fileExists(atPath: config) else {
            throw ValidationError("\(config) does not exist; give --config or --listen")
        }
        let loaded = try ConfigLoader.load(file: config, environment: ProcessInfo.processInfo.environment)
        guard let metrics = loaded.enabledMetrics else {
            throw ValidationError("\(config) has no enabled metrics: section, so the agent serves no status; add one (config/bulkhead.example.yaml)")
        }
        return metrics.listen
    }
}
