import XCTest
final class QwenVLMediaTestsPlaceholder: XCTestCase { func testBuilds() {} }
