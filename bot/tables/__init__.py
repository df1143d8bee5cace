"""What the bot keeps in SQLite: chats, preferences, rules, the alert journal, the outbox."""
