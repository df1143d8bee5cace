"""Read the bot's settings once from the environment (and `.env`), typed."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.prefs.schedules import Schedule, parse_schedule
from bot.texts.durations import parse_duration
from bot.texts.usage import UsageError
from collectors.endpoints import FEED_IDS, Endpoints

_DEFAULT_ENDPOINTS = Endpoints()
# A dashboard token shorter than this is guessable: such a token is refused.
MIN_TOKEN_LENGTH = 16


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
    """Return why a dashboard bind is refused (a non-loopback host without a token), or None."""
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        return f"WEB_TOKEN must be at least {MIN_TOKEN_LENGTH} characters long"
    if token is None and not is_loopback(host):
        return (
            f"WEB_HOST={host} is reachable from other machines: set WEB_TOKEN to a long random "
            "secret, or use WEB_HOST=127.0.0.1"
        )
    return None


def bot_sibling(events_path: Path) -> Path:
    """Return the default file of the bot's tables beside the events' file:
    `data/liquidations.db` -> `data/liquidations-bot.db`."""
    return events_path.with_name(f"{events_path.stem}-bot{events_path.suffix}")


class Settings(BaseSettings):
    """Every setting, with its default; `.env.example` documents each one."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    database_path: Path = Path("data/liquidations.db")
    # The bot's own tables (rules, schedules, the alert journal); default: beside DATABASE_PATH.
    bot_database_path: Path | None = None
    exchanges: Annotated[tuple[str, ...], NoDecode] = FEED_IDS
    binance_usdm_ws_url: str = _DEFAULT_ENDPOINTS.binance_usdm_ws
    binance_coinm_ws_url: str = _DEFAULT_ENDPOINTS.binance_coinm_ws
    binance_coinm_rest_url: str = _DEFAULT_ENDPOINTS.binance_coinm_rest
    okx_ws_url: str = _DEFAULT_ENDPOINTS.okx_ws
    okx_rest_url: str = _DEFAULT_ENDPOINTS.okx_rest
    bybit_ws_linear_url: str = _DEFAULT_ENDPOINTS.bybit_linear_ws
    bybit_ws_inverse_url: str = _DEFAULT_ENDPOINTS.bybit_inverse_ws
    bybit_rest_url: str = _DEFAULT_ENDPOINTS.bybit_rest
    gate_usdt_ws_url: str = _DEFAULT_ENDPOINTS.gate_usdt_ws
    gate_btc_ws_url: str = _DEFAULT_ENDPOINTS.gate_btc_ws
    gate_rest_url: str = _DEFAULT_ENDPOINTS.gate_rest
    htx_linear_ws_url: str = _DEFAULT_ENDPOINTS.htx_linear_ws
    htx_swap_ws_url: str = _DEFAULT_ENDPOINTS.htx_swap_ws
    htx_futures_ws_url: str = _DEFAULT_ENDPOINTS.htx_futures_ws
    htx_rest_url: str = _DEFAULT_ENDPOINTS.htx_rest
    bitget_ws_url: str = _DEFAULT_ENDPOINTS.bitget_ws
    deribit_ws_url: str = _DEFAULT_ENDPOINTS.deribit_ws
    deribit_rest_url: str = _DEFAULT_ENDPOINTS.deribit_rest
    bitmex_ws_url: str = _DEFAULT_ENDPOINTS.bitmex_ws
    bitmex_rest_url: str = _DEFAULT_ENDPOINTS.bitmex_rest
    bitfinex_ws_url: str = _DEFAULT_ENDPOINTS.bitfinex_ws
    kraken_futures_ws_url: str = _DEFAULT_ENDPOINTS.kraken_futures_ws
    kraken_futures_rest_url: str = _DEFAULT_ENDPOINTS.kraken_futures_rest
    windows: Annotated[tuple[int, ...], NoDecode] = (180, 900, 3600, 14400, 86400)
    retention_hours: float = Field(default=48.0, gt=0)
    history_days: float = Field(default=90.0, gt=0, le=3650)
    default_min_usd: float = Field(default=100_000.0, ge=1_000.0)
    admin_user_ids: Annotated[tuple[int, ...], NoDecode] = ()
    channel_ids: Annotated[tuple[int, ...], NoDecode] = ()
    summary_schedule: str = "every 1h"
    alert_max_age_s: float = Field(default=600.0, gt=0)
    commands_per_minute: int = Field(default=20, ge=1)
    metadata_refresh_s: float = Field(default=1800.0, gt=0)
    status_interval_s: float = Field(default=60.0, gt=0)
    min_event_usd: float = Field(default=10.0, ge=0)
    log_level: str = "INFO"
    log_file: Path | None = None
    log_file_max_mb: float = Field(default=10.0, gt=0)
    web_enabled: bool = True
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=0, le=65535)
    web_allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    web_max_clients: int = Field(default=200, ge=1)
    # Last: its check reads WEB_ENABLED and WEB_HOST.
    web_token: SecretStr | None = Field(default=None, validate_default=True)

    @field_validator(
        "telegram_bot_token", "bot_database_path", "log_file", "web_token", mode="before"
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        # `KEY=` in .env (as .env.example leaves some) means "not set", not an empty value.
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("bot_database_path")
    @classmethod
    def _not_the_events_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        events = info.data.get("database_path")
        if value is not None and events is not None and value.resolve() == events.resolve():
            raise ValueError(
                "must differ from DATABASE_PATH: the bot's tables have their own file, so an "
                "alert never waits for the liquidation writer (leave it empty for the default)"
            )
        return value

    @property
    def bot_tables_path(self) -> Path:
        """Return the file of the bot's own tables: BOT_DATABASE_PATH, or beside DATABASE_PATH."""
        if self.bot_database_path is not None:
            return self.bot_database_path
        return bot_sibling(self.database_path)

    @field_validator("web_token")
    @classmethod
    def _token_when_exposed(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if info.data.get("web_enabled", True) and "web_host" in info.data:
            token = None if value is None else value.get_secret_value()
            problem = exposure_problem(info.data["web_host"], token)
            if problem is not None:
                raise ValueError(problem)
        return value

    @field_validator("web_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip().lower() for part in value.split(",") if part.strip())
        return value

    @field_validator("exchanges", mode="before")
    @classmethod
    def _split_feed_ids(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip().lower() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            unknown = [item for item in value if item not in FEED_IDS]
            if unknown:
                raise ValueError(
                    f"unknown feed id(s) {', '.join(map(str, unknown))}; "
                    f"choose from {','.join(FEED_IDS)}"
                )
            if not value:
                raise ValueError(f"no feed configured; choose from {','.join(FEED_IDS)}")
            return tuple(dict.fromkeys(value))
        return value

    @field_validator("windows", mode="before")
    @classmethod
    def _parse_windows(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part for part in value.split(",") if part.strip()]
            if not parts:
                raise ValueError("list at least one window, e.g. 3m,15m,1h,4h,24h")
            seconds = sorted({parse_duration(part) for part in parts})
            if seconds[-1] > 86400:
                raise ValueError("windows longer than 24h are not kept in memory")
            return tuple(seconds)
        return value

    @field_validator("retention_hours")
    @classmethod
    def _keeps_the_longest_window(cls, value: float, info: ValidationInfo) -> float:
        windows = info.data.get("windows") or ()
        longest_s = max(windows, default=0)
        if value * 3600 < longest_s:
            raise ValueError(
                f"{value:g} hours is shorter than the longest window in WINDOWS "
                f"({longest_s / 3600:g}h), whose totals are restored from the database at start: "
                f"set RETENTION_HOURS={max(1.0, longest_s / 3600):g} or more"
            )
        return value

    @field_validator("admin_user_ids", "channel_ids", mode="before")
    @classmethod
    def _parse_ids(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return tuple(int(part) for part in value.split(",") if part.strip())
            except ValueError:
                raise ValueError("list numeric ids separated by commas: 12345,-1001234") from None
        return value

    @field_validator("summary_schedule")
    @classmethod
    def _valid_schedule(cls, value: str, info: ValidationInfo) -> str:
        history_days = info.data.get("history_days", 0)
        try:
            request = parse_schedule(value.split(), int(history_days * 86_400))
        except UsageError as exc:
            raise ValueError(f"{exc.reason} (e.g. every 1h or daily 08:00)") from None
        if request.off:
            raise ValueError("use a schedule (e.g. every 1h); leave CHANNEL_IDS empty for none")
        return value

    def default_schedule(self, chat_id: int) -> Schedule:
        """Return the SUMMARY_SCHEDULE for a chat."""
        request = parse_schedule(self.summary_schedule.split(), int(self.history_days * 86_400))
        return Schedule(chat_id, request.every_s, request.daily_minute)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        return level

    def endpoints(self) -> Endpoints:
        """Return the exchange endpoints."""
        return Endpoints(
            binance_usdm_ws=self.binance_usdm_ws_url,
            binance_coinm_ws=self.binance_coinm_ws_url,
            binance_coinm_rest=self.binance_coinm_rest_url,
            okx_ws=self.okx_ws_url,
            okx_rest=self.okx_rest_url,
            bybit_linear_ws=self.bybit_ws_linear_url,
            bybit_inverse_ws=self.bybit_ws_inverse_url,
            bybit_rest=self.bybit_rest_url,
            gate_usdt_ws=self.gate_usdt_ws_url,
            gate_btc_ws=self.gate_btc_ws_url,
            gate_rest=self.gate_rest_url,
            htx_linear_ws=self.htx_linear_ws_url,
            htx_swap_ws=self.htx_swap_ws_url,
            htx_futures_ws=self.htx_futures_ws_url,
            htx_rest=self.htx_rest_url,
            bitget_ws=self.bitget_ws_url,
            deribit_ws=self.deribit_ws_url,
            deribit_rest=self.deribit_rest_url,
            bitmex_ws=self.bitmex_ws_url,
            bitmex_rest=self.bitmex_rest_url,
            bitfinex_ws=self.bitfinex_ws_url,
            kraken_futures_ws=self.kraken_futures_ws_url,
            kraken_futures_rest=self.kraken_futures_rest_url,
        )
