import IPC

/// Reads the tables (`iptables-save`, `ip6tables-save`) and applies the renderer's
/// plan for each family through the executor.
struct I2PRuleApplier {
    let executor: NetfilterExecutor
    let renderer: I2PRuleRenderer

    /// Makes the chains match `endpoints` (`present`) or removes them. Returns a summary.
    func apply(_ endpoints: [I2PEndpoint], present: Bool) throws(Refusal) -> String {
        var written = 0, unchanged = 0, removed = 0
        let families: [(String, [I2PRuleRenderer.Chain], NetfilterExecutor.Command, (String) -> NetfilterExecutor.Command)] = [
            ("iptables", I2PRuleRenderer.v4, .save, { .restore(input: $0) }),
            ("ip6tables", I2PRuleRenderer.v6, .save6, { .restore6(input: $0) }),
        ]
        for (program, chains, save, restore) in families {
            let saved = try run(save)
            guard saved.succeeded else { throw Refusal(.systemError, "\(program)-save failed: \(saved.output.prefix(400))") }
            let plan = renderer.plan(chains, endpoints: endpoints, present: present, saved: saved.output)
            written += plan.written; unchanged += plan.unchanged; removed += plan.removed
            guard let input = plan.input else { continue }
            let result = try run(restore(input))
            guard result.succeeded else {
                throw Refusal(.systemError, "\(program)-restore refused the i2p chains: \(result.output.trimmingCharacters(in: .whitespacesAndNewlines).prefix(600))")
            }
        }
        return "chains_written=\(written) chains_unchanged=\(unchanged) chains_removed=\(removed)"
    }

    private func run(_ command: NetfilterExecutor.Command) throws(Refusal) -> NetfilterExecutor.Result {
        do { return try executor.run(command) } catch { throw Refusal(.systemError, "the netfilter executor is gone: \(error)") }
    }
}
