"""Settings: defaults as documented, parsing, and `.env.example` covering every key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def test_defaults() -> None:
    settings = Settings(_env_file=None)
    assert settings.telegram_bot_token is None
    assert settings.telegram_base_url == "https://api.telegram.org/bot"
    assert settings.database_path == Path("data/liquidations.db")
    assert settings.exchanges == (
        "binance-usdm",
        "binance-coinm",
        "okx",
        "bybit-linear",
        "bybit-inverse",
        "gate-usdt",
        "gate-btc",
        "htx-linear",
        "htx-swap",
        "htx-futures",
        "bitget",
        "deribit",
        "bitmex",
        "bitfinex",
        "kraken-futures",
    )
    assert settings.gate_usdt_ws_url == "wss://fx-ws.gateio.ws/v4/ws/usdt"
    assert settings.gate_btc_ws_url == "wss://fx-ws.gateio.ws/v4/ws/btc"
    assert settings.gate_rest_url == "https://api.gateio.ws"
    assert settings.htx_linear_ws_url == "wss://api.hbdm.com/linear-swap-notification"
    assert settings.htx_swap_ws_url == "wss://api.hbdm.com/swap-notification"
    assert settings.htx_futures_ws_url == "wss://api.hbdm.com/notification"
    assert settings.htx_rest_url == "https://api.hbdm.com"
    assert settings.bitget_ws_url == "wss://ws.bitget.com/v3/ws/public"
    assert settings.binance_usdm_ws_url == "wss://fstream.binance.com/market/ws/!forceOrder@arr"
    assert settings.binance_coinm_ws_url == "wss://dstream.binance.com/ws/!forceOrder@arr"
    assert settings.binance_coinm_rest_url == "https://dapi.binance.com"
    assert settings.okx_ws_url == "wss://ws.okx.com:8443/ws/v5/public"
    assert settings.okx_rest_url == "https://www.okx.com"
    assert settings.bybit_ws_linear_url == "wss://stream.bybit.com/v5/public/linear"
    assert settings.bybit_ws_inverse_url == "wss://stream.bybit.com/v5/public/inverse"
    assert settings.bybit_rest_url == "https://api.bybit.com"
    assert settings.min_event_usd == 10.0


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGES", " OKX , binance-usdm,okx ")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:secret")
    monkeypatch.setenv("OKX_WS_URL", "ws://127.0.0.1:1/ws")
    monkeypatch.setenv("BYBIT_WS_INVERSE_URL", "ws://127.0.0.1:2/inverse")
    monkeypatch.setenv("BYBIT_REST_URL", "http://127.0.0.1:3")
    settings = Settings(_env_file=None)
    assert settings.exchanges == ("okx", "binance-usdm")
    assert settings.telegram_bot_token is not None
    assert settings.telegram_bot_token.get_secret_value() == "123:secret"
    assert "123:secret" not in repr(settings)
    assert settings.endpoints().okx_ws == "ws://127.0.0.1:1/ws"
    assert settings.endpoints().bybit_inverse_ws == "ws://127.0.0.1:2/inverse"
    assert settings.endpoints().bybit_rest == "http://127.0.0.1:3"
    assert settings.endpoints().bybit_linear_ws == "wss://stream.bybit.com/v5/public/linear"


def test_blank_token_means_console_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "  ")
    assert Settings(_env_file=None).telegram_bot_token is None


@pytest.mark.parametrize(
    ("value", "message"),
    [("okx,kucoin", "unknown feed id(s) kucoin"), ("", "no feed configured")],
)
def test_bad_exchange_list(monkeypatch: pytest.MonkeyPatch, value: str, message: str) -> None:
    monkeypatch.setenv("EXCHANGES", value)
    with pytest.raises(ValidationError, match=re.escape(message)):
        Settings(_env_file=None)


def test_env_example_documents_every_setting_with_its_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = ENV_EXAMPLE.read_text()
    documented = dict(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=(.*)$", text, flags=re.MULTILINE))
    assert set(documented) == {name.upper() for name in Settings.model_fields}
    defaults = Settings(_env_file=None)
    for name, shown in documented.items():
        if shown:
            monkeypatch.setenv(name, shown)
    parsed = Settings(_env_file=None)
    for name in Settings.model_fields:
        assert getattr(parsed, name) == getattr(defaults, name), name
    # Each key has a comment line right above it (possibly after other comments).
    lines = text.splitlines()
    for line_no, line in enumerate(lines):
        if re.match(r"^#? ?[A-Z][A-Z0-9_]+=", line):
            assert lines[line_no - 1].startswith("# "), line


def test_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WINDOWS", "1h, 3m,15m,1h")
    assert Settings(_env_file=None).windows == (180, 900, 3600)
    for bad, message in [("2d", "longer than 24h"), ("5x", "is not a duration"), (",", "at least")]:
        monkeypatch.setenv("WINDOWS", bad)
        with pytest.raises(ValidationError, match=message):
            Settings(_env_file=None)
