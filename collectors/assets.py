"""Map exchange instrument names to one asset name across exchanges."""

from __future__ import annotations

import re
from functools import lru_cache

# Binance and Bybit list low-priced coins as "1000PEPE", "1000000MOG", "1MBABYDOGE" or (Bybit)
# "10000000AIDOGE": one unit of the instrument is that many coins. A digit-led real name (1INCH)
# does not match these prefixes.
_MULTIPLIER_PREFIX = re.compile(r"^(10000000|1000000|100000|10000|1000|1M)(?=[A-Z])")
_PREFIX_FACTORS = {
    "10000000": 10_000_000.0,
    "1000000": 1_000_000.0,
    "100000": 100_000.0,
    "10000": 10_000.0,
    "1000": 1_000.0,
    "1M": 1_000_000.0,
}
# Bybit also puts the multiplier after the coin once: SHIB1000USDT (base coin "SHIB1000"), beside
# its own 1000PEPEUSDT. Only a power of ten from 1000 up, right after a letter, counts; real
# names ending in other digits (HPOS10I, API3, LUNA2) do not match.
_MULTIPLIER_SUFFIX = re.compile(r"(?<=[A-Z])(10000000|1000000|100000|10000|1000)$")

# Quote currencies counted as US dollars, longest first so "FDUSD" wins over "USD".
USD_QUOTES = ("FDUSD", "BUSD", "USDT", "USDC", "USD")

_DATED_SUFFIX = re.compile(r"_[0-9]{6}$")


@lru_cache(maxsize=8192)
def split_multiplier(name: str) -> tuple[str, float]:
    """Split "1000PEPE" into ("PEPE", 1000.0); names without a multiplier get factor 1."""
    match = _MULTIPLIER_PREFIX.match(name)
    if match is None:
        return name, 1.0
    return name[match.end() :], _PREFIX_FACTORS[match.group(1)]


@lru_cache(maxsize=8192)
def split_multiplier_affix(name: str) -> tuple[str, float]:
    """Like `split_multiplier`, and also split a suffix: "SHIB1000" is ("SHIB", 1000.0)."""
    base, factor = split_multiplier(name)
    if factor != 1.0:
        return base, factor
    match = _MULTIPLIER_SUFFIX.search(name)
    if match is None:
        return name, 1.0
    return name[: match.start()], _PREFIX_FACTORS[match.group(1)]


@lru_cache(maxsize=8192)
def binance_usdm_base(symbol: str) -> tuple[str, float] | None:
    """Return (asset, multiplier) for a USDⓈ-M symbol, or None if it is not quoted in USD.

    BTCUSDT, BTCUSDC and the dated BTCUSDT_251226 are all ("BTC", 1.0); 1000PEPEUSDT is
    ("PEPE", 1000.0).
    """
    pair = _DATED_SUFFIX.sub("", symbol)
    for quote in USD_QUOTES:
        if pair.endswith(quote) and len(pair) > len(quote):
            return split_multiplier(pair[: -len(quote)])
    return None


# Venues that spell an asset their own way: BitMEX and Kraken call bitcoin XBT.
_ASSET_ALIASES = {"XBT": "BTC"}


def unified_asset(name: str) -> str:
    """Return the one asset name for a venue's spelling: "XBT" and "xbt" are "BTC"."""
    upper = name.upper()
    return _ASSET_ALIASES.get(upper, upper)
