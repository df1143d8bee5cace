"""The import rules in pyproject.toml stay complete as modules are added."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

# The collectors kernel that aggregation may import (collectors.sqlite: aiosqlite helpers).
AGGREGATION_MAY_IMPORT = ("record", "clock", "sqlite")


def _contract(prefix: str) -> dict[str, Any]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    [contract] = [c for c in contracts if c["name"].startswith(prefix)]
    return contract  # type: ignore[no-any-return]


def _units(package: str) -> set[str]:
    """Return the dotted names of a package's modules and subpackages (one level down)."""
    folder = ROOT.joinpath(*package.split("."))
    modules = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
    packages = {p.parent.name for p in folder.glob("*/__init__.py")}
    return {f"{package}.{name}" for name in modules | packages}


def test_aggregation_may_import_only_the_record_from_collectors() -> None:
    contract = _contract("aggregation imports only")
    allowed = {f"collectors.{name}" for name in AGGREGATION_MAY_IMPORT}
    assert set(contract["forbidden_modules"]) == _units("collectors") - allowed, (
        "list every collectors module and subpackage except "
        f"{', '.join(sorted(allowed))} in the contract"
    )


def test_every_exchange_unit_is_independent_of_the_others() -> None:
    contract = _contract("exchange units never import each other")
    assert contract["type"] == "independence"
    assert set(contract["modules"]) == _units("collectors.exchanges"), (
        "list every module and package under collectors/exchanges/ in the independence contract"
    )
