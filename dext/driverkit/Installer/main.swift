// LitePCIeInstaller: activates, deactivates or reports the LitePCIe dext embedded in this app.
//
//   /Applications/LitePCIeInstaller.app/Contents/MacOS/LitePCIeInstaller install|uninstall|status
//
// Activation needs the app in /Applications (or `systemextensionsctl developer on`) and, the first
// time, approval in System Settings > General > Login Items & Extensions > Driver Extensions.
import Foundation
import SystemExtensions

/// Bundle identifier of the dext in Contents/Library/SystemExtensions.
func embeddedDextIdentifier() -> String? {
    let dir = Bundle.main.bundleURL.appendingPathComponent("Contents/Library/SystemExtensions")
    let items = (try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)) ?? []
    return items.filter { $0.pathExtension == "dext" }.compactMap { Bundle(url: $0)?.bundleIdentifier }.first
}

func fail(_ message: String, code: Int32) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(code)
}

final class RequestDelegate: NSObject, OSSystemExtensionRequestDelegate {
    func request(_ request: OSSystemExtensionRequest,
                 actionForReplacingExtension existing: OSSystemExtensionProperties,
                 withExtension ext: OSSystemExtensionProperties) -> OSSystemExtensionRequest.ReplacementAction {
        print("replacing \(existing.bundleShortVersion) (\(existing.bundleVersion)) with \(ext.bundleShortVersion) (\(ext.bundleVersion))")
        return .replace
    }

    func requestNeedsUserApproval(_ request: OSSystemExtensionRequest) {
        // The request stays pending; didFinishWithResult follows once the user allows it.
        print("waiting for approval: System Settings > General > Login Items & Extensions > Driver Extensions")
    }

    func request(_ request: OSSystemExtensionRequest, didFinishWithResult result: OSSystemExtensionRequest.Result) {
        switch result {
        case .completed: print("done")
        case .willCompleteAfterReboot: print("done after the next reboot")
        @unknown default: print("finished (result \(result.rawValue))")
        }
        exit(0)
    }

    func request(_ request: OSSystemExtensionRequest, didFailWithError error: Error) {
        let e = error as NSError
        fail("failed: \(e.localizedDescription) (\(e.domain) \(e.code))", code: 1)
    }

    func request(_ request: OSSystemExtensionRequest, foundProperties properties: [OSSystemExtensionProperties]) {
        if properties.isEmpty {
            print("not installed")
        }
        for p in properties {
            print("\(p.bundleIdentifier) \(p.bundleShortVersion) (\(p.bundleVersion)) enabled=\(p.isEnabled) " +
                  "awaitingApproval=\(p.isAwaitingUserApproval) uninstalling=\(p.isUninstalling)")
        }
        exit(0)
    }
}

let command = CommandLine.arguments.dropFirst().first ?? ""
guard ["install", "uninstall", "status"].contains(command) else {
    fail("usage: LitePCIeInstaller install|uninstall|status", code: 2)
}
guard let dextID = embeddedDextIdentifier() else {
    fail("no .dext in \(Bundle.main.bundlePath)/Contents/Library/SystemExtensions", code: 1)
}

let delegate = RequestDelegate()
let request: OSSystemExtensionRequest
switch command {
case "install": request = .activationRequest(forExtensionWithIdentifier: dextID, queue: .main)
case "uninstall": request = .deactivationRequest(forExtensionWithIdentifier: dextID, queue: .main)
default: request = .propertiesRequest(forExtensionWithIdentifier: dextID, queue: .main)
}
request.delegate = delegate
print("\(command): \(dextID)")
OSSystemExtensionManager.shared.submitRequest(request)
dispatchMain()
