import XCTest
final class QwenVLTokenizerTestsPlaceholder: XCTestCase { func testBuilds() {} }
