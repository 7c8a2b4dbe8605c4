"""api layer of user-service."""
