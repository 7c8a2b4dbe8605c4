"""kafka layer of user-service."""
