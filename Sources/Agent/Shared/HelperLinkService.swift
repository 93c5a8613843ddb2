import Logging
import ServiceLifecycle

/// Stops the agent when the helper goes away (its end of the socketpair hangs up):
/// without the helper there is no boundary. It asks the group for a graceful shutdown
/// and stays until its own turn, which comes last (it is the group's first service).
/// So a helper that closes the link as it has the agent stopped (its spawner sends
/// SIGTERM) does not make that shutdown fail, whichever the agent sees first.
struct HelperLinkService: Service {
    let fd: Int32
    let shutdown: GroupShutdown
    let logger: Logger

    func run() async {
        let hangUps = HangUpWatch.hangUps(of: fd)
        let hungUp = await cancelWhenGracefulShutdown {
            for await _ in hangUps { return true }
            return false
        }
        guard hungUp else { return }
        // On a planned stop the helper closes the link as it stops the agent, so this is
        // not alarming in itself; the helper's log says why it went.
        logger.notice("the helper closed its link; stopping the agent")
        await shutdown.request()
        try? await gracefulShutdown()
    }
}
