"""Rules the operator API checks before it sends a command: is the case in a state that allows it."""

from __future__ import annotations

from typing import Any


class CaseStateConflict(Exception):
    """The case is not in a state that allows the command (HTTP 409)."""


def check_can_resolve(case: dict[str, Any]) -> None:
    if case.get("status") != "assigned":
        raise CaseStateConflict(f"case is {case.get('status')}: only an assigned case can be resolved")


def check_can_record_callback(case: dict[str, Any]) -> None:
    if case.get("status") != "resolved":
        raise CaseStateConflict(f"case is {case.get('status')}: callbacks are recorded on resolved cases")


def check_can_correct(case: dict[str, Any]) -> None:
    if case.get("status") in (None, "received") or "subcategory" not in case:
        raise CaseStateConflict("case is not triaged yet: nothing to correct")
