"""The web dashboard: a page, a JSON API and a live stream served by the bot's own process."""

from bot.web.config import WebConfig, WebError
from bot.web.health import FeedHealth, feed_health
from bot.web.metrics import ProcessMetrics
from bot.web.server import Dashboard

__all__ = [
    "Dashboard",
    "FeedHealth",
    "ProcessMetrics",
    "WebConfig",
    "WebError",
    "feed_health",
]
