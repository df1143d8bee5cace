"""Which chats an event concerns: alert rule matching and cascade detection (pure)."""
