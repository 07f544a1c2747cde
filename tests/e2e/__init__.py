"""End-to-end tests: the real `tessera` server and CLI as subprocesses, driven over HTTP."""
