"""One unit per venue: a module, or a package once it grows, that never imports another venue.

A unit holds its wire structs, its pure parsers and its `Feed` subclasses (a package splits them
into `parsing.py` and `feed.py`, plus a module for anything else it does, such as OKX's REST
`history.py` or Bybit's `subscriptions.py`). `collectors.registry` builds the feeds by id.
"""
