import Foundation

/// An HTTP/1.1 message head seen passing through the proxy (never modified).
struct HTTPHead {
    /// Request: method and target. Response: "" and the status code as text.
    var first: String
    var second: String
    var headers: [(name: String, value: String)]

    func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    var contentLength: UInt64? { header("Content-Length").flatMap { UInt64($0.trimmingCharacters(in: .whitespaces)) } }
    var isChunked: Bool { header("Transfer-Encoding")?.lowercased().contains("chunked") ?? false }
}

/// Collects bytes up to the blank line that ends a head, bounded, then parses it.
struct HTTPHeadReader {
    static let maxHeadSize = 64 * 1024
    private var buffer: [UInt8] = []

    enum Outcome {
        case needMore
        case head(HTTPHead, consumed: Int)
        case invalid(String)
    }

    /// Feeds bytes; on `.head`, `consumed` bytes of this call belonged to the head.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        let before = buffer.count
        buffer.append(contentsOf: bytes)
        let searchFrom = max(0, before - 3)
        guard let end = Self.blankLine(in: buffer, from: searchFrom) else {
            if buffer.count > Self.maxHeadSize { return .invalid("message head longer than \(Self.maxHeadSize) bytes") }
            return .needMore
        }
        let headBytes = buffer[..<end]
        buffer.removeAll(keepingCapacity: true)
        guard let text = String(validating: headBytes, as: UTF8.self) else { return .invalid("message head is not UTF-8") }
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard !lines.isEmpty else { return .invalid("empty message head") }
        let startLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard startLine.count >= 2 else { return .invalid("malformed start line") }
        var headers: [(String, String)] = []
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { return .invalid("malformed header line") }
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
        }
        let isResponse = startLine[0].hasPrefix("HTTP/")
        let head = HTTPHead(first: isResponse ? "" : String(startLine[0]), second: String(startLine[1]), headers: headers)
        return .head(head, consumed: end + 4 - before)
    }

    /// Index of the "\r\n\r\n" that ends the head.
    private static func blankLine(in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= 4 else { return nil }
        var i = start
        while i + 3 < bytes.count {
            if bytes[i] == 13, bytes[i + 1] == 10, bytes[i + 2] == 13, bytes[i + 3] == 10 { return i }
            i += 1
        }
        return nil
    }
}
