"""Words and notations per language: the message catalogs, number and time formats, durations."""
