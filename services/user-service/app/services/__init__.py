"""services layer of user-service."""
