"""Test support shared by every suite: real broker, per-session MySQL database, TCP proxy, waiting on
conditions, processes, a Server-Sent Events reader and parsed ``/metrics``."""
