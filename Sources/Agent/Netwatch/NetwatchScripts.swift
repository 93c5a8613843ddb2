import Config
import Foundation
import Logging
import NIOPosix

/// The original daemon's start-up and shutdown scripts, kept for compatibility. They
/// run as the agent's own account, with no capability: whatever they need beyond
/// that must be granted by whoever starts Bulkhead (e.g. systemd ExecStartPre=),
/// or declared in netwatch.policy_routing instead. Never run by the helper.
///
/// The agent's seccomp filter forbids starting processes, and a filter would also
/// bind every program the scripts run. So both are started before it is installed:
/// the start-up script at once, the shutdown script held by `/bin/sh` until it is
/// released with "run" on its stdin. If the agent dies first, that stdin ends and
/// the shell exits without running it, as a killed agent never ran it before either.
final class NetwatchScripts: Sendable {
    private let startup: ScriptRun?
    private let shutdown: ScriptRun?
    private let logger: Logger

    /// Call before the filter: starts the start-up script and the held shutdown script.
    init(settings: NetwatchSection, logger: Logger) {
        var environment = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        let values = [settings.runtimeAPI, settings.watchNetwork, settings.watchContainerLabel, settings.iptablesMangleMarkPublishedPorts.text,
                      settings.iptablesDnatPortsLabel, settings.startupScript, settings.shutdownScript]
        for ((variable, _), value) in zip(NetwatchSection.seedEnvironment, values) { environment[variable] = value }
        self.logger = logger
        startup = ScriptRun.start(settings.startupScript, phase: "startup", held: false, environment: environment, logger: logger)
        shutdown = ScriptRun.start(settings.shutdownScript, phase: "shutdown", held: true, environment: environment, logger: logger)
    }

    /// The processes the filtered agent may still signal (to stop a script that hangs).
    var pids: [pid_t] { [startup, shutdown].compactMap { $0?.process.processIdentifier } }

    func finishStartup() async { await startup?.finish(release: false, logger: logger) }
    func runShutdown() async { await shutdown?.finish(release: true, logger: logger) }
}

private struct ScriptRun: @unchecked Sendable {  // Process: used from one task at a time
    let process: Process
    let input: Pipe
    let output: Pipe
    let path: String
    let phase: String

    static let timeLimit: Duration = .seconds(60)
    static let holdUntilRun = #"read -r go && [ "$go" = run ] && exec "$0""#

    static func start(_ path: String, phase: String, held: Bool, environment: [String: String], logger: Logger) -> ScriptRun? {
        guard !path.isEmpty else { return nil }
        guard access(path, X_OK) == 0 else {
            logger.error("\(phase) script cannot start", metadata: ["script": "\(path)", "error": "\(String(cString: strerror(errno)))"])
            return nil
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: held ? "/bin/sh" : path)
        if held { process.arguments = ["-c", holdUntilRun, path] }
        process.environment = environment
        let run = ScriptRun(process: process, input: Pipe(), output: Pipe(), path: path, phase: phase)
        process.standardInput = run.input
        process.standardOutput = run.output
        process.standardError = run.output
        do {
            try process.run()
        } catch {
            logger.error("\(phase) script cannot start", metadata: ["script": "\(path)", "error": "\(error)"])
            return nil
        }
        return run
    }

    /// Waits for the script, bounded: one that hangs is stopped after 60 s (at once if the
    /// calling task is cancelled); its output is capped.
    func finish(release: Bool, logger: Logger) async {
        if release { input.fileHandleForWriting.write(Data("run\n".utf8)) }
        try? input.fileHandleForWriting.close()
        let run = self
        let text = await withTaskGroup(of: String?.self) { race in
            race.addTask {
                // Foundation's pipe read and wait block: on NIO's thread pool, not the cooperative one.
                try? await NIOThreadPool.singleton.runIfActive {
                    let text = String(decoding: run.output.fileHandleForReading.readDataToEndOfFile().prefix(64 * 1024), as: UTF8.self)
                    run.process.waitUntilExit()
                    return text
                }
            }
            race.addTask {
                try? await Task.sleep(for: Self.timeLimit)
                if run.process.isRunning { run.process.terminate() }
                return nil
            }
            var text: String?
            while let result = await race.next() {
                if let result { text = result }
                race.cancelAll()  // the script ended (the timer goes), or the timer stopped it (its end is awaited)
            }
            return text ?? ""
        }
        let level: Logger.Level = process.terminationStatus == 0 ? .notice : .error
        logger.log(level: level, "\(phase) script finished", metadata: [
            "script": "\(path)", "status": "\(process.terminationStatus)",
            "output": "\(text.trimmingCharacters(in: .whitespacesAndNewlines).prefix(2000))",
        ])
    }
}
