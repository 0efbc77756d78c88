"""Every service's view of the organisation directory follows the assignment service's DirectoryChanged events.

Each process reads `org.directory` from the beginning without a consumer group (nothing to commit: the
view is rebuilt in memory at every start, on top of the YAML seed), so all instances see every change.
"""

from __future__ import annotations

import logging

from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from shared.contracts import BadMessage, DirectoryChanged, parse
from shared.messaging import _raw_body
from shared.org import OrgDirectory
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)


def follow_directory(broker: KafkaBroker, settings: ServiceSettings, service: str, org: OrgDirectory) -> None:
    @broker.subscriber(settings.topic("org.directory"), group_id=None, auto_offset_reset="earliest",
                       ack_policy=AckPolicy.MANUAL, decoder=_raw_body, title=f"{service}:org.directory")
    async def on_change(body: bytes) -> None:
        try:
            envelope = parse(body)
            if not isinstance(envelope.payload, DirectoryChanged):
                raise BadMessage(f"unexpected {envelope.type} on org.directory")
            org.apply_change(envelope.payload.model_dump())
        except Exception as exc:  # noqa: BLE001 - a bad change is skipped and logged; the view keeps working
            log.warning("directory change not applied: %s: %s", type(exc).__name__, exc)
