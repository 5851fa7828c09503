"""Test-side helpers for the session's moto server (the fixtures are in tests/conftest.py)."""

from __future__ import annotations

import urllib.request


def reset_moto(endpoint_url: str) -> None:
    """Empty every backend of the moto server: the next test starts from a fresh account."""
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
