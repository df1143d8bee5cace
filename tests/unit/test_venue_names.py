"""Venue names per language."""

from __future__ import annotations

from bot.texts.venues import venue_name


def test_latin_names_in_every_language_and_the_id_when_unknown() -> None:
    assert venue_name("zh", "bitmex") == "BitMEX"
    assert venue_name("en", "kraken") == "Kraken"
    assert venue_name("fr", "deribit") == "Deribit"
    assert venue_name("zh", "nowhere") == "nowhere"
