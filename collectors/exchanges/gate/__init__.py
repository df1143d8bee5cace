"""Gate futures `futures.public_liquidates`, one feed per settle currency."""
