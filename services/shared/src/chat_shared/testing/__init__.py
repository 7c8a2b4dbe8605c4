"""Test support shared by every service's suite: real broker, per-session MySQL database, TCP proxy."""
