// swift-tools-version:6.0
// ExplainableViT: explanations of explainable-vit Core ML exports inside iOS and macOS apps.
// Add this repository by URL in Xcode or as `.package(url: "<this repository>", branch: "main")`.
// The sources live in apple/; the core is plain Swift and is tested on Linux, and on Linux the
// Core ML / CoreGraphics glue is compiled against the stubs in apple/Stubs (never seen on Apple
// platforms, where the real SDK is used).
import PackageDescription

let package = Package(
    name: "ExplainableViT",
    platforms: [.iOS(.v16), .macOS(.v13)],  // the exports' minimum deployment target (iOS 16 / macOS 13)
    products: [
        .library(name: "ExplainableViT", targets: ["ExplainableViT"]),
        // the benchmark's timing, statistics and JSON rows, for an app's own benchmark button (the sample's)
        .library(name: "ExplainableViTBenchKit", targets: ["ExplainableViTBenchKit"]),
        // `swift run -c release explainable-vit-bench --postprocess` or `... MODEL.mlpackage` (Mac): docs/apple.md
        .executable(name: "explainable-vit-bench", targets: ["ExplainableViTBench"]),
    ],
    targets: [
        .target(name: "ExplainableViT", dependencies: appleStubDependencies, path: "apple/Sources/ExplainableViT"),
        .testTarget(name: "ExplainableViTTests", dependencies: ["ExplainableViT"], path: "apple/Tests/ExplainableViTTests",
                    resources: [.copy("Goldens")]),
        .target(name: "ExplainableViTBenchKit", dependencies: ["ExplainableViT"] + appleStubDependencies,
                path: "apple/Sources/ExplainableViTBenchKit"),
        .executableTarget(name: "ExplainableViTBench", dependencies: ["ExplainableViT", "ExplainableViTBenchKit"] + appleStubDependencies,
                          path: "apple/Sources/ExplainableViTBench"),
        .testTarget(name: "ExplainableViTBenchKitTests", dependencies: ["ExplainableViTBenchKit"],
                    path: "apple/Tests/ExplainableViTBenchKitTests"),
    ] + appleStubTargets,
    swiftLanguageModes: [.v6]
)

#if os(Linux)
// Stand-ins for the Apple frameworks the glue uses, with Apple's signatures, so `swift build` on
// Linux type-checks the glue under Swift 6 strict concurrency. They trap if called.
var appleStubTargets: [Target] {
    [
        .target(name: "CoreGraphics", path: "apple/Stubs/CoreGraphics"),
        .target(name: "CoreVideo", dependencies: ["CoreGraphics"], path: "apple/Stubs/CoreVideo"),
        .target(name: "ImageIO", dependencies: ["CoreGraphics"], path: "apple/Stubs/ImageIO"),
        .target(name: "CoreML", dependencies: ["CoreGraphics", "CoreVideo"], path: "apple/Stubs/CoreML"),
        .target(name: "Vision", path: "apple/Stubs/Vision"),
    ]
}
var appleStubDependencies: [Target.Dependency] { ["CoreGraphics", "CoreVideo", "ImageIO", "CoreML", "Vision"] }
#else
var appleStubTargets: [Target] { [] }
var appleStubDependencies: [Target.Dependency] { [] }
#endif
