"""Say where the dashboard listens, who may read it, and refuse an exposed bind without a token."""

from __future__ import annotations

from dataclasses import dataclass

from bot.settings import Settings, exposure_problem


class WebError(Exception):
    """The dashboard cannot start; the message is one line for the operator."""


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

    @classmethod
    def from_settings(cls, settings: Settings) -> WebConfig:
        """Return the dashboard's configuration from the process settings."""
        return cls(
            host=settings.web_host,
            port=settings.web_port,
            token=None if settings.web_token is None else settings.web_token.get_secret_value(),
            allowed_hosts=settings.web_allowed_hosts,
            max_clients=settings.web_max_clients,
        )

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
