public enum QwenVLTokenizerModule {}
