#if BULKHEAD_LIBFUZZER
import Foundation

// libFuzzer's entry points (a `make fuzz` build: libFuzzer owns main).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 0 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    _ = FuzzTarget(selector: input[0]).check(ArraySlice(input.dropFirst()))
    return 0
}

/// With BULKHEAD_FUZZ_SEEDS=dir, writes the seed inputs there before fuzzing starts.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> Int32 {
    if let dir = ProcessInfo.processInfo.environment["BULKHEAD_FUZZ_SEEDS"] { Seeds.write(to: dir) }
    return 0
}
#endif
