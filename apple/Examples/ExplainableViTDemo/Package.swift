// swift-tools-version:6.0
// A small macOS app over the ExplainableViT library: open a model and an image, see the top-3
// classes and the explanation overlay, pick a class to explain (gradrollout models).
//     cd apple/Examples/ExplainableViTDemo && swift run      (macOS 13+; or open Package.swift in Xcode)
import PackageDescription

let package = Package(
    name: "ExplainableViTDemo",
    platforms: [.macOS(.v13)],
    // The repository's root package, as an app adds it by URL (.package(url: "<repository>", branch: "main")).
    // Named, because a path dependency is otherwise identified by its folder's name, which depends on the clone.
    dependencies: [.package(name: "ExplainableViT", path: "../../..")],
    targets: [
        .executableTarget(name: "ExplainableViTDemo", dependencies: [.product(name: "ExplainableViT", package: "ExplainableViT")]),
    ]
)
