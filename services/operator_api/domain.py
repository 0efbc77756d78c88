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


def check_assigned(case: dict[str, Any]) -> None:
    if case.get("status") != "assigned":
        raise CaseStateConflict(f"case is {case.get('status')}: only an assigned case")


def check_can_progress(step: str):
    def check(case: dict[str, Any]) -> None:
        check_assigned(case)
        if step in case.get("met", []):
            raise CaseStateConflict(f"{step} is already recorded")
    return check


def check_can_send_back(by: str, window_end: Any, now: Any):
    """退单: only the assignee, only within the window after assignment."""
    def check(case: dict[str, Any]) -> None:
        check_assigned(case)
        if (case.get("assignee") or {}).get("staff_id") != by:
            raise CaseStateConflict(f"only the assignee {(case.get('assignee') or {}).get('staff_id')} can send it "
                                    f"back")
        if window_end(case) < now:
            raise CaseStateConflict("the send-back window has passed; ask a supervisor to reassign")
    return check


def check_can_reassign(case: dict[str, Any]) -> None:
    if case.get("status") not in ("assigned", "waiting"):
        raise CaseStateConflict(f"case is {case.get('status')}: only an open case can be reassigned")


def check_can_pause(case: dict[str, Any]) -> None:
    check_assigned(case)
    if case.get("paused"):
        raise CaseStateConflict("clocks are already paused")


def check_can_resume(case: dict[str, Any]) -> None:
    if not case.get("paused"):
        raise CaseStateConflict("clocks are not paused")
