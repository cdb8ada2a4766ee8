import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Facts about the machine a row was measured on (`bench.timing.machine_info`'s fields) and its
/// memory (`bench.memory`'s fields: resident set size now and at its peak, in MB).
public enum Machine {
    /// `{"cpu", "cores", "platform"}` and, on Apple devices, the model identifier (`hw.machine` /
    /// `hw.model`, e.g. "iPhone16,1", "Mac14,2").
    public static func info() -> [String: String] {
        var facts = ["cpu": cpu(), "cores": String(ProcessInfo.processInfo.activeProcessorCount),
                     "platform": "\(os()) \(ProcessInfo.processInfo.operatingSystemVersionString)"]
        #if canImport(Darwin)
        facts["model"] = sysctl("hw.model")
        #endif
        return facts
    }

    /// The device as one phrase for a row's `device` field.
    public static func device() -> String {
        let facts = info()
        return [facts["model"], facts["cpu"], facts["platform"]].compactMap { $0 }.joined(separator: ", ")
    }

    static func os() -> String {
        #if os(Linux)
        return "Linux"
        #elseif os(iOS)
        return "iOS"
        #elseif os(macOS)
        return "macOS"
        #else
        return "unknown OS"
        #endif
    }

    static func cpu() -> String {
        #if os(Linux)
        let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix("model name") }
        return line.map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "unknown"
        #elseif canImport(Darwin)
        return sysctl("machdep.cpu.brand_string") ?? sysctl("hw.machine") ?? "unknown"
        #else
        return "unknown"
        #endif
    }

    #if canImport(Darwin)
    static func sysctl(_ name: String) -> String? {
        var size = 0
        guard sysctlbyname(name, nil, &size, nil, 0) == 0, size > 0 else { return nil }
        var bytes = [CChar](repeating: 0, count: size)
        guard sysctlbyname(name, &bytes, &size, nil, 0) == 0 else { return nil }
        return String(cString: bytes)
    }
    #endif

    /// Resident set size now, MB (Linux `VmRSS`; nil where it cannot be read).
    public static func residentMB() -> Double? { status("VmRSS") }

    /// Peak resident set size, MB: Linux `VmHWM`, else `getrusage`'s `ru_maxrss` (bytes on Apple platforms).
    public static func peakResidentMB() -> Double {
        if let peak = status("VmHWM") { return peak }
        var usage = rusage()
        #if canImport(Darwin)
        getrusage(RUSAGE_SELF, &usage)
        return Double(usage.ru_maxrss) / 1_048_576
        #else
        getrusage(RUSAGE_SELF.rawValue, &usage)  // Glibc imports the constant as an enum
        return Double(usage.ru_maxrss) / 1024
        #endif
    }

    /// Sets the kernel's peak mark to the current RSS (Linux `clear_refs` 5, as `bench.memory`), so
    /// what came before (building the synthetic photo) does not hide what is measured. False elsewhere.
    @discardableResult
    public static func resetPeak() -> Bool {
        #if os(Linux)
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        return (try? handle.write(contentsOf: Data("5".utf8))) != nil
        #else
        return false
        #endif
    }

    static func status(_ field: String) -> Double? {
        #if os(Linux)
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
              let kB = Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return nil }
        return kB / 1024
        #else
        return nil
        #endif
    }
}
