"""How the process is composed and run: the composition roots (console, capture, Telegram)."""
