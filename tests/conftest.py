"""Shared pytest configuration."""

from __future__ import annotations

import os

# Never let a developer's proxy settings route loopback test traffic elsewhere.
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_name, None)
