"""Shared pytest configuration."""

from __future__ import annotations

import os

from hypothesis import settings

# Never let a developer's proxy settings route loopback test traffic elsewhere.
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_name, None)

# HYPOTHESIS_PROFILE=long pytest --timeout=0 tests/unit/test_fuzz_parsers.py: thousands of fresh
# examples per test where a test does not fix its own count (the default run stays quick and
# reproducible).
settings.register_profile("long", max_examples=5_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
