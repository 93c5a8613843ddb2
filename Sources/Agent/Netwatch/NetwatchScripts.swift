import Config
import Foundation
import Logging

/// The original daemon's start-up and shutdown scripts, kept for compatibility. They
/// run as the agent's own account, with no capability: whatever they need beyond
/// that must be granted by whoever starts Bulkhead (e.g. systemd ExecStartPre=),
/// or declared in netwatch.policy_routing instead. Never run by the helper.
enum NetwatchScripts {
    static func run(_ path: String, phase: String, settings: NetwatchSection, logger: Logger) {
        guard !path.isEmpty else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        var environment = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        let values = [settings.runtimeAPI, settings.watchNetwork, settings.watchContainerLabel, settings.iptablesMangleMarkPublishedPorts,
                      settings.iptablesDnatPortsLabel, settings.startupScript, settings.shutdownScript]
        for ((variable, _), value) in zip(NetwatchSection.seedEnvironment, values) { environment[variable] = value }
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        do {
            try process.run()
        } catch {
            logger.error("\(phase) script cannot start", metadata: ["script": "\(path)", "error": "\(error)"])
            return
        }
        // Bounded: a script that hangs is killed after 60 s; its output is capped.
        let killer = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: killer)
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile().prefix(64 * 1024), as: UTF8.self)
        process.waitUntilExit()
        killer.cancel()
        let level: Logger.Level = process.terminationStatus == 0 ? .notice : .error
        logger.log(level: level, "\(phase) script finished", metadata: [
            "script": "\(path)", "status": "\(process.terminationStatus)",
            "output": "\(text.trimmingCharacters(in: .whitespacesAndNewlines).prefix(2000))",
        ])
    }
}
