"""The import rules in pyproject.toml stay complete as modules are added."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_aggregation_may_import_only_its_kernel_from_collectors() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    [contract] = [c for c in contracts if c["name"].startswith("aggregation imports only")]
    modules = {
        f"collectors.{path.stem}"
        for path in (ROOT / "collectors").glob("*.py")
        if path.stem not in ("__init__", "record", "clock", "sqlite")
    }
    assert set(contract["forbidden_modules"]) == modules, (
        "list every collectors module except the kernel (record, clock, sqlite) in the contract"
    )
