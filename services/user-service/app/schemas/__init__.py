"""schemas layer of user-service."""
