/// Where Core ML may run the model, named as `python -m bench` and `runtime.coreml.COMPUTE_UNITS` name them.
public enum ComputeUnits: String, CaseIterable, Sendable {
    case cpu = "cpu"
    case cpuAndGPU = "cpu+gpu"
    case cpuAndNeuralEngine = "cpu+ne"
    case all = "all"
}
