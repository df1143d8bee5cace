"""Configure logging so that secrets (the bot token) never reach a log line."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

REDACTED = "[REDACTED]"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactingFormatter(logging.Formatter):
    """Format a record, then blank every secret in the whole line, traceback included."""

    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                forms |= {secret, quote(secret, safe=""), quote(secret)}  # as typed, URL-encoded
        self._secrets = sorted(forms, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        """Return the formatted line with every secret replaced."""
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


class PollingCleanupLine(logging.Filter):
    """One WARNING line for PTB's last getUpdates failing at stop (Telegram unreachable then).

    That call only tells Telegram which updates were handled; PTB logs its failure at ERROR
    with a traceback, which reads like a crash of a stop that went well.
    """

    PTB_MESSAGE = "Error while calling `get_updates` one more time"

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite that one record in place; let every other record through unchanged."""
        if isinstance(record.msg, str) and record.msg.startswith(self.PTB_MESSAGE):
            error = record.exc_info[1] if record.exc_info else None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = (
                "could not tell Telegram at stop which updates were handled (%s): "
                "the next start may receive the last ones again"
            )
            record.args = (f"{type(error).__name__}: {error}" if error else "no answer",)
            record.exc_info = record.exc_text = None
        return True


# A rotated LOG_FILE keeps this many older files beside it (bot.log.1 ... bot.log.5).
LOG_FILE_BACKUPS = 5


def configure_logging(
    level: str, secrets: Iterable[str] = (), log_file: Path | None = None, max_mb: float = 10.0
) -> None:
    """Log to stderr (and to `log_file`, rotated at `max_mb`) through the redacting formatter;
    keep httpx and httpcore quiet."""
    formatter = RedactingFormatter(_FORMAT, secrets)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                log_file,
                maxBytes=int(max_mb * 1024 * 1024),
                backupCount=LOG_FILE_BACKUPS,
                encoding="utf-8",
            )
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)
    # Their request lines carry the token in the URL: redacted anyway, and not useful at INFO.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    updater = logging.getLogger("telegram.ext.Updater")
    if not any(isinstance(f, PollingCleanupLine) for f in updater.filters):
        updater.addFilter(PollingCleanupLine())
