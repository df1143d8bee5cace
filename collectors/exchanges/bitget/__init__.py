"""Bitget UTA `liquidation` for the USDT, USDC and coin-margined futures lines."""
