import Logging
import NIOCore
import ServiceLifecycle

/// What `RunAgent` hands every service: the link to the helper, the event loops to
/// serve on, and a logger labelled with the service's name.
struct ServiceContext: Sendable {
    let helper: HelperClient
    let group: any EventLoopGroup
    let logger: Logger
}

/// A service of the agent: it reads the helper, its event loops and its logger from
/// its context.
protocol AgentService: Service {
    var context: ServiceContext { get }
}

extension AgentService {
    var helper: HelperClient { context.helper }
    var group: any EventLoopGroup { context.group }
    var logger: Logger { context.logger }
}
