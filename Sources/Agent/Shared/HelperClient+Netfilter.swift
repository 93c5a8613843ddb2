import IPC

extension HelperClient {
    /// Sends the sets in frames that fit, then commits them as one batch. Returns the
    /// helper's summary ("written=1 removed=0 unchanged=999"). A refusal anywhere
    /// leaves the tables as they were.
    func applyNetfilter(_ sets: [ContainerRuleSet], mode: NetfilterCommitMode) throws -> String {
        for batch in ContainerRuleSet.stagePayloads(sets) { _ = try call(.netfilterStage(sets: batch)) }
        return String(decoding: try call(.netfilterCommit(mode: mode)).0, as: UTF8.self)
    }

    /// Applies the policy routing of the helper's config; returns its summary.
    func applyPolicyRouting() throws -> String {
        String(decoding: try call(.policyRoutingApply).0, as: UTF8.self)
    }
}
