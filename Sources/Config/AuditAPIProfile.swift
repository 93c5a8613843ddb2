/// Preset API allow-lists for the audit proxy (`audit.profile`), for common clients.
/// Each is a regular expression per HTTP method, matched against the whole request
/// path (no query), with or without Docker's `/vX.Y` prefix. `audit.allow` adds to it.
public enum AuditAPIProfile: String, Codable, Sendable, CaseIterable {
    /// Monitoring (docker ps, inspect, stats, logs, events, df): reads only, and not
    /// the reads that copy files out (export, archive) or attach.
    case readOnly = "read-only"
    /// Service discovery in the style of Traefik: version, events, containers,
    /// networks and swarm services/tasks/nodes, read only.
    case discovery
    /// CI image builds: what read-only allows, plus build (BuildKit's session and gRPC
    /// streams included), pull, tag, push and image removal. No containers run.
    case ciBuild = "ci-build"

    static let version = "(/v[0-9]+\\.[0-9]+)?"

    public var allow: [String: String] {
        let v = Self.version
        let ping = "\(v)/_ping"
        switch self {
        case .readOnly:
            let reads = "\(v)/(_ping|version|info|events|system/df"
                + "|containers/json|containers/[^/]+/(json|stats|top|logs|changes)"
                + "|images/json|images/.+/(json|history)|networks(/[^/]+)?|volumes(/[^/]+)?)"
            return ["GET": reads, "HEAD": ping]
        case .discovery:
            let reads = "\(v)/(_ping|version|info|events|containers/json|containers/[^/]+/json"
                + "|networks(/[^/]+)?|services(/[^/]+)?|tasks(/[^/]+)?|nodes(/[^/]+)?)"
            return ["GET": reads, "HEAD": ping]
        case .ciBuild:
            var rules = AuditAPIProfile.readOnly.allow
            rules["POST"] = "\(v)/(build|build/prune|session|grpc|auth|images/create|images/.+/(tag|push))"
            rules["DELETE"] = "\(v)/images/.+"
            return rules
        }
    }
}
