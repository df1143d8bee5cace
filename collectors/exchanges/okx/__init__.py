"""OKX v5: the `liquidation-orders` feed, its parsers and the REST history that fills gaps."""
