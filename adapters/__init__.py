"""Adapters: the outside world (HTTP, SQL, CLI, search engines) behind the engine's ports."""
