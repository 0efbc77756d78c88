"""OCR of scanned complaint letters and faxes: text, page order, skew, and refusing what cannot be read."""

from __future__ import annotations

import asyncio
import difflib
import io

import pytest
from PIL import Image

from shared.ocr import OcrResult, PageText, UnreadableDocument, load_pages, ocr_document, ocr_document_async
from tests.scans import render_letter, to_jpeg, to_pdf, to_png, to_tiff

LETTER = (
    "尊敬的物业管理处：我是湖畔花园3栋2单元1201的业主张三，楼道灯坏了一周了没人修，"
    "晚上回家很危险，请尽快修好。联系电话13812341234。"
)
SHORT_PAGE = (1240, 420)  # a strip of a page: enough for two lines, quicker to read than a whole A4


def _flat(text: str) -> str:
    return "".join(text.split())


@pytest.fixture(scope="module")
def printed_letter() -> OcrResult:
    return ocr_document(to_png(render_letter(LETTER)), "image/png", "letter.png")


def test_a_printed_complaint_letter_reads_back_with_its_key_facts(printed_letter: OcrResult):
    text = _flat(printed_letter.text)
    assert len(printed_letter.pages) == 1
    assert "楼道灯" in text and "1201" in text and "13812341234" in text
    assert difflib.SequenceMatcher(None, text, LETTER).ratio() > 0.95
    assert printed_letter.confidence > 0.9


def test_lines_come_out_top_to_bottom_one_per_text_line(printed_letter: OcrResult):
    lines = printed_letter.text.splitlines()
    assert len(lines) >= 2
    assert lines[0].startswith("尊敬的物业管理处")
    assert printed_letter.text.index("楼道灯") < printed_letter.text.index("晚上回家")
    assert " " not in printed_letter.text  # Chinese: boxes and characters join without spaces


def test_a_skewed_two_column_form_keeps_each_row_together_left_to_right():
    form = "投诉人：张三　　　　　　　　电话：13812341234\n房号：3栋1201　　　　　　　日期：5月3日"
    result = ocr_document(to_png(render_letter(form, rotate=3.0, size=SHORT_PAGE)))
    rows = result.text.splitlines()
    assert len(rows) == 2
    assert rows[0].startswith("投诉人") and "张三电话" in rows[0]  # boxes on one row join without spaces
    assert rows[1].startswith("房号") and "日期" in rows[1]


def test_a_skewed_noisy_brush_scan_still_yields_the_key_phrases():
    scan = render_letter(LETTER, font="ukai", rotate=2.5, noise=0.01, blur=0.6)
    result = ocr_document(to_jpeg(scan), "image/jpeg")
    text = _flat(result.text)
    assert "楼道灯" in text and "1201" in text
    assert result.text.index("楼道灯") < result.text.index("尽快修好")


def test_a_clean_brush_script_letter_keeps_its_first_line():
    letter = "尊敬的领导：阳光城二期小区门口的垃圾桶已经三天没有清运，气味很大，蚊蝇很多，影响居民出行和身体健康。"
    text = _flat(ocr_document(to_png(render_letter(letter, font="ukai"))).text)
    assert text.startswith("尊敬的领导") and "垃圾桶" in text and "身体健康" in text


def test_a_page_fed_upside_down_is_read_the_right_way_round():
    page = render_letter("尊敬的物业：电梯停运三天\n请尽快维修，谢谢。", size=SHORT_PAGE).rotate(180)
    lines = ocr_document(to_png(page)).text.splitlines()
    assert len(lines) == 2
    assert "电梯停运" in lines[0] and "尽快维修" in lines[1]


@pytest.mark.parametrize("pack", [to_tiff, to_pdf], ids=["tiff", "pdf"])
def test_every_page_of_a_multipage_scan_is_read_in_order(pack):
    pages = [render_letter(text, size=SHORT_PAGE) for text in ("第一页：电梯停运三天", "第二页：地下室漏水")]
    result = ocr_document(pack(pages))
    assert len(result.pages) == 2
    assert "电梯" in result.pages[0].text and "漏水" not in result.pages[0].text
    assert "漏水" in result.pages[1].text
    assert result.text.index("电梯") < result.text.index("漏水")


def test_a_blank_page_gives_no_text_and_zero_confidence():
    result = ocr_document(to_png(render_letter("")))
    assert result.pages == [PageText(text="", confidence=0.0)]
    assert result.text == "" and result.confidence == 0.0


async def test_async_ocr_leaves_the_event_loop_free_while_reading():
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        result = await ocr_document_async(to_png(render_letter("车位被占用", size=SHORT_PAGE)), "image/png")
    finally:
        task.cancel()
    assert "车位" in result.text
    assert ticks > 5


def _truncated_png() -> bytes:
    data = to_png(render_letter(LETTER, size=SHORT_PAGE))
    return data[: len(data) // 2]


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (20, 20), 255).save(buf, format="GIF")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"", "image/png"),
        (b"\x00\x01garbage that is no picture", None),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image/png"),
        (_truncated_png(), "image/png"),
        (b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", "application/pdf"),
        (b"hello, this is a plain text complaint", "text/plain"),
        (_gif(), "image/gif"),
    ],
    ids=["empty", "garbage", "png-header-only", "truncated-png", "broken-pdf", "text", "gif"],
)
def test_unreadable_bytes_raise_a_clear_error(data: bytes, content_type: str | None):
    with pytest.raises(UnreadableDocument) as err:
        ocr_document(data, content_type)
    assert isinstance(err.value, ValueError) and str(err.value)


def test_magic_bytes_win_over_a_wrong_declared_type():
    png = to_png(render_letter("", size=(200, 200)))
    assert len(load_pages(png, "application/pdf", "scan.pdf")) == 1


def test_without_a_known_signature_the_declared_type_picks_the_decoder():
    odd = b"\r\n" * 20 + b"something unrecognisable"
    with pytest.raises(UnreadableDocument, match="not a readable PDF"):
        load_pages(odd, "application/pdf; charset=binary")
    with pytest.raises(UnreadableDocument, match="not a readable PDF"):
        load_pages(odd, None, "Scan.PDF")
    with pytest.raises(UnreadableDocument, match="not a decodable image"):
        load_pages(odd, "image/jpeg")
    with pytest.raises(UnreadableDocument, match="not a PDF, TIFF, JPEG or PNG"):
        load_pages(odd, "application/octet-stream", "upload.bin")


def test_documents_with_too_many_pages_are_refused():
    pages = [render_letter("", size=(100, 100))] * 3
    with pytest.raises(UnreadableDocument, match="3 pages"):
        load_pages(to_tiff(pages), max_pages=2)
    with pytest.raises(UnreadableDocument, match="3 pages"):
        load_pages(to_pdf(pages), max_pages=2)
    assert len(load_pages(to_tiff(pages), max_pages=3)) == 3


@pytest.mark.parametrize("limit", [6_000, 4_000], ids=["pillow-warning", "pillow-error"])
def test_decompression_bombs_are_refused(monkeypatch: pytest.MonkeyPatch, limit: int):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)  # a 100x100 page is 10,000 pixels
    page = render_letter("", size=(100, 100))
    for data in (to_png(page), to_tiff([page]), to_jpeg(page)):
        with pytest.raises(UnreadableDocument, match="too large|exceeds"):
            load_pages(data)
    with pytest.raises(UnreadableDocument, match="exceeds"):
        load_pages(to_pdf([page], resolution=72))  # rendered at 200 dpi: about 278x278 pixels


def test_fax_pages_with_half_vertical_resolution_get_square_pixels():
    page = render_letter("", size=(1728, 1143)).convert("1")  # a standard-mode fax: 204 x 98 dpi
    (loaded,) = load_pages(to_tiff([page], dpi=(204, 98)))
    assert loaded.size == (1728, 2379)
    assert loaded.mode == "RGB"


def test_document_confidence_is_weighted_by_characters():
    result = OcrResult(pages=[PageText("投诉内容", 1.0), PageText("", 0.0), PageText("电梯", 0.4)])
    assert result.confidence == pytest.approx(0.8)
    assert result.text == "投诉内容\n\n\n\n电梯"
    assert OcrResult(pages=[]).confidence == 0.0
