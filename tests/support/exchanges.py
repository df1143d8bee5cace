"""Start local stand-ins for every implemented exchange feed at once."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.settings import Settings
from tests.support import bybit
from tests.support.fixtures import lines, text
from tests.support.rest_server import RestStub
from tests.support.ws_server import Script, ScriptedServer, frames_then

USDM_FRAMES = lines("binance_usdm_forceorder.jsonl")
COINM_FRAMES = lines("binance_coinm_forceorder.jsonl")[:1]
OKX_FRAMES = lines("okx_liquidation_orders.jsonl")
EMPTY_OKX_LIST = '{"code":"0","msg":"","data":[]}'
BYBIT_LINEAR_FRAMES = lines("bybit_all_liquidation.jsonl")  # six liquidations in five frames
BYBIT_LINEAR_EVENTS = len(BYBIT_LINEAR_FRAMES) + 1
# No inverse push was recorded: this one is synthetic, in the documented shape.
BYBIT_INVERSE_FRAMES = [
    json.dumps(
        {
            "topic": "allLiquidation.BTCUSD",
            "type": "snapshot",
            "ts": 1791565601482,
            "data": [{"T": 1791565601100, "s": "BTCUSD", "S": "Sell", "v": "2500", "p": "82400.5"}],
        },
        separators=(",", ":"),
    )
]
# Issue 15's venues: connected and subscribed, sending control frames only (no liquidation, so
# the totals the existing tests assert are unchanged); their liquidations are tested by replay.
DERIBIT_CONTROL = lines("deribit_ws_control.jsonl")[:3]
BITMEX_CONTROL = ['{"info":"Welcome to the BitMEX Realtime API."}']
BITFINEX_CONTROL = lines("bitfinex_liq_global.jsonl")[:2]
KRAKEN_CONTROL = lines("kraken_futures_trade.jsonl")[:2]
BYBIT_INSTRUMENTS = "/v5/market/instruments-info"
BYBIT_SECOND_PAGE = "category=linear&cursor=page2&limit=1000"


def bybit_linear_pages() -> tuple[str, str]:
    """The linear instruments over two pages (the second asked for by cursor)."""
    rows = [bybit.row(*r) for r in bybit.LINEAR_ROWS]
    return bybit.page("linear", rows[:5], "page2"), bybit.page("linear", rows[5:])


def coinm_exchange_info() -> str:
    """The exchangeInfo fixture plus the 2020 quarterly that the recorded COIN-M frame uses."""
    info = json.loads(text("binance_coinm_exchangeinfo.json"))
    template = next(s for s in info["symbols"] if s["symbol"] == "BTCUSD_PERP")
    info["symbols"].append({**template, "symbol": "BTCUSD_200925"})
    return json.dumps(info)


@dataclass
class Exchanges:
    """The running stand-ins and settings that point the bot at them."""

    usdm: ScriptedServer
    coinm: ScriptedServer
    okx: ScriptedServer
    bybit_linear: ScriptedServer
    bybit_inverse: ScriptedServer
    rest: RestStub
    deribit: ScriptedServer
    bitmex: ScriptedServer
    bitfinex: ScriptedServer
    kraken: ScriptedServer
    # Gate, HTX and Bitget: each acknowledges its subscription and then stays quiet.
    quiet: dict[str, ScriptedServer] = field(default_factory=dict)

    def settings(self, database: Path, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_path": database,
            "exchanges": SCRIPTED_FEEDS,
            "binance_usdm_ws_url": self.usdm.url("/market/ws/!forceOrder@arr"),
            "binance_coinm_ws_url": self.coinm.url("/ws/!forceOrder@arr"),
            "binance_coinm_rest_url": self.rest.url(),
            "okx_ws_url": self.okx.url("/ws/v5/public"),
            "okx_rest_url": self.rest.url(),
            "bybit_ws_linear_url": self.bybit_linear.url("/v5/public/linear"),
            "bybit_ws_inverse_url": self.bybit_inverse.url("/v5/public/inverse"),
            "bybit_rest_url": self.rest.url(),
            **{setting: self.quiet[feed].url(path) for feed, (setting, path) in _QUIET.items()},
            "gate_rest_url": self.rest.url(),
            "htx_rest_url": self.rest.url(),
            "deribit_ws_url": self.deribit.url("/ws/api/v2"),
            "deribit_rest_url": self.rest.url(),
            "bitmex_ws_url": self.bitmex.url("/realtime"),
            "bitmex_rest_url": self.rest.url(),
            "bitfinex_ws_url": self.bitfinex.url("/ws/2"),
            "kraken_futures_ws_url": self.kraken.url("/ws/v1"),
            "kraken_futures_rest_url": self.rest.url(),
            "web_port": 0,  # the dashboard on a free port: tests never collide on 8080
            **overrides,
        }
        return Settings(_env_file=None, **values)  # type: ignore[arg-type]

    def env(self, database: Path) -> dict[str, str]:
        """The same settings as environment variables, for a subprocess."""
        settings = self.settings(database)
        return {
            "DATABASE_PATH": str(database),
            "EXCHANGES": ",".join(SCRIPTED_FEEDS),
            "BINANCE_USDM_WS_URL": settings.binance_usdm_ws_url,
            "BINANCE_COINM_WS_URL": settings.binance_coinm_ws_url,
            "BINANCE_COINM_REST_URL": settings.binance_coinm_rest_url,
            "OKX_WS_URL": settings.okx_ws_url,
            "OKX_REST_URL": settings.okx_rest_url,
            "BYBIT_WS_LINEAR_URL": settings.bybit_ws_linear_url,
            "BYBIT_WS_INVERSE_URL": settings.bybit_ws_inverse_url,
            "BYBIT_REST_URL": settings.bybit_rest_url,
            **{
                setting.upper(): getattr(settings, setting)
                for setting, _ in (*_QUIET.values(), ("gate_rest_url", ""), ("htx_rest_url", ""))
            },
            "DERIBIT_WS_URL": settings.deribit_ws_url,
            "DERIBIT_REST_URL": settings.deribit_rest_url,
            "BITMEX_WS_URL": settings.bitmex_ws_url,
            "BITMEX_REST_URL": settings.bitmex_rest_url,
            "BITFINEX_WS_URL": settings.bitfinex_ws_url,
            "KRAKEN_FUTURES_WS_URL": settings.kraken_futures_ws_url,
            "KRAKEN_FUTURES_REST_URL": settings.kraken_futures_rest_url,
            "WEB_PORT": "0",
        }

    def bot_settings(
        self, database: Path, token: str, base_url: str, **overrides: object
    ) -> Settings:
        """The settings of the bot in Telegram mode on the Binance USD-M stand-in alone,
        against the Bot API at `base_url` (the fake's); `bot_env` for the real process."""
        return self.settings(
            database,
            exchanges=("binance-usdm",),
            telegram_bot_token=token,
            telegram_base_url=base_url,
            **overrides,
        )

    def bot_env(self, database: Path, token: str, base_url: str) -> dict[str, str]:
        """The environment of the real bot in Telegram mode on the Binance USD-M stand-in alone,
        against the Bot API at `base_url` (the fake's), logging at INFO."""
        return {
            **self.env(database),
            "EXCHANGES": "binance-usdm",
            "TELEGRAM_BOT_TOKEN": token,
            "TELEGRAM_BASE_URL": base_url,
            "LOG_LEVEL": "INFO",
        }


# The feeds whose stand-ins play scripted frames (Deribit, BitMEX, Bitfinex and Kraken: control
# frames only): the tests built on them count exactly these (pass `exchanges=` to `settings` to
# add the quiet Gate, HTX and Bitget stand-ins).
SCRIPTED_FEEDS = (
    "binance-usdm",
    "binance-coinm",
    "okx",
    "bybit-linear",
    "bybit-inverse",
    "deribit",
    "bitmex",
    "bitfinex",
    "kraken-futures",
)
# Feed -> (its URL setting, the path it connects to) for the quiet stand-ins.
_QUIET = {
    "gate-usdt": ("gate_usdt_ws_url", "/v4/ws/usdt"),
    "gate-btc": ("gate_btc_ws_url", "/v4/ws/btc"),
    "htx-linear": ("htx_linear_ws_url", "/linear-swap-notification"),
    "htx-swap": ("htx_swap_ws_url", "/swap-notification"),
    "htx-futures": ("htx_futures_ws_url", "/notification"),
    "bitget": ("bitget_ws_url", "/v3/ws/public"),
}
_QUIET_ACKS = {
    "gate": ('"event":"subscribe"', lines("gate_public_liquidates_shapes.jsonl")[2]),
    "htx": ('"op":"sub"', lines("htx_liquidation_orders.jsonl")[1]),
    "bitget": ('"op":"subscribe"', '{"event":"subscribe","arg":{"topic":"liquidation"}}'),
}
_QUIET_REST = {
    "/api/v4/futures/usdt/contracts": "gate_contracts_usdt.json",
    "/api/v4/futures/btc/contracts": "gate_contracts_btc.json",
    "/linear-swap-api/v1/swap_contract_info": "htx_contracts_linear.json",
    "/swap-api/v1/swap_contract_info": "htx_contracts_swap.json",
    "/api/v1/contract_contract_info": "htx_contracts_futures.json",
}


def _acknowledge(feed: str) -> Script:
    after, ack = _QUIET_ACKS[feed.split("-", maxsplit=1)[0]]
    return frames_then([ack], after=after)


@contextlib.asynccontextmanager
async def exchanges(
    usdm: Sequence[Script] = (),
    coinm: Sequence[Script] = (),
    okx: Sequence[Script] = (),
) -> AsyncIterator[Exchanges]:
    """Serve each feed: the given scripts per connection (the last repeats), or by default the
    recorded frames once per connection; and their metadata."""
    linear = frames_then(BYBIT_LINEAR_FRAMES, after="allLiquidation.SHIB1000USDT")
    inverse = frames_then(BYBIT_INVERSE_FRAMES, after="allLiquidation.BTCUSDH27")
    async with (
        ScriptedServer(*(usdm or [frames_then(USDM_FRAMES)])) as usdm_server,
        ScriptedServer(*(coinm or [frames_then(COINM_FRAMES)])) as coinm_server,
        ScriptedServer(*(okx or [frames_then(OKX_FRAMES, after="subscribe")])) as okx_server,
        ScriptedServer(linear) as bybit_linear,
        ScriptedServer(inverse) as bybit_inverse,
        RestStub() as rest,
        ScriptedServer(frames_then(DERIBIT_CONTROL, after="public/subscribe")) as deribit,
        ScriptedServer(frames_then(BITMEX_CONTROL)) as bitmex,
        ScriptedServer(frames_then(BITFINEX_CONTROL, after="liq:global")) as bitfinex,
        ScriptedServer(frames_then(KRAKEN_CONTROL)) as kraken,
    ):
        rest.set("/dapi/v1/exchangeInfo", coinm_exchange_info())
        instruments = "/api/v5/public/instruments"
        rest.set(instruments, text("okx_instruments_swap.json"), query="instType=SWAP")
        rest.set(instruments, EMPTY_OKX_LIST, query="instType=FUTURES")
        first, second = bybit_linear_pages()
        rest.set(BYBIT_INSTRUMENTS, first, query="category=linear&limit=1000")
        rest.set(BYBIT_INSTRUMENTS, second, query=BYBIT_SECOND_PAGE)
        rest.set(BYBIT_INSTRUMENTS, bybit.inverse_page(), query="category=inverse&limit=1000")
        rest.set("/api/v2/public/get_instruments", text("deribit_instruments.json"))
        rest.set("/api/v1/instrument/active", text("bitmex_instruments.json"))
        rest.set("/derivatives/api/v3/instruments", text("kraken_instruments.json"))
        for path, fixture in _QUIET_REST.items():
            rest.set(path, text(fixture))
        async with contextlib.AsyncExitStack() as stack:
            quiet = {
                feed: await stack.enter_async_context(ScriptedServer(_acknowledge(feed)))
                for feed in _QUIET
            }
            yield Exchanges(
                usdm_server,
                coinm_server,
                okx_server,
                bybit_linear,
                bybit_inverse,
                rest,
                deribit,
                bitmex,
                bitfinex,
                kraken,
                quiet,
            )
