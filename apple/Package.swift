// swift-tools-version:5.9
// ExplainableViT: explanations of explainable-vit Core ML exports inside Mac and iOS apps.
// The core (metadata, scores, heatmap upsampling, colour map, overlay, coordinates) is plain
// Swift and builds and tests on Linux; the Core ML / CoreGraphics glue compiles where those exist.
import PackageDescription

let package = Package(
    name: "ExplainableViT",
    platforms: [.macOS(.v13), .iOS(.v16)],  // the exports' minimum deployment target (iOS 16 / macOS 13)
    products: [
        .library(name: "ExplainableViT", targets: ["ExplainableViT"]),
    ],
    targets: [
        .target(name: "ExplainableViT"),
        .testTarget(name: "ExplainableViTTests", dependencies: ["ExplainableViT"],
                    resources: [.copy("Goldens")]),
    ]
)
