"""How a message reaches a chat: queues, pacing, every send, edit and retry, and their outcomes."""
