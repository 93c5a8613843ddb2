import ArgumentParser
import Config
import Foundation

/// Options shared by every helper subcommand.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The YAML config file.", valueName: "file"))
    var config: String = "/etc/bulkhead/bulkhead.yaml"

    @Option(name: .customLong("set"), help: ArgumentHelp(
        "Override one key, e.g. --set router.listen=/run/docker.sock (repeatable; beats BULKHEAD_* env vars and the file).",
        valueName: "section.key=value"))
    var overrides: [String] = []

    @Option(name: .long, help: "Log format on stdout: text or json (syslog always gets text).")
    var logFormat: LogFormat?

    func load() throws -> BulkheadConfig {
        var all = overrides
        if let logFormat { all.append("log_format=\(logFormat.rawValue)") }
        do {
            return try ConfigLoader.load(file: config, environment: ProcessInfo.processInfo.environment, overrides: all)
        } catch {
            throw ValidationError("config: \(error.message)")
        }
    }
}

extension LogFormat: ExpressibleByArgument {}
