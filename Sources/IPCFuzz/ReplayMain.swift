#if !BULKHEAD_LIBFUZZER
import Foundation

/// A plain build (no libFuzzer) replays the given inputs, e.g. a crash artifact,
/// through the same checks, so a finding can be debugged without the sanitizer.
@main
enum Replay {
    static func main() {
        let paths = CommandLine.arguments.dropFirst()
        guard !paths.isEmpty else {
            print("usage: IPCFuzz FILE...   (the fuzzer itself: make fuzz)")
            return
        }
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path), let selector = data.first else {
                print("\(path): unreadable or empty")
                continue
            }
            let target = FuzzTarget(selector: selector)
            let decoded = target.check(ArraySlice(data.dropFirst()))
            print("\(path): \(target), \(decoded ? "decoded and round-tripped" : "refused")")
        }
    }
}
#endif
