import Foundation
import IPC

/// The DNAT ports label: "80,443/tcp,53/udp" (tcp when no protocol is given).
enum PortLabel {
    struct Problem: Error, CustomStringConvertible { let description: String }

    static func parse(_ text: String) throws(Problem) -> [(port: UInt16, proto: NetProtocol)] {
        var ports: [(UInt16, NetProtocol)] = []
        for raw in text.split(separator: ",", omittingEmptySubsequences: false) {
            let item = raw.trimmingCharacters(in: .whitespaces)
            guard !item.isEmpty else { throw Problem(description: "empty entry in \(text.debugDescription)") }
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw Problem(description: "\(item.debugDescription) is not PORT or PORT/PROTOCOL") }
            guard let port = Int(parts[0]), (1...65535).contains(port) else {
                throw Problem(description: "port \(String(parts[0]).debugDescription) is not 1...65535")
            }
            let proto: NetProtocol
            if parts.count == 2 {
                guard let p = NetProtocol(name: String(parts[1])) else { throw Problem(description: "protocol \(String(parts[1]).debugDescription) is not tcp or udp") }
                proto = p
            } else {
                proto = .tcp
            }
            if !ports.contains(where: { $0.0 == UInt16(port) && $0.1 == proto }) { ports.append((UInt16(port), proto)) }
        }
        guard ports.count <= 64 else { throw Problem(description: "more than 64 ports") }
        return ports
    }
}
