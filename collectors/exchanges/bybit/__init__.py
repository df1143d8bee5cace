"""Bybit v5: the per-symbol `allLiquidation` feeds, their parsers and chunked subscriptions."""
