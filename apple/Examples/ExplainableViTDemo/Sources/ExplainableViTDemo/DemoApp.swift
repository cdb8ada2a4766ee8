#if canImport(SwiftUI)
import ExplainableViTSample
import SwiftUI

/// The Mac app (`swift run`); on an iPhone, an Xcode App target with this same body.
@main
struct DemoApp: App {
    var body: some Scene {
        WindowGroup("ExplainableViT") { SampleView() }
    }
}
#else
@main
enum DemoApp {
    static func main() { print("ExplainableViTDemo is a SwiftUI app for iOS 16 / macOS 13 or newer.") }
}
#endif
