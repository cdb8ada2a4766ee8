// swift-tools-version:6.0
// The sample app over the ExplainableViT library, for iOS 16+ and macOS 13+: pick a photo, see the
// explanation overlay, tap a patch to read its relevance, pick the class to explain (gradrollout
// models) and the compute units, and benchmark the device with the same harness as
// `explainable-vit-bench` (ExplainableViTBenchKit's ModelBench). docs/apple.md, "The sample app".
//     Mac:    cd apple/Examples/ExplainableViTDemo && swift run      (or open this Package.swift in Xcode)
//     iPhone: an Xcode iOS App target that links the `ExplainableViTSample` library and shows `SampleView()`
import PackageDescription

let package = Package(
    name: "ExplainableViTDemo",
    platforms: [.iOS(.v16), .macOS(.v13)],
    products: [
        // Everything but `@main`: an Xcode app target (iOS or macOS) links it and shows `SampleView()`.
        .library(name: "ExplainableViTSample", targets: ["ExplainableViTSample"]),
    ],
    // The repository's root package, as an app adds it by URL (.package(url: "<repository>", branch: "main")).
    // Named, because a path dependency is otherwise identified by its folder's name, which depends on the clone.
    dependencies: [.package(name: "ExplainableViT", path: "../../..")],
    targets: [
        .target(name: "ExplainableViTSample", dependencies: [
            .product(name: "ExplainableViT", package: "ExplainableViT"),
            .product(name: "ExplainableViTBenchKit", package: "ExplainableViT"),
        ]),
        .executableTarget(name: "ExplainableViTDemo", dependencies: ["ExplainableViTSample"]),
    ]
)
