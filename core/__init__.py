"""Mnemo's platform-neutral core. Imports no chat-platform SDK (tests/test_architecture.py checks)."""
