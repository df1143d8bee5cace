"""How each chat wants things: language, time zone, quiet hours and summary schedules."""
