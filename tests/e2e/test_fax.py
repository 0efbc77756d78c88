"""Fax-to-email: gateway emails with TIFF pages over SMTP become cases; machine mail and repeats do not."""

from __future__ import annotations

import asyncio
import smtplib
import uuid
from email.message import EmailMessage
from email.utils import make_msgid

from deploy.dev_keys import dev_key
from tests.e2e.conftest import SMTP_PORT, case_where, filed
from tests.helpers import eventually
from tests.scans import render_letter, to_tiff

FAX = ("致朝阳苑物业服务中心：本公司租用朝阳苑商铺1号，近一周地下车库积水严重，车辆无法进出，"
       "请尽快处理。联系人：王经理，电话13900002222。")


def fax_email(*, text: str = FAX, to: str = "fax-02166660009@fax.example.test", msgid: str | None = None,
              **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = '"FAX 021-55551234" <gateway@fax.example.test>'
    msg["To"] = to
    msg["Subject"] = "传真：来自 021-55551234 的传真（2页）"
    msg["Message-ID"] = msgid or make_msgid(domain="fax.example.test")
    for k, v in headers.items():
        msg[k.replace("_", "-")] = v
    msg.set_content("您收到一份新传真，请查看附件。")
    msg.add_attachment(to_tiff([render_letter(text), render_letter("第二页：谢谢配合。")]), maintype="image",
                       subtype="tiff", filename="传真-0001.tif")
    return msg


async def send(msg: EmailMessage) -> None:
    def _send() -> None:
        with smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=60) as smtp:
            smtp.login("fax-gateway", dev_key("fax"))
            smtp.send_message(msg)

    await asyncio.to_thread(_send)


async def find_by_source(ops, key: str) -> dict | None:
    r = await ops.get("/api/v1/complaints", params={"channel": "fax", "page_size": 100})
    for item in r.json()["items"]:
        case = (await ops.get(f"/api/v1/complaints/{item['complaint_id']}")).json()
        if case.get("source_ref") == key:
            return case
    return None


async def test_a_fax_email_over_smtp_becomes_a_case_with_its_text_sender_and_raw_email(ops):
    msgid = make_msgid(domain="fax.example.test")
    msg = fax_email(msgid=msgid)
    await send(msg)
    key = "mid:" + msgid.strip("<>")
    case = await eventually(lambda: find_by_source(ops, key), timeout=60, what="the fax case")
    case = await case_where(ops, case["complaint_id"], filed, timeout=30)

    assert case["channel"] == "fax" and case["estate_id"] == "e-sunrise"
    assert "地下车库积水" in case["text"] and "第二页" in case["text"]
    assert case["complainant"]["phone"] == "021-55551234"
    eml = await ops.get(f"/api/v1/complaints/{case['complaint_id']}/originals/0")
    assert eml.status_code == 200 and msgid.encode() in eml.content
    tif = await ops.get(f"/api/v1/complaints/{case['complaint_id']}/originals/1")
    assert tif.content[:2] in (b"II", b"MM") and "%E4%BC%A0%E7%9C%9F" in tif.headers["content-disposition"]

    await send(fax_email(msgid=msgid))  # the gateway retries the same message
    await asyncio.sleep(1)
    r = await ops.get("/api/v1/complaints", params={"channel": "fax", "page_size": 100})
    same = [i for i in r.json()["items"] if i["complaint_id"] == case["complaint_id"]]
    assert len(same) == 1
    assert await find_by_source(ops, key) is not None


async def test_auto_replies_and_bounces_make_no_case(ops, infra, prefix):
    from pymongo import AsyncMongoClient

    marker = uuid.uuid4().hex
    await send(fax_email(msgid=f"<ooo-{marker}@x>", Auto_Submitted="auto-replied"))
    bounce = EmailMessage()
    bounce["From"] = "MAILER-DAEMON@fax.example.test"
    bounce["To"] = "fax-02166660009@fax.example.test"
    bounce["Subject"] = "Undeliverable: 传真"
    bounce["Message-ID"] = f"<bounce-{marker}@x>"
    bounce.set_content("delivery failed")
    await send(bounce)

    client = AsyncMongoClient(infra.mongo_url)
    ignored = client[f"{prefix}_fax_intake"]["ignored_mail"]
    await eventually(lambda: _count(ignored, marker), what="both machine mails ignored")
    await client.close()
    assert await find_by_source(ops, f"mid:ooo-{marker}@x") is None


async def _count(coll, marker: str) -> bool:
    return await coll.count_documents({"raw": {"$regex": marker}}) >= 2


async def test_a_fax_with_a_corrupt_tiff_becomes_a_case_for_review(ops):
    msgid = make_msgid(domain="fax.example.test")
    msg = EmailMessage()
    msg["From"] = "gateway@fax.example.test"
    msg["To"] = "fax-057188880009@fax.example.test"
    msg["Subject"] = "Fax from 0571-66667777"
    msg["Message-ID"] = msgid
    msg.set_content("new fax")
    msg.add_attachment(b"II*\x00broken-tiff" + uuid.uuid4().bytes, maintype="image", subtype="tiff",
                       filename="fax.tif")
    await send(msg)
    case = await eventually(lambda: find_by_source(ops, "mid:" + msgid.strip("<>")), timeout=60, what="review case")
    assert case["needs_review"] is True and "unreadable" in case["review_reason"]
    assert case["estate_id"] == "e-lakeside" and case["complainant"]["phone"] == "0571-66667777"


async def test_faxes_in_the_imap_mailbox_are_taken_once_and_a_broken_one_does_not_block(ops):
    import imaplib
    import time

    from tests.e2e.conftest import IMAP_PASSWORD, IMAP_PORT, IMAP_USER

    good_id, broken_id = make_msgid(domain="imap.test"), make_msgid(domain="imap.test")
    broken = (f"Message-ID: {broken_id}\r\nFrom: gw@x\r\nTo: fax-02166660009@x\r\nSubject: =?bogus?Q?x?=\r\n"
              "Content-Type: multipart/mixed; boundary=\"never-closed\"\r\n\r\n--never-closed\r\n"
              "Content-Type: image/tiff; name=\"a.tif\"\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!notb64").encode()

    def append() -> None:
        conn = imaplib.IMAP4("127.0.0.1", IMAP_PORT)
        conn.login(IMAP_USER, IMAP_PASSWORD)
        for raw in (broken, fax_email(msgid=good_id, to="fax-02166660009@x").as_bytes()):
            conn.append("INBOX", "", imaplib.Time2Internaldate(time.time()), raw)
        conn.logout()

    await asyncio.to_thread(append)
    case = await eventually(lambda: find_by_source(ops, "mid:" + good_id.strip("<>")), timeout=60,
                            what="the fax from IMAP")
    assert "地下车库" in case["text"]

    def unseen() -> int:
        conn = imaplib.IMAP4("127.0.0.1", IMAP_PORT)
        conn.login(IMAP_USER, IMAP_PASSWORD)
        conn.select("INBOX")
        n = len(conn.search(None, "UNSEEN")[1][0].split())
        conn.logout()
        return n

    await eventually(lambda: _none_unseen(unseen), timeout=30, what="every message flagged seen")


async def _none_unseen(unseen) -> bool:
    return await asyncio.to_thread(unseen) == 0
