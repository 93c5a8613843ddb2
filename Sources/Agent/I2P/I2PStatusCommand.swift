import ArgumentParser
import Config
import Foundation

struct I2PCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "i2p", abstract: "Tools of the i2p service.", subcommands: [I2PStatusCommand.self])
}

/// `bulkhead-agent i2p status`: what the running agent last wrote to status.json.
struct I2PStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show each container on a bulkhead-i2p network, its .b32.i2p addresses and their sessions.",
        discussion: """
            The running agent rewrites <state_dir>/status.json whenever an endpoint or a \
            session changes; this command reads it (so it works as any user who may read \
            the state directory, usually root or agent.user) and prints one line per container:

              web: 80/tcp -> <52 chars>.b32.i2p (up); outbound <52 chars>.b32.i2p (up)

            Each exposed TCP port has its own address (i2pd allows one acceptor per \
            destination); the outbound address is the one peers see when the container \
            connects out, and is not linkable to its services. Session states: starting, \
            up, retrying (with the reason), stopped.

            The state directory is --state-dir, else i2p.state_dir of --config, else \
            /var/lib/bulkhead/i2p.

            Examples:
              bulkhead-agent i2p status
              bulkhead-agent i2p status --format json | jq '.containers[].outbound.address'
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Option(help: "text (one line per container) or json (the file as written).")
    var format: Format = .text
    @Option(name: .customLong("state-dir"), help: ArgumentHelp("The i2p state directory.", valueName: "dir"))
    var stateDir: String?
    @Option(help: ArgumentHelp("Bulkhead config file (for i2p.state_dir).", valueName: "file"))
    var config = "/etc/bulkhead/bulkhead.yaml"

    static let defaultStateDir = "/var/lib/bulkhead/i2p"

    /// No status to show (printed without the usage text a ValidationError brings).
    struct Unreadable: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    func run() throws {
        try AgentSandbox.install()
        let directory = try stateDir ?? configuredStateDir()
        let path = directory + "/status.json"
        let bytes: [UInt8]
        do {
            guard let read = try AtomicFile.read(path, limit: 16 << 20) else {
                throw Unreadable("\(path) does not exist: is the agent running with the i2p: section enabled? (or give --state-dir)")
            }
            bytes = read
        } catch let failure as AtomicFile.Failure {
            throw Unreadable("\(failure) (run as root or as agent.user, or give --state-dir)")
        }
        let status: I2PStatus
        do { status = try JSONDecoder().decode(I2PStatus.self, from: Data(bytes)) } catch {
            throw Unreadable("\(path) is not a status file: \(error)")
        }
        print(format == .json ? String(decoding: status.json(), as: UTF8.self) : status.text(), terminator: "")
    }

    private func configuredStateDir() throws -> String {
        guard FileManager.default.fileExists(atPath: config) else { return Self.defaultStateDir }
        let loaded = try ConfigLoader.load(file: config, environment: ProcessInfo.processInfo.environment)
        return loaded.i2p?.stateDir ?? Self.defaultStateDir
    }
}
