import IPC

/// (b) The netfilter stage decoder on its own reader: the bytes it consumes must
/// be exactly the re-encoding of the sets it returns, and those decode again equal.
enum StageRoundTrip {
    static func check(_ input: ArraySlice<UInt8>) -> Bool {
        var reader = WireReader(input)
        guard let sets = try? ContainerRuleSet.decodeList(&reader) else { return false }
        var writer = WireWriter()
        ContainerRuleSet.encode(sets, &writer)
        require(writer.bytes.elementsEqual(input.dropLast(reader.remaining)), "stage of \(sets.count) sets re-encodes differently")
        var again = WireReader(writer.bytes[...])
        require((try? ContainerRuleSet.decodeList(&again)) == sets && again.remaining == 0,
                "stage of \(sets.count) sets decodes differently after re-encoding")
        return true
    }
}
