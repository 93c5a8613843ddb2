/// Which of netwatch's labels a container may use. The runtime reports the image's
/// labels merged with the container's own, and whoever publishes an image chooses its
/// labels: a label whose value only repeats the image's is not the operator's choice,
/// so it is ignored unless `netwatch.trust_image_labels` is set. An operator who passes
/// exactly the image's value (`--label network.enable=true` on such an image) cannot be
/// told apart from the image, and is ignored too.
enum LabelTrust {
    struct Verdict: Equatable {
        /// The labels without the ignored ones.
        var labels: [String: String]
        /// Keys of `keys` that were ignored, in the order of `keys`.
        var ignored: [String]
    }

    /// `imageLabels` nil: the image could not be inspected, so no label of `keys` can
    /// be told apart from it, and all of them are ignored (fail closed).
    static func verdict(_ labels: [String: String], imageLabels: [String: String]?, keys: [String]) -> Verdict {
        var kept = labels, ignored: [String] = []
        for key in keys where !ignored.contains(key) {
            guard let value = labels[key] else { continue }
            if let imageLabels, imageLabels[key] != value { continue }
            kept[key] = nil
            ignored.append(key)
        }
        return Verdict(labels: kept, ignored: ignored)
    }

    /// Why the labels were ignored, for the once-per-container label problem.
    static func describe(_ ignored: [String], image: String, known: Bool) -> String {
        let id = image.split(separator: ":").last.map { String($0.prefix(12)) } ?? ""
        let names = ignored.joined(separator: ", ")
        return known
            ? "label(s) \(names) only repeat image \(id)'s own labels; ignored (netwatch.trust_image_labels is false)"
            : "image \(id.isEmpty ? "(none)" : id) cannot be inspected, so label(s) \(names) may be the image's; ignored"
    }
}
