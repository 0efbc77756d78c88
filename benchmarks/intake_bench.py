"""Intake throughput on the running center (`make bench-intake`), each figure beside a baseline from the same run.

Baselines: the HTTP floor (GET /healthz of the same service) for the call and form intakes, and OCR alone
(in this process, same pages) for the scan and fax intakes, so the figure shows what the adapter adds.
"""

from __future__ import annotations

import asyncio
import smtplib
import time
import uuid
from email.message import EmailMessage
from email.utils import make_msgid

import httpx

from deploy.dev_keys import dev_key
from deploy.native import stack
from shared.ocr import ocr_document
from tests.scans import render_letter, to_png, to_tiff

OPS, WEB, PHONE, LETTER = "http://127.0.0.1:8000", "http://127.0.0.1:8001", "http://127.0.0.1:8002", \
    "http://127.0.0.1:8003"
TEXT = "尊敬的物业管理处：我是湖畔花园3栋2单元1201的业主，楼道灯坏了一周了没人修，请尽快修好。联系电话13812341234。"


async def rate(n: int, concurrency: int, one) -> float:
    """Requests per second for n calls of `one(i)` with `concurrency` in flight."""
    sem = asyncio.Semaphore(concurrency)

    async def run(i: int) -> None:
        async with sem:
            await one(i)

    t0 = time.perf_counter()
    await asyncio.gather(*(run(i) for i in range(n)))
    return n / (time.perf_counter() - t0)


async def assigned_count(client: httpx.AsyncClient, channel: str) -> int:
    r = await client.get(f"{OPS}/api/v1/complaints", params={"channel": channel, "status": "assigned",
                                                              "page_size": 1})
    return r.json()["total"]


async def until_assigned(client: httpx.AsyncClient, channel: str, target: int, t0: float) -> float:
    while await assigned_count(client, channel) < target:
        await asyncio.sleep(0.2)
    return time.perf_counter() - t0


def call(i: int) -> dict:
    return {"call_id": f"bench-{uuid.uuid4().hex}", "caller_number": "13812341234", "called_line": "0571-88880001",
            "started_at": "2026-11-27T09:00:00+08:00", "ended_at": "2026-11-27T09:03:00+08:00",
            "operator_id": "op-bench", "transcript": [{"speaker": "坐席", "text": "您好，请讲。"},
                                                       {"speaker": "业主", "text": f"{i}号楼道灯坏了一周了没人修。"}]}


async def bench_calls(client: httpx.AsyncClient, n: int) -> list[tuple]:
    floor = await rate(n, 8, lambda i: client.get(f"{PHONE}/healthz"))
    before = await assigned_count(client, "phone")
    t0 = time.perf_counter()
    calls = await rate(n, 8, lambda i: client.post(f"{PHONE}/api/v1/calls", json=call(i),
                                                                 headers={"X-Api-Key": dev_key("phone")}))
    e2e = n / await until_assigned(client, "phone", before + n, t0)
    form = await rate(n, 8, lambda i: client.post(f"{WEB}/api/v1/complaints", headers={"X-Api-Key": dev_key("web")},
                                                  json={
        "estate_id": "e-lakeside", "complainant": {"name": "张三", "phone": "13812341234"}, "text": TEXT}))
    return [("phone: calls accepted /s", n, calls, floor, "GET /healthz /s"),
            ("phone: calls to assigned /s (whole pipeline)", n, e2e, floor, "GET /healthz /s"),
            ("web form: complaints accepted /s", n, form, floor, "GET /healthz /s")]


async def bench_scans(client: httpx.AsyncClient, pages: int) -> list[tuple]:
    images = [to_png(render_letter(f"{TEXT}（第{i}封）")) for i in range(pages)]
    t0 = time.perf_counter()
    for data in images:
        await asyncio.to_thread(ocr_document, data, "image/png")
    ocr_only = pages / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i, data in enumerate(images):
        r = await client.post(f"{LETTER}/api/v1/scans", data={"estate_id": "e-lakeside", "batch_id": uuid.uuid4().hex},
                              files=[("files", (f"p{i}.png", data, "image/png"))], timeout=120,
                              headers={"X-Api-Key": dev_key("letter")})
        r.raise_for_status()
    letters = pages / (time.perf_counter() - t0)
    return [("letters: pages accepted /s", pages, letters, ocr_only, "OCR alone, pages/s")]


def send_fax(i: int) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"] = "gw@fax.bench", "fax-02166660009@fax.bench"
    msg["Subject"], msg["Message-ID"] = f"Fax from 021-5555{i:04d}", make_msgid(domain="fax.bench")
    msg.set_content("fax")
    msg.add_attachment(to_tiff([render_letter(TEXT)]), maintype="image", subtype="tiff", filename="fax.tif")
    with smtplib.SMTP("127.0.0.1", 2525, timeout=120) as smtp:
        smtp.login("fax-gateway", dev_key("fax"))
        smtp.send_message(msg)


async def bench_fax(client: httpx.AsyncClient, n: int) -> list[tuple]:
    tif = to_tiff([render_letter(TEXT)])
    t0 = time.perf_counter()
    for _ in range(n):
        await asyncio.to_thread(ocr_document, tif, "image/tiff")
    ocr_only = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(n):
        await asyncio.to_thread(send_fax, i)
    faxes = n / (time.perf_counter() - t0)
    return [("fax: one-page faxes accepted over SMTP /s", n, faxes, ocr_only, "OCR alone, pages/s")]


async def main() -> None:
    stack.up(stack.default_stack())
    login = httpx.post(f"{OPS}/api/v1/auth/login", json={"username": "admin", "password": "Hengan-dev-2026"},
                       timeout=30)  # the development admin (deploy/accounts_dev.yaml) reads the queue
    login.raise_for_status()
    async with httpx.AsyncClient(timeout=60, headers={"Authorization": f"Bearer {login.json()['token']}"}) as client:
        rows = [*await bench_calls(client, 200), *await bench_scans(client, 5), *await bench_fax(client, 3)]
    print(f"\n{'figure':<46} {'n':>5} {'value':>9}   {'baseline (same run)':>20}  ratio")
    for name, n, value, base, base_name in rows:
        print(f"{name:<46} {n:>5} {value:>9.1f}   {base:>9.1f} {base_name:<20} {value / base:>5.2f}")


if __name__ == "__main__":
    asyncio.run(main())
