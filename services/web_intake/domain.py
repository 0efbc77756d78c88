"""Rules of the web channel: which estate and group a submission belongs to."""

from __future__ import annotations

from shared.org import OrgDirectory


class UnknownEstate(LookupError):
    pass


def group_of_estate(org: OrgDirectory, estate_id: str) -> str:
    """Every complaint belongs to one group and one estate; an estate we do not run is refused."""
    group_id = org.group_of(estate_id)
    if group_id is None:
        raise UnknownEstate(f"unknown estate_id {estate_id!r}")
    return group_id
