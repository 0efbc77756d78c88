"""Composition root of the follow-up service."""

from __future__ import annotations

from fastapi import FastAPI

from services.followup.config import FollowUpSettings
from services.followup.entrypoints import notice_loop, register
from services.followup.notices import NoticeDesk
from services.followup.notify import Sender, SmsGatewaySender, SmtpSender
from shared.aggregate import AggregateStore
from shared.directory_feed import follow_directory
from shared.org import load_org
from shared.runtime import create_app, create_runtime

NAME = "followup"


def senders(settings: FollowUpSettings) -> dict[str, Sender]:
    out: dict[str, Sender] = {}
    if settings.notice_smtp_host:
        out["email"] = SmtpSender(settings.notice_smtp_host, settings.notice_smtp_port, settings.notice_smtp_from,
                                  username=settings.notice_smtp_user, password=settings.notice_smtp_password,
                                  starttls=settings.notice_smtp_starttls)
    if settings.sms_gateway_url:
        out["sms"] = SmsGatewaySender(settings.sms_gateway_url, api_key=settings.sms_gateway_key,
                                      sender_name=settings.sms_sign)
    return out


def build_app(settings: FollowUpSettings | None = None) -> FastAPI:
    settings = settings or FollowUpSettings()
    rt = create_runtime(NAME, settings)
    org = load_org(settings.org_seed_path)
    # callbacks fall on the next working day: holiday notices entered by an admin arrive as directory changes
    follow_directory(rt.broker, settings, NAME, org)
    store = AggregateStore(rt.db["callbacks"], rt.relay("callbacks"), settings)
    desk = NoticeDesk(rt.db["notices"], rt.relay("notices"), settings, org, senders(settings),
                      settings.notice_retry_scale)
    rt.on_start.append(desk.ensure_indexes)
    rt.singleton("notices", notice_loop(desk, settings.notice_sweep_seconds))
    register(rt, store, desk, settings.max_callback_attempts, settings.callback_hour)
    return create_app(rt, title="回访 Follow-up")
