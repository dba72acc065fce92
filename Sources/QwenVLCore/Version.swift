public enum QwenVLCoreVersion { public static let string = "0.1.0" }
