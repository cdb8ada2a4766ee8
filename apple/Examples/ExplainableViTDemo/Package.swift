// swift-tools-version:5.9
// A small macOS app over the ExplainableViT library: open a model and an image, see the top-3
// classes and the explanation overlay, pick a class to explain (gradrollout models).
//     cd apple/Examples/ExplainableViTDemo && swift run      (macOS 13+; or open Package.swift in Xcode)
import PackageDescription

let package = Package(
    name: "ExplainableViTDemo",
    platforms: [.macOS(.v13)],
    dependencies: [.package(path: "../..")],  // the package identity is its folder name, "apple"
    targets: [
        .executableTarget(name: "ExplainableViTDemo", dependencies: [.product(name: "ExplainableViT", package: "apple")]),
    ]
)
