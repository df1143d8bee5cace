"""Run the liquidation bot: composition root, console mode, Telegram layer."""
