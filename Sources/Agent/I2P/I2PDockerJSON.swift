/// What the i2p plugin reads of Docker's Engine API to learn and check the container
/// behind an endpoint: the same decoding netwatch reads its containers with.
typealias I2PDockerJSON = RuntimeJSON
