"""chat-service: rooms, messages and the live stream (CONTRACT §5–6)."""
