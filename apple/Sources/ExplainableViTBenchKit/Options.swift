import ExplainableViT

/// `explainable-vit-bench`'s command line, parsed without Foundation's argument machinery.
public struct BenchOptions: Equatable, Sendable {
    public enum Mode: Equatable, Sendable {
        case postprocess
        case model(path: String)
    }

    public static let usage = """
        usage: explainable-vit-bench MODEL.mlpackage|MODEL.mlmodelc [--compute-units cpu,cpu+gpu,cpu+ne,all] [--runs N] [--warmup N] [--json OUT.json]
               explainable-vit-bench --postprocess [--reference] [--photo 4032x3024] [--grid 14x14] [--max-side 2048] [--runs N] [--warmup N] [--json OUT.json]
        """

    public var mode: Mode = .postprocess
    public var computeUnits: [ComputeUnits] = ComputeUnits.allCases
    public var runs = 20
    public var warmup = 3
    public var json: String?
    public var postprocess = PostprocessBench()

    public init() {}

    /// A command line that cannot run: printed with the usage, exit status 2.
    public struct Problem: Error, CustomStringConvertible, Equatable {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public static func parse(_ arguments: [String]) throws -> BenchOptions {
        var options = BenchOptions(), model: String?, postprocessMode = false, rest = arguments[...]
        func value(_ flag: String) throws -> String {
            guard let v = rest.popFirst() else { throw Problem(description: "\(flag) needs a value") }
            return v
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--postprocess": postprocessMode = true
            case "--reference": options.postprocess.reference = true
            case "--compute-units": options.computeUnits = try units(try value(argument))
            case "--runs": options.runs = try count(try value(argument), argument, minimum: 1)
            case "--warmup": options.warmup = try count(try value(argument), argument, minimum: 0)
            case "--json": options.json = try value(argument)
            case "--max-side": options.postprocess.maxSide = try count(try value(argument), argument, minimum: 1)
            case "--photo": (options.postprocess.photoWidth, options.postprocess.photoHeight) = try size(try value(argument), argument)
            case "--grid": (options.postprocess.gridRows, options.postprocess.gridColumns) = try size(try value(argument), argument)
            case let flag where flag.hasPrefix("-"): throw Problem(description: "unknown option \(flag)")
            default:
                guard model == nil else { throw Problem(description: "one model at a time (got \(model!) and \(argument))") }
                model = argument
            }
        }
        switch (postprocessMode, model) {
        case (true, nil): options.mode = .postprocess
        case (false, let path?): options.mode = .model(path: path)
        case (true, _?): throw Problem(description: "--postprocess times the core without a model: give one or the other")
        case (false, nil): throw Problem(description: "give a model (.mlpackage or .mlmodelc) or --postprocess")
        }
        options.postprocess.runs = options.runs
        options.postprocess.warmup = options.warmup
        return options
    }

    static func units(_ text: String) throws -> [ComputeUnits] {
        let names = text.split(separator: ",").map(String.init)
        let unknown = names.filter { ComputeUnits(rawValue: $0) == nil }
        guard unknown.isEmpty, !names.isEmpty else {
            throw Problem(description: "unknown compute units \(unknown.joined(separator: ", ")); known: "
                          + ComputeUnits.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return names.compactMap(ComputeUnits.init(rawValue:))
    }

    static func count(_ text: String, _ flag: String, minimum: Int) throws -> Int {
        guard let n = Int(text), n >= minimum else { throw Problem(description: "\(flag) takes a whole number >= \(minimum), got '\(text)'") }
        return n
    }

    static func size(_ text: String, _ flag: String) throws -> (Int, Int) {
        let parts = text.split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts.allSatisfy({ $0 > 0 }) else { throw Problem(description: "\(flag) takes AxB, e.g. 4032x3024, got '\(text)'") }
        return (parts[0], parts[1])
    }
}
