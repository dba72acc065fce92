import XCTest
final class QwenVLCoreTestsPlaceholder: XCTestCase { func testBuilds() {} }
