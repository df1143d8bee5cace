"""Say where the dashboard listens, who may read it, and refuse an exposed bind without a token."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

# A token shorter than this is guessable; the dashboard refuses to start with one.
MIN_TOKEN_LENGTH = 16


class WebError(Exception):
    """The dashboard cannot start; the message is one line for the operator."""


def is_loopback(host: str) -> bool:
    """Return True for a host that only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def exposure_problem(host: str, token: str | None) -> str | None:
    """Return why this bind is refused (a non-loopback host without a token), or None."""
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        return f"WEB_TOKEN must be at least {MIN_TOKEN_LENGTH} characters long"
    if token is None and not is_loopback(host):
        return (
            f"WEB_HOST={host} is reachable from other machines: set WEB_TOKEN to a long random "
            "secret, or use WEB_HOST=127.0.0.1"
        )
    return None


@dataclass(frozen=True, slots=True)
class WebConfig:
    """Where the dashboard listens and how it guards and paces itself."""

    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None
    allowed_hosts: tuple[str, ...] = ()  # extra Host names accepted (IP literals always are)
    max_clients: int = 200  # open WebSocket streams at once
    snapshot_interval_s: float = 1.0
    tape_interval_s: float = 0.1  # tape deltas go out at most this often
    replay_events: int = 20_000  # live events kept so a reconnecting page can resume
    max_buffered_bytes: int = 1 << 20  # unsent bytes a stream may hold before it is skipped
    send_timeout_s: float = 30.0  # a stream skipped this long (it reads nothing) is dropped

    def check(self) -> None:
        """Raise WebError if this bind must be refused."""
        problem = exposure_problem(self.host, self.token)
        if problem is not None:
            raise WebError(problem)

    def url(self, port: int | None = None) -> str:
        """Return the dashboard's address for the startup line (never with the token)."""
        host = self.host
        if host in ("", "0.0.0.0", "::"):  # noqa: S104 - naming the wildcard, not binding it
            host = "localhost"
        elif ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port if port is None else port}/"
