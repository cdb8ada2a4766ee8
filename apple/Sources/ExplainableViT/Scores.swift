import Foundation

/// A class with its probability.
public struct ScoredLabel: Equatable, Sendable {
    public let index: Int
    public let label: String
    public let probability: Float
}

public enum Scores {
    /// Softmax of logits `(C,)`, max-subtracted and summed in Double: probabilities that sum to 1.
    public static func softmax(_ logits: [Float]) -> [Float] {
        guard let top = logits.max() else { return [] }
        let e = logits.map { exp(Double($0) - Double(top)) }
        let total = e.reduce(0, +)
        return e.map { Float($0 / total) }
    }

    /// The `k` most likely classes, most likely first (ties: the lower index first).
    public static func topK(_ probabilities: [Float], labels: [String], k: Int) -> [ScoredLabel] {
        let order = probabilities.indices.sorted { a, b in
            probabilities[a] != probabilities[b] ? probabilities[a] > probabilities[b] : a < b
        }
        return order.prefix(max(0, k)).map { ScoredLabel(index: $0, label: labels[$0], probability: probabilities[$0]) }
    }

    /// A classifier's label -> probability dictionary (Core ML's `classLabel_probs`) in label order.
    public static func ordered(_ byLabel: [String: Double], labels: [String]) throws -> [Float] {
        let missing = labels.filter { byLabel[$0] == nil }
        guard missing.isEmpty else {
            throw ExplainableViTError.output(name: "classLabel_probs", problem: "no probability for \(missing.joined(separator: ", "))")
        }
        return labels.map { Float(byLabel[$0]!) }
    }
}
