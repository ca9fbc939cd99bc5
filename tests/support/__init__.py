"""Helpers for tests that need real servers beside the Community Solid Server (e.g. Oxigraph)."""
