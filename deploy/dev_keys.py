"""The development API keys of deploy/accounts_dev.yaml, for `make up`'s printout, tests and benchmarks."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

ACCOUNTS = Path(__file__).parent / "accounts_dev.yaml"


@cache
def dev_keys() -> dict[str, str]:
    """use (phone, letter, fax, web) → the development key for it."""
    data = yaml.safe_load(ACCOUNTS.read_text(encoding="utf-8"))
    return {use: k["key"] for k in data.get("api_keys", []) for use in k["uses"]}


def dev_key(use: str) -> str:
    return dev_keys()[use]
