"""Unit tier: the engine alone, no I/O."""
