import QwenVL

/// The OpenAI-compatible HTTP server (placeholder until the server lands).
public enum QwenVLServerModule {}
