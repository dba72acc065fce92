import XCTest
@testable import QwenVLServer

final class ServerModuleTests: XCTestCase {
    func testModuleLinks() { _ = QwenVLServerModule.self }
}
