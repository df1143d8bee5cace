"""Tests that need the real network; deselected by default (`-m live` runs them)."""
