"""Collect forced-liquidation events from exchange WebSocket feeds and normalize them."""
