"""The vendored chart library is the published uPlot 1.6.32, byte for byte, with its license."""

from __future__ import annotations

import hashlib
from pathlib import Path

UPLOT = Path(__file__).resolve().parents[2] / "bot" / "web" / "static" / "vendor" / "uplot"
SHA256 = {
    "uPlot.iife.min.js": "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f",
    "uPlot.min.css": "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04",
    "LICENSE": "8f989229699b4fe2f1a0432d0e9edc338a8a911e250e2d1b01ecd770a5f5b1bd",
}


def test_uplot_files_match_their_recorded_checksums() -> None:
    for name, digest in SHA256.items():
        assert hashlib.sha256((UPLOT / name).read_bytes()).hexdigest() == digest, name
    readme = (UPLOT / "README.md").read_text()
    assert "uplot@1.6.32" in readme
    assert all(digest in readme for digest in SHA256.values())
    assert "MIT License" in (UPLOT / "LICENSE").read_text()
