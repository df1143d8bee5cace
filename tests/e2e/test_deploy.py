"""deploy/: the Dockerfile, compose.yaml and the systemd unit, checked and followed step by step."""

from __future__ import annotations

import asyncio
import configparser
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.exchanges import exchanges
from tests.support.frames import binance_force_order, now_ms
from tests.support.waiting import eventually
from tests.support.ws_server import LiveFeed

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent  # the venv's scripts: liquidation-bot
UNIT_VENV = "/opt/liquidation-bot/.venv/bin/"


def _dockerfile() -> list[tuple[str, str]]:
    """Return (instruction, arguments) of deploy/Dockerfile, continuation lines joined."""
    text = (DEPLOY / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    rows = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            instruction, _, rest = line.strip().partition(" ")
            rows.append((instruction.upper(), rest.strip()))
    return rows


def _unit() -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    unit.read(DEPLOY / "liquidation-bot.service")
    return unit


def test_the_dockerfile_is_slim_non_root_with_a_volume_and_a_healthcheck() -> None:
    rows = _dockerfile()
    instructions = [name for name, _ in rows]
    assert rows[0] == ("FROM", "python:3.11-slim")
    users = [args for name, args in rows if name == "USER"]
    assert users
    assert users[-1] not in ("root", "0")
    assert ("VOLUME", '["/data"]') in rows
    assert ("ENV", "DATABASE_PATH=/data/liquidations.db") in rows
    [health] = [args for name, args in rows if name == "HEALTHCHECK"]
    assert "/healthz" in health
    assert ("STOPSIGNAL", "SIGTERM") in rows
    assert instructions.count("CMD") == 1
    assert instructions[-1] == "CMD"
    # Every file the image copies is let through .dockerignore.
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    let_through = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = {src.rstrip("/") for name, args in rows if name == "COPY" for src in args.split()[:-1]}
    assert copied == let_through


def test_the_image_entry_command_runs() -> None:
    command = json.loads(_dockerfile()[-1][1])
    assert command == ["liquidation-bot", "run"]
    done = subprocess.run(
        [str(BIN / command[0]), *command[1:], "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "DATABASE_PATH" in done.stdout


def test_the_healthcheck_command_is_valid_python() -> None:
    [health] = [args for name, args in _dockerfile() if name == "HEALTHCHECK"]
    exec_form = json.loads(health.split(" CMD ", 1)[1])
    assert exec_form[:2] == ["python", "-c"]
    compile(exec_form[2], "<healthcheck>", "exec")


def test_compose_builds_the_image_with_a_volume_and_the_env_file() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    for needle in (
        "dockerfile: deploy/Dockerfile",
        "context: ..",
        "restart: unless-stopped",
        "liquidation-data:/data",
        "path: ../.env",
        "stop_grace_period: 15s",
    ):
        assert needle in text, needle


def test_the_unit_restarts_on_failure_and_is_hardened() -> None:
    service = _unit()["Service"]
    assert service["ExecStart"] == UNIT_VENV + "liquidation-bot run"
    expected = {
        "Restart": "on-failure",
        "RestartPreventExitStatus": "2",
        "KillSignal": "SIGTERM",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "DynamicUser": "yes",
        "StateDirectory": "liquidation-bot",
        "CapabilityBoundingSet": "",
    }
    assert {key: service.get(key) for key in expected} == expected
    assert int(service["TimeoutStopSec"]) > 5
    assert _unit()["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    text = (DEPLOY / "liquidation-bot.service").read_text().replace(UNIT_VENV, f"{BIN}/")
    unit = tmp_path / "liquidation-bot.service"
    unit.write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")


async def test_the_readme_service_steps_with_the_unit_in_a_temp_dir(tmp_path: Path) -> None:
    """The README's systemd steps, in a temp dir: env file, ExecStart, stop, backup, upgrade."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Run as a service", 1)[1].split("\n## ", 1)[0]
    for step in ("install -m 600 .env.example /etc/liquidation-bot/env", "liquidation-bot backup"):
        assert step in section
    service = _unit()["Service"]
    state = tmp_path / "var-lib-liquidation-bot"  # StateDirectory
    state.mkdir(mode=0o700)
    env_file = tmp_path / "env"  # EnvironmentFile, from .env.example with the feed set
    shutil.copyfile(ROOT / ".env.example", env_file)
    feed = LiveFeed()
    async with exchanges(usdm=[feed]) as ex:
        settings = {**ex.env(state / "x.db"), "EXCHANGES": "binance-usdm"}
        del settings["DATABASE_PATH"]  # the unit's Environment= sets it
        with env_file.open("a") as lines:
            lines.writelines(f"{key}={value}\n" for key, value in settings.items())
        env = {"PATH": os.environ["PATH"], **_read_env(env_file)}
        name, value = service["Environment"].split("=", 1)
        env[name] = value.replace("/var/lib/liquidation-bot", str(state))
        command = service["ExecStart"].replace(UNIT_VENV, f"{BIN}/").split()
        process = await asyncio.create_subprocess_exec(
            *command, env=env, cwd=state,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await asyncio.wait_for(feed.connected.wait(), 30)
            feed.push(binance_force_order("BTCUSDT", "SELL", "1", "80000", now_ms()))
            database = state / "liquidations.db"
            await eventually(lambda: _events(database) == 1, timeout=20)
            backup = tmp_path / "backup.db"  # "liquidation-bot backup FILE" while it runs
            backing_up = await asyncio.create_subprocess_exec(
                str(BIN / "liquidation-bot"), "backup", str(backup), env=env, cwd=state,
                stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            _, backup_err = await asyncio.wait_for(backing_up.communicate(), 60)
            assert backing_up.returncode == 0, backup_err.decode()
            sent = time.monotonic()
            process.send_signal(signal.SIGTERM)  # systemctl stop (KillSignal)
            out, err = await asyncio.wait_for(process.communicate(), 30)
            stopped_in = time.monotonic() - sent
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert process.returncode == 0, err.decode()
    assert stopped_in < int(service["TimeoutStopSec"])
    assert out.decode().endswith("liquidation-bot stopped\n")
    assert _events(backup) == 1
    assert _events(database) == 1


def _read_env(path: Path) -> dict[str, str]:
    """Read an EnvironmentFile: KEY=VALUE lines, comments and blanks skipped."""
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def _events(path: Path) -> int:
    try:
        with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT COUNT(*) FROM liquidations").fetchone()[0])
    except sqlite3.Error:
        return 0
