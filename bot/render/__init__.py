"""What a message says and looks like: Telegram HTML, texts, status lines, charts (pure)."""
