"""Entry points of the fax intake: an SMTP listener (aiosmtpd) and an IMAP mailbox poller (imaplib)."""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import logging
import ssl
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from services.fax_intake.config import FaxIntakeSettings
from services.fax_intake.handlers import OutOfScope, keep_broken, take_email
from shared.intake import IntakeStore
from shared.keyring import Grant, KeyRefused, KeyRing
from shared.messaging import TRANSIENT_ERRORS
from shared.org import OrgDirectory

log = logging.getLogger(__name__)


class FaxMailHandler:
    """aiosmtpd handler: the gateway signs in with its API key (SMTP AUTH, password = key; use `fax`), and
    every accepted message is stored before we answer 250."""

    def __init__(self, store: IntakeStore, org: OrgDirectory, settings: FaxIntakeSettings, keys: KeyRing) -> None:
        self.store, self.org, self.settings, self.keys = store, org, settings, keys

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                     auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        try:
            grant = self.keys.check(auth_data.password.decode(errors="replace"), "fax")
        except KeyRefused as exc:
            if exc.status == 503:
                return AuthResult(success=False, handled=False, message="454 4.7.0 Keys still loading, retry")
            log.warning("SMTP AUTH refused: %s", exc.message)
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=grant)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or b""
        grant = session.auth_data if isinstance(session.auth_data, Grant) else None
        if grant is None and self.settings.smtp_auth_required:
            return "530 5.7.0 Authentication required"
        try:
            result = await take_email(store=self.store, org=self.org, raw=raw, recipients=list(envelope.rcpt_tos),
                                      default_group=self.settings.default_group_id,
                                      threshold=self.settings.review_below_confidence, grant=grant)
        except OutOfScope as exc:
            return f"550 5.7.1 {exc}"
        except TRANSIENT_ERRORS:
            log.exception("storage unavailable; asking the gateway to retry")
            return "451 4.3.0 Temporary failure, please retry"
        except Exception as exc:  # noqa: BLE001 - a broken email is kept, never lost, never fatal
            await keep_broken(self.store, raw, exc)
            return "250 2.0.0 Kept for review"
        log.info("email via SMTP: %s", {k: v for k, v in result.items() if k != "review_reason"})
        return "250 2.0.0 OK"


async def run_smtp(handler: FaxMailHandler, settings: FaxIntakeSettings) -> None:
    loop = asyncio.get_running_loop()
    tls = None
    if settings.smtp_tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(settings.smtp_tls_cert, settings.smtp_tls_key or None)
    server = await loop.create_server(
        lambda: SMTP(handler, data_size_limit=settings.max_message_bytes, enable_SMTPUTF8=True,
                     hostname="complaint-center", authenticator=handler.authenticate,
                     auth_required=settings.smtp_auth_required, tls_context=tls,
                     require_starttls=tls is not None, auth_require_tls=tls is not None),
        host=settings.smtp_host, port=settings.smtp_port)
    log.info("SMTP listening on %s:%s", settings.smtp_host, settings.smtp_port)
    try:
        await asyncio.Future()
    finally:
        server.close()
        await server.wait_closed()


class ImapPoller:
    """Polls a mailbox: each unseen message is processed, then flagged \\Seen; one broken message never blocks."""

    def __init__(self, store: IntakeStore, org: OrgDirectory, settings: FaxIntakeSettings) -> None:
        self.store, self.org, self.settings = store, org, settings

    def _connect(self) -> imaplib.IMAP4:
        s = self.settings
        conn = imaplib.IMAP4_SSL(s.imap_host, s.imap_port) if s.imap_ssl else imaplib.IMAP4(s.imap_host, s.imap_port)
        conn.login(s.imap_user, s.imap_password)
        conn.select(s.imap_folder)
        return conn

    @staticmethod
    def _unseen(conn: imaplib.IMAP4) -> list[tuple[bytes, bytes]]:
        _, data = conn.uid("SEARCH", None, "UNSEEN")
        out = []
        for uid in (data[0] or b"").split():
            _, parts = conn.uid("FETCH", uid, "(BODY.PEEK[])")  # PEEK: seen only once we have processed it
            raw = next((p[1] for p in parts if isinstance(p, tuple)), b"")
            out.append((uid, raw))
        return out

    async def poll_once(self) -> int:
        conn = await asyncio.to_thread(self._connect)
        try:
            messages = await asyncio.to_thread(self._unseen, conn)
            for uid, raw in messages:
                await self._take(raw)
                await asyncio.to_thread(conn.uid, "STORE", uid, "+FLAGS", "(\\Seen)")
            return len(messages)
        finally:
            await asyncio.to_thread(_logout, conn)

    async def _take(self, raw: bytes) -> dict[str, Any] | None:
        try:
            return await take_email(store=self.store, org=self.org, raw=raw, recipients=[],
                                    default_group=self.settings.default_group_id,
                                    threshold=self.settings.review_below_confidence)
        except TRANSIENT_ERRORS:
            raise  # leave it unseen: the next poll tries again
        except Exception as exc:  # noqa: BLE001
            await keep_broken(self.store, raw, exc)
            return None

    async def run(self) -> None:
        while True:
            try:
                n = await self.poll_once()
                if n:
                    log.info("IMAP: processed %d message(s)", n)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the mailbox may be down; keep polling
                log.warning("IMAP poll failed: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(self.settings.imap_poll_seconds)


def _logout(conn: imaplib.IMAP4) -> None:
    with contextlib.suppress(Exception):  # a dead connection needs no goodbye
        conn.logout()
