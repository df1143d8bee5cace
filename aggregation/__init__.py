"""Aggregate liquidations: rolling windows, leaderboards, persistence and coverage."""
