"""repositories layer of user-service."""
