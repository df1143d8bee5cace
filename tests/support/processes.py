"""The real `liquidation-bot` process in tests: start it, read its output, see it end; and a
local address that refuses connections, to point it at."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path


def closed_port() -> int:
    """Return a local port nothing listens on (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def spawn_bot(
    env: dict[str, str], cwd: Path, *, stdout: int = asyncio.subprocess.PIPE
) -> asyncio.subprocess.Process:
    """Start `python -m bot` with `env` over this process's environment; stderr piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", env={**os.environ, **env}, cwd=cwd,
        stdout=stdout, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def read_until(
    stream: asyncio.StreamReader, needle: str, seen: list[str], timeout_s: float = 30.0
) -> None:
    """Read lines into `seen` until one read now contains `needle`; fail if the stream ends."""
    async with asyncio.timeout(timeout_s):
        while True:
            line = (await stream.readline()).decode()
            assert line, f"the stream ended before {needle!r}: {''.join(seen)}"
            seen.append(line)
            if needle in line:
                return


async def output_at_exit(
    process: asyncio.subprocess.Process, timeout_s: float = 30.0
) -> tuple[str, str]:
    """Wait for the process to end and return the rest of its stdout ("" when not piped) and
    its stderr. A process still running after `timeout_s` is killed and the test fails with
    what it had written."""
    reads = [
        asyncio.ensure_future(stream.read() if stream else asyncio.sleep(0, b""))
        for stream in (process.stdout, process.stderr)
    ]
    try:
        async with asyncio.timeout(timeout_s):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()
        _, err = await asyncio.gather(*reads)
        raise AssertionError(
            f"still running {timeout_s:g} s after the test's last step; its stderr:\n"
            + err.decode()
        ) from None
    finally:
        if process.returncode is None:  # cancelled
            process.kill()
            await process.wait()
    out, err = await asyncio.gather(*reads)
    return out.decode(), err.decode()
