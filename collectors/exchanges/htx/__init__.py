"""HTX (Huobi) `public.*.liquidation_orders` on the three notification sockets."""
