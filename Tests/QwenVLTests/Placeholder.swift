import XCTest
final class QwenVLTestsPlaceholder: XCTestCase { func testBuilds() {} }
