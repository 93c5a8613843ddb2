import Config
import Foundation
import IPC
import Synchronization

/// `.i2p` names ↔ addresses of `i2p.fake_pool` (Tor's VirtualAddrNetwork). A name keeps
/// its address for as long as it is kept (in `names.json`, across restarts). When all
/// `limit` addresses are taken, the one unused longest is reused only if it has been
/// idle for `reuseAfter`: a container that cached the old answer must not reach
/// another name through it. Otherwise the pool is exhausted and the query is refused.
final class FakePool: Sendable {
    static let defaultLimit = 4096
    static let defaultReuseAfter: Double = 24 * 3600
    static let fileLimit = 4 << 20

    private struct Entry: Codable {
        var name: String
        var address: String
        var lastUsed: Double
    }
    private struct State {
        var byName: [String: UInt32] = [:]
        var byAddress: [UInt32: String] = [:]
        var lastUsed: [String: Double] = [:]
    }

    let pool: IPv4Subnet
    let limit: Int
    let reuseAfter: Double
    private let path: String?
    private let now: @Sendable () -> Double
    private let state = Mutex(State())

    /// `path` nil: nothing is kept (tests). `now`: seconds since the epoch.
    init(pool: IPv4Subnet, path: String?, limit: Int = FakePool.defaultLimit, reuseAfter: Double = FakePool.defaultReuseAfter,
         now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.pool = pool
        self.limit = min(limit, Int(~pool.mask) - 1)
        self.reuseAfter = reuseAfter
        self.path = path
        self.now = now
    }

    /// Reads `names.json`; entries outside the pool or the limit are dropped.
    func load() throws(AtomicFile.Failure) {
        guard let path, let bytes = try AtomicFile.read(path, limit: Self.fileLimit) else { return }
        guard let entries = try? JSONDecoder().decode([Entry].self, from: Data(bytes)) else {
            throw AtomicFile.Failure(description: "\(path) is not a list of names and addresses")
        }
        state.withLock { s in
            for e in entries {
                guard let a = IPv4Address(e.address), let offset = offset(a.value), offset <= limit,
                      s.byName[e.name] == nil, s.byAddress[a.value] == nil else { continue }
                s.byName[e.name] = a.value; s.byAddress[a.value] = e.name; s.lastUsed[e.name] = e.lastUsed
            }
        }
    }

    /// The address of `name` (lowercase), assigning one if needed; nil when exhausted
    /// (or when the new mapping cannot be kept on disk: `error` says which).
    func address(for name: String) throws(AtomicFile.Failure) -> IPv4Address? {
        let t = now()
        return try state.withLock { (s) throws(AtomicFile.Failure) -> IPv4Address? in
            if let value = s.byName[name] {
                s.lastUsed[name] = t
                return IPv4Address(value)
            }
            var value: UInt32
            if s.byName.count < limit {
                guard let free = (1...UInt32(limit)).first(where: { s.byAddress[pool.network + $0] == nil }) else { return nil }
                value = pool.network + free
            } else {
                guard let (oldest, used) = s.lastUsed.min(by: { $0.value < $1.value }), t - used >= reuseAfter,
                      let old = s.byName.removeValue(forKey: oldest) else { return nil }
                s.lastUsed[oldest] = nil
                s.byAddress[old] = nil
                value = old
            }
            s.byName[name] = value; s.byAddress[value] = name; s.lastUsed[name] = t
            try save(s)
            return IPv4Address(value)
        }
    }

    /// The name behind a fake address, if it is one.
    func name(for address: IPv4Address) -> String? {
        let t = now()
        return state.withLock { s in
            guard let name = s.byAddress[address.value] else { return nil }
            s.lastUsed[name] = t
            return name
        }
    }

    var count: Int { state.withLock { $0.byName.count } }

    private func offset(_ value: UInt32) -> Int? {
        guard pool.contains(value) else { return nil }
        let o = Int(value - pool.network)
        return o >= 1 && o < Int(~pool.mask) ? o : nil
    }

    private func save(_ s: State) throws(AtomicFile.Failure) {
        guard let path else { return }
        let entries = s.byName.sorted { $0.value < $1.value }.map {
            Entry(name: $0.key, address: IPv4Address($0.value)?.description ?? "", lastUsed: s.lastUsed[$0.key] ?? 0)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(Array((try? encoder.encode(entries)) ?? Data("[]".utf8)), to: path)
    }
}
