"""The native Dovecot IMAP server takes a faxed complaint mail, serves it back intact, and leaves no process behind."""

from __future__ import annotations

import base64
import email
import email.policy
import imaplib
import io
import socket
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate, make_msgid
from pathlib import Path

import pytest

from deploy.native.dovecot import instance_name, start_dovecot, stop_dovecot

# No skip: the fax e2e tests need dovecot too, and .ci/run installs dovecot-imapd; where it is missing,
# start_dovecot fails with the package to install rather than the suite passing without an IMAP server.

USER = "fax@example.test"
PASSWORD = "secret"
SUBJECT = "传真投诉"
TIFF_NAME = "fax-0001.tif"


@dataclass
class Server:
    run_dir: Path
    port: int
    proc: subprocess.Popen

    def login(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        imap.login(USER, PASSWORD)
        return imap


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dovecot(tmp_path: Path) -> Iterator[Server]:
    run_dir = tmp_path / "dovecot"
    port = free_port()
    proc = start_dovecot(run_dir, port, {USER: PASSWORD})
    try:
        yield Server(run_dir, port, proc)
    finally:
        stop_dovecot(proc)


def tiny_tiff() -> bytes:
    """A 1x1 black-and-white TIFF, as a fax machine would send: Pillow's when installed, else hand-made."""
    try:
        from PIL import Image
    except ImportError:
        pass
    else:
        buf = io.BytesIO()
        Image.new("1", (1, 1)).save(buf, format="TIFF")
        return buf.getvalue()
    entries = [  # tag, type (3 SHORT, 4 LONG), value; the single pixel byte follows the IFD
        (256, 3, 1), (257, 3, 1), (258, 3, 1), (259, 3, 1), (262, 3, 0), (273, 4, 8 + 2 + 8 * 12 + 4),
        (278, 3, 1), (279, 4, 1),
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, typ, value in entries:
        packed = struct.pack("<HH", value, 0) if typ == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, typ, 1) + packed
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + b"\x00"


def fax_mail(tiff: bytes) -> bytes:
    """An RFC 5322 message as a fax-to-email gateway sends it: RFC 2047 subject, TIFF attachment, CRLF lines."""
    boundary = "=_fax_boundary_42"
    encoded_subject = "=?UTF-8?B?" + base64.b64encode(SUBJECT.encode()).decode() + "?="
    body = base64.b64encode("来自 021-5555 0101 的传真，共 1 页。\n".encode()).decode()
    attachment = base64.encodebytes(tiff).decode().strip()
    lines = [
        "From: Fax Gateway <fax-gateway@example.test>",
        f"To: {USER}",
        f"Date: {formatdate(localtime=False)}",
        f"Message-ID: {make_msgid(domain='example.test')}",
        f"Subject: {encoded_subject}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{boundary}"',
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=UTF-8",
        "Content-Transfer-Encoding: base64",
        "",
        body,
        f"--{boundary}",
        f'Content-Type: image/tiff; name="{TIFF_NAME}"',
        "Content-Transfer-Encoding: base64",
        f'Content-Disposition: attachment; filename="{TIFF_NAME}"',
        "",
        *attachment.splitlines(),
        f"--{boundary}--",
        "",
    ]
    return "\r\n".join(lines).encode("ascii")


def ok(response: tuple[str, list]) -> list:
    typ, data = response
    assert typ == "OK", data
    return data


def unseen(imap: imaplib.IMAP4) -> list[bytes]:
    return ok(imap.search(None, "UNSEEN"))[0].split()


def leftover_processes(proc: subprocess.Popen, run_dir: Path) -> list[str]:
    """Live processes of this run: in the master's process group, or titled `dovecot-<instance>/...`."""
    marks = [f"dovecot-{instance_name(run_dir)}/".encode(), str(run_dir.resolve() / "dovecot.conf").encode()]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        state, _ppid, pgrp = stat[stat.rindex(")") + 2:].split()[:3]
        if state != "Z" and (int(pgrp) == proc.pid or any(m in cmdline for m in marks)):
            title = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{entry.name} {title}")
    return found


def test_fax_mail_with_chinese_subject_and_tiff_comes_back_intact_and_can_be_marked_seen(dovecot):
    tiff = tiny_tiff()
    imap = dovecot.login()
    try:
        ok(imap.append("INBOX", None, None, fax_mail(tiff)))
        ok(imap.select("INBOX"))
        [num] = unseen(imap)

        data = ok(imap.fetch(num, "(RFC822)"))
        msg = email.message_from_bytes(data[0][1], policy=email.policy.default)
        assert msg["Subject"] == SUBJECT
        [part] = list(msg.iter_attachments())
        assert part.get_filename() == TIFF_NAME
        assert part.get_content_type() == "image/tiff"
        assert part.get_content() == tiff
        assert "传真" in msg.get_body(preferencelist=("plain",)).get_content()

        ok(imap.store(num, "+FLAGS", "\\Seen"))
        assert unseen(imap) == []
    finally:
        imap.logout()


def test_peeking_at_a_fax_leaves_it_unseen_until_it_is_flagged_seen(dovecot):
    imap = dovecot.login()
    try:
        ok(imap.append("INBOX", None, None, fax_mail(tiny_tiff())))
        ok(imap.select("INBOX"))
        [num] = unseen(imap)
        data = ok(imap.fetch(num, "(BODY.PEEK[])"))  # unlike RFC822, which sets \Seen as a side effect
        assert email.message_from_bytes(data[0][1], policy=email.policy.default)["Subject"] == SUBJECT
        assert unseen(imap) == [num]
        ok(imap.store(num, "+FLAGS", "\\Seen"))
        assert unseen(imap) == []
    finally:
        imap.logout()


def test_mail_survives_a_restart_of_dovecot_on_the_same_folder(tmp_path):
    run_dir, port = tmp_path / "dovecot", free_port()
    proc = start_dovecot(run_dir, port, {USER: PASSWORD})
    try:
        imap = Server(run_dir, port, proc).login()
        ok(imap.append("INBOX", None, None, fax_mail(tiny_tiff())))
        imap.logout()
    finally:
        stop_dovecot(proc)
    proc = start_dovecot(run_dir, port, {USER: PASSWORD})
    try:
        imap = Server(run_dir, port, proc).login()
        ok(imap.select("INBOX"))
        assert len(unseen(imap)) == 1
        imap.logout()
    finally:
        stop_dovecot(proc)


def test_stopping_dovecot_with_clients_connected_leaves_no_process_behind(tmp_path):
    run_dir, port = tmp_path / "dovecot", free_port()
    proc = start_dovecot(run_dir, port, {USER: PASSWORD})
    logged_in = waiting = None
    try:
        logged_in = Server(run_dir, port, proc).login()  # an imap process
        ok(logged_in.select("INBOX"))
        waiting = imaplib.IMAP4("127.0.0.1", port, timeout=10)  # an imap-login process, not authenticated
        running = leftover_processes(proc, run_dir)
        assert len(running) >= 5, running  # master, log, config, auth, imap, imap-login, ...
    finally:
        stop_dovecot(proc)
        for client in (logged_in, waiting):
            if client is not None:
                client.shutdown()
    assert proc.returncode is not None
    assert leftover_processes(proc, run_dir) == []
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
