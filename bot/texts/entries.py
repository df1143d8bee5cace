"""The shape of a message catalog entry (shared by every language's catalog)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Plural:
    """An entry with a singular and a plural form, chosen by the `count` value."""

    one: str
    other: str


Entry = str | Plural
