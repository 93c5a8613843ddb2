import IPC
import XCTest

/// netfilterStage / netfilterCommit against the real, sandboxed helper and real
/// iptables (nft backend), in a private network namespace.
final class NetfilterIntentTests: NetfilterTestCase {
    func testReplaceAllWritesExactlyTheDesiredChains() throws {
        let sets = [sample(1), sample(2)]
        XCTAssertTrue(try commit(sets, .replaceAll).contains("written=6"))
        XCTAssertEqual(try ownedLines(), expected(sets))
        XCTAssertTrue(try ownedLines().contains("-A BHN-000000000001 -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 18001 -j DNAT --to-destination 10.9.0.1:80"),
                      "DNAT only what is addressed to the host itself")
        XCTAssertTrue(try commit(sets, .replaceAll).contains("written=0 removed=0 unchanged=6"), "a repeat writes nothing")
        XCTAssertEqual(try ownedLines(), expected(sets), "no duplicate")
    }

    func testIncrementalChangeWritesOnlyThatContainer() throws {
        try commit([sample(1), sample(2)], .replaceAll)
        let summary = try commit([sample(3)], .changes)
        XCTAssertTrue(summary.contains("written=3 removed=0") && summary.contains("read_tables=false"), summary)
        XCTAssertEqual(try ownedLines(), expected([sample(1), sample(2), sample(3)]))
        try commit([ContainerRuleSet(key: key(2), rules: [])], .changes)
        XCTAssertEqual(try ownedLines(), expected([sample(1), sample(3)]))
        XCTAssertFalse(try save().contains("000000000002"), "the removed container's chains are deleted, not just emptied")
    }

    func testReplaceAllRemovesContainersNotListed() throws {
        try commit([sample(1), sample(2), sample(3)], .replaceAll)
        try commit([sample(2)], .replaceAll)
        XCTAssertEqual(try ownedLines(), expected([sample(2)]))
    }

    func testHandFlushAndStrayDuplicatesConvergeOnTheNextFullCommit() throws {
        try commit([sample(1), sample(2)], .replaceAll)
        try inNetns("iptables", "-t", "nat", "-F", "BULKHEAD-DNAT")          // as a firewall reload would
        try inNetns("iptables", "-F", "BHF-000000000001")
        try inNetns("iptables", "-t", "mangle", "-A", "PREROUTING", "-j", "BULKHEAD-MARK")  // a duplicate hook
        try commit([sample(1), sample(2)], .replaceAll)
        XCTAssertEqual(try ownedLines(), expected([sample(1), sample(2)]))
    }

    func testChangedRulesOfAContainerReplaceTheOldOnes() throws {
        try commit([sample(1)], .replaceAll)
        let changed = ContainerRuleSet(key: key(1), rules: [.forward(.udp, to: ip("10.9.0.1"), port: 53)])
        try commit([changed], .changes)
        let lines = try ownedLines()
        XCTAssertEqual(lines, ["-A BHF-000000000001 -d 10.9.0.1/32 -p udp -m udp --dport 53 -j ACCEPT",
                               "-A BULKHEAD-FWD -j BHF-000000000001", "-A FORWARD -j BULKHEAD-FWD",
                               "-A PREROUTING -j BULKHEAD-DNAT", "-A PREROUTING -j BULKHEAD-MARK"].sorted())
    }

    func testExecutorHoldsOnlyTheNetworkCapabilitiesAndTheHelperNone() throws {
        func status(_ pid: String) throws -> [String: String] {
            var fields: [String: String] = [:]
            for line in try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8).split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
            }
            return fields
        }
        let helperStatus = try status("\(helper.pid)")
        XCTAssertEqual(helperStatus["CapEff"], "0000000000000403", "the helper itself does not gain CAP_NET_ADMIN")
        let children = try Self.sh("/usr/bin/pgrep", "-P", "\(helper.pid)").split(separator: "\n").map(String.init)
        XCTAssertEqual(children.count, 1, "exactly one child: the executor")
        let executor = try status(children[0])
        XCTAssertEqual(executor["CapEff"], "0000000000003000", "CAP_NET_ADMIN|CAP_NET_RAW only")
        XCTAssertEqual(executor["CapPrm"], "0000000000003000")
        XCTAssertEqual(executor["CapBnd"], "0000000000003000", "nothing more even for programs it runs")
        XCTAssertEqual(executor["CapAmb"], "0000000000003000", "what it runs gets the same two, as a non-root uid")
        XCTAssertEqual(executor["NoNewPrivs"], "1")
        let netfilterUID = try XCTUnwrap(TestFixture.uid(of: "bulkhead-netfilter"))
        XCTAssertEqual(executor["Uid"]?.split(separator: "\t").map(String.init), Array(repeating: String(netfilterUID), count: 4), "never uid 0")
        XCTAssertEqual(executor["Groups"], "", "no supplementary groups")
    }

    // MARK: refusals: nothing is applied

    func testMarkOtherThanTheConfiguredOneDiscardsTheWholeBatch() throws {
        try commit([sample(1)], .replaceAll)
        let (ok, _) = try helper.call(.netfilterStage(sets: [sample(2)]))
        XCTAssertEqual(ok, .ok(payload: []))
        let rogue = ContainerRuleSet(key: key(3), rules: [.mark(.tcp, from: ip("10.9.0.3"), port: 22, mark: 0x66)])
        assertRefused(try helper.call(.netfilterStage(sets: [rogue])), .policyRefused)
        XCTAssertTrue(try commit([], .changes).hasPrefix("written=0 removed=0"))
        XCTAssertEqual(try ownedLines(), expected([sample(1)]), "neither the rogue set nor the one staged before it was applied")
    }

    func testMalformedStagesAreRefused() throws {
        func stage(_ body: (inout WireWriter) -> Void) throws -> (Reply, Int32) {
            var w = WireWriter()
            body(&w)
            return try helper.callRaw(Frame(kind: .request, type: RequestType.netfilterStage.rawValue, id: 9, payload: w.bytes).encoded())
        }
        let good = IPv4Address("10.9.0.1")!.value
        let cases: [(String, (inout WireWriter) -> Void)] = [
            ("empty stage", { $0.u16(0) }),
            ("path as key", { $0.u16(1); $0.string("../../etc/x"); $0.u16(0) }),
            ("upper-case key", { $0.u16(1); $0.string("00000000000A"); $0.u16(0) }),
            ("port 0", { $0.u16(1); $0.string("000000000001"); $0.u16(1); $0.u8(2); $0.u8(6); $0.u32(good); $0.u16(0) }),
            ("protocol 99", { $0.u16(1); $0.string("000000000001"); $0.u16(1); $0.u8(2); $0.u8(99); $0.u32(good); $0.u16(80) }),
            ("loopback target", { $0.u16(1); $0.string("000000000001"); $0.u16(1); $0.u8(2); $0.u8(6); $0.u32(0x7f00_0001); $0.u16(80) }),
            ("multicast target", { $0.u16(1); $0.string("000000000001"); $0.u16(1); $0.u8(2); $0.u8(6); $0.u32(0xe000_0001); $0.u16(80) }),
            ("unknown rule kind", { $0.u16(1); $0.string("000000000001"); $0.u16(1); $0.u8(7); $0.u8(6) }),
            ("mark 0", { $0.u16(1); $0.string("000000000001"); $0.u16(1); $0.u8(3); $0.u8(6); $0.u32(good); $0.u16(80); $0.u32(0) }),
            ("too many rules", { $0.u16(1); $0.string("000000000001"); $0.u16(257) }),
            ("trailing bytes", { $0.u16(1); $0.string("000000000001"); $0.u16(0); $0.u8(1) }),
            ("truncated rule", { $0.u16(1); $0.string("000000000001"); $0.u16(1); $0.u8(1); $0.u8(6); $0.u16(80) }),
        ]
        for (name, body) in cases {
            let message = assertRefused(try stage(body), .malformed)
            XCTAssertFalse(message.isEmpty, name)
        }
        var w = WireWriter()
        w.u8(9)
        assertRefused(try helper.callRaw(Frame(kind: .request, type: RequestType.netfilterCommit.rawValue, id: 10, payload: w.bytes).encoded()), .malformed)
        assertRefused(try helper.callRaw(Frame(kind: .request, type: RequestType.policyRoutingApply.rawValue, id: 11, payload: [1]).encoded()), .malformed)
        XCTAssertTrue(try commit([], .changes).hasPrefix("written=0 removed=0"))
        XCTAssertEqual(try ownedLines().filter { !$0.hasPrefix("-A PREROUTING") && !$0.hasPrefix("-A FORWARD") }, [], "nothing of the refused stages was applied")
    }

    func testStagingIsBounded() throws {
        // 20001 containers with no rules: cheap to send, one over the limit.
        let sets = (1...20_001).map { ContainerRuleSet(key: key($0), rules: []) }
        var refused = false
        for batch in ContainerRuleSet.stagePayloads(sets) {
            let (reply, _) = try helper.call(.netfilterStage(sets: batch))
            if case .refused(let r) = reply { XCTAssertEqual(r.code, .oversized); refused = true; break }
        }
        XCTAssertTrue(refused, "more than 20000 staged containers must be refused")
        XCTAssertTrue(helper.isAlive)
    }
}

/// The intents when netwatch is not enabled, or before hello.
final class NetfilterDisabledTests: HelperSessionTestCase {
    func testNetfilterIntentsNeedNetwatchInTheHelpersConfig() throws {
        let set = ContainerRuleSet(key: ContainerKey("000000000001")!, rules: [])
        assertRefused(try helper.call(.netfilterStage(sets: [set])), .notPermittedNow)
        assertRefused(try helper.call(.netfilterCommit(mode: .replaceAll)), .notPermittedNow)
        assertRefused(try helper.call(.policyRoutingApply), .notPermittedNow)
    }
}
