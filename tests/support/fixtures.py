"""Load the recorded exchange frames in tests/fixtures."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def lines(name: str) -> list[str]:
    """Return the non-empty lines of a .jsonl fixture."""
    return [line for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


def text(name: str) -> str:
    """Return a fixture file's text."""
    return (FIXTURES / name).read_text()
