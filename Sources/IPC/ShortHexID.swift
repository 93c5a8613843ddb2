/// The first 12 lowercase hex digits of a Docker or Podman id: how container and
/// endpoint keys are spelled on the wire and in chain and link names.
enum ShortHexID {
    static let length = 12

    static func isValid(_ raw: String) -> Bool {
        raw.utf8.count == length && raw.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}
