"""The import rules in pyproject.toml stay complete as modules are added."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

# The collectors "kernel": small shared modules any package may import.
KERNEL = {
    "record", "clock", "assets", "backoff", "outage", "supervisor", "endpoints", "sqlite"
}  # fmt: skip
# The part of the kernel that aggregation may import.
AGGREGATION_MAY_IMPORT = ("record", "clock", "sqlite", "outage")
# The parts of bot/ that talk to the outside world (Telegram, exchanges), or start it: every
# other part is pure and belongs in the purity contract.
NOT_PURE = {
    "bot.__main__",
    "bot.app",
    "bot.cli",
    "bot.delivery",
    "bot.handlers",
    "bot.logs",
    "bot.web",
}


def contract(starts: str) -> dict[str, Any]:
    """Return the import-linter contract whose name starts with `starts`."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    [found] = [c for c in contracts if c["name"].startswith(starts)]
    return dict(found)


def parts(package: str) -> set[str]:
    """Return the modules and subpackages directly inside a package (its __init__ left out)."""
    folder = ROOT.joinpath(*package.split("."))
    modules = {f"{package}.{path.stem}" for path in folder.glob("*.py") if path.stem != "__init__"}
    packages = {f"{package}.{path.parent.name}" for path in folder.glob("*/__init__.py")}
    return modules | packages


def test_aggregation_may_import_only_its_kernel_from_collectors() -> None:
    allowed = {f"collectors.{name}" for name in AGGREGATION_MAY_IMPORT}
    assert set(contract("aggregation imports only")["forbidden_modules"]) == (
        parts("collectors") - allowed
    ), f"list every collectors module and subpackage except {sorted(allowed)} in the contract"


def test_every_exchange_unit_is_independent_of_the_others() -> None:
    rule = contract("exchange units never import each other")
    assert rule["type"] == "independence"
    assert set(rule["modules"]) == parts("collectors.exchanges"), (
        "list every module and package under collectors/exchanges/ in the independence contract"
    )


def test_every_part_of_bot_is_in_a_layer() -> None:
    layers = contract("bot in layers")["layers"]
    listed = {name.strip().strip("()") for layer in layers for name in layer.split("|")}
    missing = parts("bot") - {"bot.__main__"} - listed
    assert not missing, f"put {sorted(missing)} in a layer of the bot's layers contract"


def test_every_pure_part_of_bot_is_in_the_purity_contract() -> None:
    pure = set(contract("bot's pure packages")["source_modules"])
    assert pure.isdisjoint(NOT_PURE)
    unclassified = parts("bot") - pure - NOT_PURE
    assert not unclassified, (
        f"{sorted(unclassified)}: add to the purity contract, or to NOT_PURE if it talks to "
        "Telegram or the network"
    )


def test_only_the_composition_roots_import_internals() -> None:
    rule = contract("only bot.app imports")
    assert set(rule["source_modules"]) == parts("bot") - {"bot.app"}, (
        "every part of bot/ but bot.app belongs in source_modules"
    )
    internals = {m for m in parts("aggregation") if m != "aggregation.query"}
    internals |= {m for m in parts("collectors") if m.split(".")[1] not in KERNEL}
    assert set(rule["forbidden_modules"]) == internals, (
        "list every aggregation module but query, and every collectors module outside the "
        "kernel, in forbidden_modules"
    )
