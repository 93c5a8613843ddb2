import Foundation
import Synchronization

/// The requests of one proxied connection whose responses have not begun, in
/// order (HTTP/1.1 answers in order). Shared by the two taps of one connection,
/// which run on the same splice loop thread.
final class ExchangeLog {
    struct Exchange {
        var endpoint: DockerEndpoint
        var isHead: Bool
    }

    var waiting: [Exchange] = []
    /// A response is being passed on (from its head to the end of its body).
    var answering = false
    /// The answer to a refused request: goes to the client once no response is
    /// owed or under way any more, and ends the connection.
    var refusal: [UInt8]?
    /// With an allow-list: told whether the answer to an attach or exec start
    /// hijacked the connection (then called no more).
    var hijackAnswered: ((Bool) -> Void)?

    var idle: Bool { waiting.isEmpty && !answering }

    /// The response tap finished a response.
    func responseEnded() { answering = false }
}

/// What the proxy learns from responses passing through, so that events name the
/// container by its id: exec id → container (from exec-create responses) and
/// container name → id (from inspect responses, which the CLI sends before exec).
/// Bounded: an unknown reference is reported as the client wrote it.
final class ContainerDirectory: Sendable {
    private let maps = Mutex<(execs: [String: String], names: [String: String])>(([:], [:]))

    func remember(exec: String, container: String) {
        maps.withLock { m in
            if m.execs.count > 10_000 { m.execs.removeAll() }
            m.execs[exec] = container
        }
    }

    func remember(reference: String, id: String) {
        maps.withLock { m in
            if m.names.count > 10_000 { m.names.removeAll() }
            m.names[reference] = id
        }
    }

    /// The container id for a name or id as the client wrote it.
    func id(of reference: String) -> String { maps.withLock { $0.names[reference] } ?? reference }

    func container(ofExec exec: String) -> String { maps.withLock { $0.execs[exec] } ?? exec }

    /// The "Id" of an exec-create or inspect response body.
    static func id(fromJSON body: [UInt8]) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
        return object["Id"] as? String
    }
}
