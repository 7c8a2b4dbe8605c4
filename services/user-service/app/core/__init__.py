"""core layer of user-service."""
