import ArgumentParser
import Config
import Foundation
import Logging
import LogSetup
#if canImport(Glibc)
import Glibc
#endif

struct Cleanup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Remove every chain, jump, rule, link and socket Bulkhead owns (for uninstalling, or after a crash).",
        discussion: """
            For removal, not for a running system: it deletes the i2p plugin's veth links \
            (bhi + 12 hex digits), which cuts their containers off, and the firewall rules \
            that Docker containers' published ports go through. So it refuses while a \
            bulkhead-helper process is alive in this network namespace, unless --force.

            It removes, in this order: the i2p links; the i2p chains (BULKHEAD-I2P-*, IPv4 \
            and IPv6) and their jumps; netwatch's chains (BULKHEAD-DNAT, -FWD, -MARK, -MASQ, \
            BHN-/BHF-/BHM-<container>) and their jumps; the ip rules and default routes of \
            netwatch.policy_routing in the config; and the Unix sockets of the enabled \
            sections (router.listen, audit.listen, ssh local sockets, i2p.plugin_socket, \
            listeners.*.unix) when nothing listens on them. Nothing else: rp_filter stays \
            as it is (the old value died with the helper), and other rules are not touched. \
            Chains and links are recognised by name whatever the config says; sockets and \
            policy routing come from the config. Netfilter work runs through the same \
            executor as the helper's (helper.netfilter_user, CAP_NET_ADMIN, fixed programs).

            Prints one line per thing removed and a summary; a second run has nothing to do. \
            Exit status 1 if something could not be removed.

            Examples:
              bulkhead-helper cleanup --dry-run
              bulkhead-helper cleanup --config /etc/bulkhead/bulkhead.yaml
            """)

    @OptionGroup var options: ConfigOptions

    @Flag(name: .long, help: "Print what would be removed; change nothing.")
    var dryRun = false

    @Flag(name: .long, help: "Run even while a bulkhead-helper process is alive (its containers lose their links and rules).")
    var force = false

    func run() throws {
        guard geteuid() == 0 else { throw ValidationError("cleanup must run as root") }
        let config = try options.load()
        LoggingSetup.bootstrap(json: config.logFormat == .json, identifier: "bulkhead-helper", level: config.logLevel.rawValue)
        if !force, let pid = HelperProcesses.running().first {
            throw ValidationError("a bulkhead-helper process is running (pid \(pid)): stop the service first, or pass --force to remove its rules and links from under it")
        }
        guard let account = Account.named(config.helper.netfilterUser) else {
            throw ValidationError("helper.netfilter_user \(config.helper.netfilterUser) does not exist: it runs iptables and ip for cleanup too")
        }
        let executor = try NetfilterExecutor.start(as: account, logger: Logger(label: "helper.netfilter"))
        defer { executor.stop() }
        let plan: CleanupPlan
        do { plan = try CleanupPlan(config: config, executor: executor) } catch {
            throw ValidationError("cannot read the current state: \(error.message)")
        }
        for note in plan.notes { print("left: \(note)") }
        if dryRun {
            for step in plan.steps { for thing in step.removes { print("would remove \(thing)") } }
            print(plan.count == 0 ? "nothing to do" : "would remove \(plan.count) things (dry run: nothing changed)")
            return
        }
        var removed = 0, failed = 0
        for step in plan.steps {
            if let error = perform(step.action, executor) {
                failed += step.removes.count
                for thing in step.removes { print("FAILED to remove \(thing): \(error)") }
            } else {
                removed += step.removes.count
                for thing in step.removes { print("removed \(thing)") }
            }
        }
        print(plan.count == 0 ? "nothing to do" : "removed \(removed) things" + (failed > 0 ? ", \(failed) failed" : ""))
        if failed > 0 { throw ExitCode(1) }
    }

    /// nil when done, else why not.
    private func perform(_ action: CleanupPlan.Action, _ executor: NetfilterExecutor) -> String? {
        switch action {
        case .unlink(let path):
            // Probed again: something may have bound it since the plan was made.
            guard StaleSocket.probe(path) == .stale else { return "no longer a stale socket" }
            return unlink(path) == 0 ? nil : String(cString: strerror(errno))
        case .executor(let command):
            do {
                let result = try executor.run(command)
                return result.succeeded ? nil : result.output.trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                return "the netfilter executor is gone: \(error)"
            }
        }
    }
}
