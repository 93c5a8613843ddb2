import IPC

/// The helper's i2p link intents, as the plugin uses them (blocking calls: never
/// from an event loop).
protocol I2PLinkControl: Sendable {
    func linkUp(_ endpoint: I2PEndpoint) throws
    func linkDown(_ key: EndpointKey) throws
    func converge(_ endpoints: [I2PEndpoint], keepBase: Bool) throws
}

extension HelperClient: I2PLinkControl {
    func linkUp(_ endpoint: I2PEndpoint) throws { _ = try call(.i2pLinkUp(endpoint: endpoint)) }
    func linkDown(_ key: EndpointKey) throws { _ = try call(.i2pLinkDown(key: key)) }
    func converge(_ endpoints: [I2PEndpoint], keepBase: Bool) throws { _ = try call(.i2pConverge(endpoints: endpoints, keepBase: keepBase)) }
}
