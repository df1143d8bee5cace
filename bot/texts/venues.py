"""Venue names as each language writes them (exchange id -> name)."""

from __future__ import annotations

# Chinese media write these four venues in Latin letters: none has a standard Chinese name
# (informal nicknames such as 海妖 for Kraken are not used consistently), so zh keeps them.
VENUE_NAMES: dict[str, dict[str, str]] = {
    "en": {"deribit": "Deribit", "bitmex": "BitMEX", "bitfinex": "Bitfinex", "kraken": "Kraken"},
    "zh": {"deribit": "Deribit", "bitmex": "BitMEX", "bitfinex": "Bitfinex", "kraken": "Kraken"},
}


def venue_name(lang: str, exchange: str) -> str:
    """Return the venue's name in this language (English, else the id, when none is known)."""
    names = VENUE_NAMES.get(lang, VENUE_NAMES["en"])
    return names.get(exchange) or VENUE_NAMES["en"].get(exchange, exchange)
