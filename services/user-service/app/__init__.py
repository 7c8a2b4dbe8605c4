"""user-service: accounts, tokens, profiles and presence (CONTRACT §3)."""
