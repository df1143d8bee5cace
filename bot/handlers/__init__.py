"""What the bot does when a user sends a command or presses a button (inbound)."""
