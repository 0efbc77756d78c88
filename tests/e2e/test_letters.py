"""Letters and suggestion-box notes: scans uploaded or dropped in the scanner folder become cases, read by OCR."""

from __future__ import annotations

import uuid

from deploy.dev_keys import dev_key
from tests.e2e.conftest import case_where, filed
from tests.helpers import eventually
from tests.scans import render_letter, to_jpeg, to_pdf, to_png, to_tiff

LETTER = ("尊敬的物业管理处：我是湖畔花园3栋2单元1201的业主张三，楼道灯坏了一周了没人修，"
          "晚上回家很危险，请尽快修好。联系电话13812341234。")
PAGE_TWO = "另外，楼梯间的灯也不亮了，上周我母亲晚上下楼摔了一跤。希望尽快维修。此致敬礼！"


async def test_an_uploaded_two_page_letter_becomes_one_case_with_its_text_and_scans(ops, center):
    import httpx

    pages = [render_letter(LETTER, rotate=1.5, noise=0.01), render_letter(PAGE_TWO + uuid.uuid4().hex[:6])]
    async with httpx.AsyncClient(base_url=center.url("letter_intake"), timeout=60,
                                 headers={"X-Api-Key": dev_key("letter")}) as letters:
        files = [("files", ("p1.png", to_png(pages[0]), "image/png")),
                 ("files", ("p2.jpg", to_jpeg(pages[1]), "image/jpeg"))]
        r = await letters.post("/api/v1/scans", data={"estate_id": "e-lakeside", "source": "letter"}, files=files)
        assert r.status_code == 202, r.text
        assert r.json()["pages"] == 2
        again = await letters.post("/api/v1/scans", data={"estate_id": "e-lakeside", "source": "letter"},
                                   files=files)
        assert again.status_code == 200 and again.json()["complaint_id"] == r.json()["complaint_id"]

    case = await case_where(ops, r.json()["complaint_id"], filed, timeout=30)
    assert case["channel"] == "letter"
    assert "楼道灯" in case["text"] and "楼梯间" in case["text"]
    assert case["complainant"]["phone"] == "13812341234" and case["complainant"]["unit"] == "3栋2单元1201"
    assert case["subcategory"] == "repair"
    scan = await ops.get(f"/api/v1/complaints/{case['complaint_id']}/originals/0")
    assert scan.status_code == 200 and scan.content == files[0][1][1]


async def test_a_multi_page_tiff_and_a_pdf_are_each_one_letter(center, ops):
    import httpx

    marker = uuid.uuid4().hex[:6]
    tiff = to_tiff([render_letter(LETTER + marker), render_letter(PAGE_TWO)])
    pdf = to_pdf([render_letter("意见箱：建议周末开放活动室，方便孩子们活动。" + marker)])
    async with httpx.AsyncClient(base_url=center.url("letter_intake"), timeout=60,
                                 headers={"X-Api-Key": dev_key("letter")}) as letters:
        r1 = await letters.post("/api/v1/scans", data={"estate_id": "e-lakeside"},
                                files=[("files", ("letter.tif", tiff, "image/tiff"))])
        r2 = await letters.post("/api/v1/scans", data={"estate_id": "e-sunrise", "source": "mailbox"},
                                files=[("files", ("note.pdf", pdf, "application/pdf"))])
    assert r1.status_code == 202 and r1.json()["pages"] == 2
    assert r2.status_code == 202 and r2.json()["pages"] == 1
    note = await case_where(ops, r2.json()["complaint_id"], filed, timeout=30)
    assert note["channel"] == "mailbox" and "活动室" in note["text"] and note["severity"] == "minor"


async def test_a_corrupt_upload_is_kept_as_a_case_for_review_not_lost(center, ops):
    import httpx

    async with httpx.AsyncClient(base_url=center.url("letter_intake"), timeout=60,
                                 headers={"X-Api-Key": dev_key("letter")}) as letters:
        r = await letters.post("/api/v1/scans", data={"estate_id": "e-lakeside"},
                               files=[("files", ("broken.png", b"\x89PNG\r\n\x1a\n" + uuid.uuid4().bytes,
                                                 "image/png"))])
        assert r.status_code == 202 and r.json()["needs_review"] is True
        assert "unreadable" in r.json()["review_reason"]
        bad = await letters.post("/api/v1/scans", data={"estate_id": "e-nowhere"},
                                 files=[("files", ("x.png", b"123", "image/png"))])
        assert bad.status_code == 422
        empty = await letters.post("/api/v1/scans", data={"estate_id": "e-lakeside"},
                                   files=[("files", ("x.png", b"", "image/png"))])
        assert empty.status_code == 422
    case = await case_where(ops, r.json()["complaint_id"], filed, timeout=30)
    assert case["needs_review"] is True and case["triage"]["needs_review"] is True


async def test_a_scan_dropped_in_the_scanner_folder_becomes_a_case_and_moves_to_processed(center, ops):
    inbox = center.stack.run_dir / "scan-inbox"
    folder = inbox / "e-sunrise" / "letter"
    folder.mkdir(parents=True, exist_ok=True)
    marker = uuid.uuid4().hex[:8]
    page = render_letter("朝阳苑5栋的电梯坏了三天，老人上下楼很困难。" + marker)
    (folder / f"{marker}.png").write_bytes(to_png(page))

    done = inbox / "processed" / "e-sunrise" / "letter" / f"{marker}.png.reason.txt"
    await eventually(lambda: _exists(done), timeout=60, what="the scan moved to processed/")
    tracking_no = done.read_text().strip()
    case = await case_where(ops, tracking_no, filed, timeout=60)  # OCR and five hops while the suite runs
    assert case["estate_id"] == "e-sunrise" and case["channel"] == "letter" and "电梯" in case["text"]


async def _exists(path) -> bool:
    return path.exists()
