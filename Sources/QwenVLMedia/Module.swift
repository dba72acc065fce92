public enum QwenVLMediaModule {}
