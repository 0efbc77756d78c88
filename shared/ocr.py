"""Chinese OCR of scanned letters and faxes (PDF, multi-page TIFF, JPEG, PNG) with RapidOCR, run on the CPU."""

from __future__ import annotations

import asyncio
import functools
import io
import math
import struct
import threading
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pypdfium2 as pdfium
from PIL import Image, ImageOps

if TYPE_CHECKING:
    from rapidocr_onnxruntime import RapidOCR

MAX_PAGES = 50
PDF_DPI = 200
# RapidOCR's per-line 0/180 degree classifier is left off: it flips sound brush-script (Kaiti) lines and so drops
# them, and on an upside-down page it rights each line but leaves the lines in reverse order. Instead a page whose
# mean box score is below this (an upside-down page scores ~0 or nothing) is read again turned as a whole.
UPSIDE_DOWN_BELOW = 0.8
_MAGIC = (
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),
    (b"MM\x00+", "tiff"),
)
_CONTENT_TYPES = {
    "application/pdf": "pdf",
    "application/x-pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/pjpeg": "jpeg",
    "image/tiff": "tiff",
    "image/tiff-fx": "tiff",
}
_SUFFIXES = {"pdf": "pdf", "png": "png", "jpg": "jpeg", "jpeg": "jpeg", "jpe": "jpeg", "tif": "tiff", "tiff": "tiff"}
_PIL_FORMATS = {"PNG", "JPEG", "MPO", "TIFF"}
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error)

# pdfium is not thread-safe, and RapidOCR's detector keeps per-call state on itself: one caller at a time each.
_PDFIUM_LOCK = threading.Lock()
_ENGINE_LOCK = threading.Lock()


class UnreadableDocument(ValueError):
    """The bytes are not a PDF, TIFF, JPEG or PNG that can be decoded safely."""


@dataclass
class PageText:
    text: str
    confidence: float  # mean recognition score of the page's text boxes; 0.0 when the page has no text


@dataclass
class OcrResult:
    pages: list[PageText]

    @property
    def text(self) -> str:
        return "\n\n".join(page.text for page in self.pages)

    @property
    def confidence(self) -> float:
        """Mean of the pages' confidences weighted by their number of (non-space) characters; 0.0 without text."""
        weights = [len("".join(page.text.split())) for page in self.pages]
        total = sum(weights)
        if not total:
            return 0.0
        return sum(w * page.confidence for w, page in zip(weights, self.pages, strict=True)) / total


# ---------------------------------------------------------------- decoding


def _kind(data: bytes, content_type: str | None, filename: str | None) -> str:
    """pdf, png, jpeg or tiff: by magic bytes first, then by the declared content type, then by the file name."""
    if not data:
        raise UnreadableDocument("empty document: no bytes were received")
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data.find(b"%PDF-", 0, 1024) >= 0:  # PDF readers allow junk before the header
        return "pdf"
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared in _CONTENT_TYPES:
        return _CONTENT_TYPES[declared]
    suffix = (filename or "").rsplit(".", 1)[-1].lower() if "." in (filename or "") else ""
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    raise UnreadableDocument(
        f"not a PDF, TIFF, JPEG or PNG document (content type {content_type!r}, file name {filename!r})"
    )


def _check_pixels(width: float, height: float) -> None:
    """Refuse pages larger than Pillow's decompression-bomb limit before any pixel is decoded."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit and width * height > limit:
        raise UnreadableDocument(f"page of {int(width)}x{int(height)} pixels exceeds the limit of {limit} pixels")


def _check_page_count(count: int, max_pages: int) -> None:
    if count < 1:
        raise UnreadableDocument("the document has no pages")
    if count > max_pages:
        raise UnreadableDocument(f"the document has {count} pages; at most {max_pages} are read")


def _render_pdf_page(pdf: pdfium.PdfDocument, index: int, dpi: int) -> Image.Image:
    page = pdf[index]
    try:
        width, height = page.get_size()  # PDF points, 1/72 inch
        scale = dpi / 72
        _check_pixels(width * scale, height * scale)
        return page.render(scale=scale).to_pil().convert("RGB")
    finally:
        page.close()


def _pdf_pages(data: bytes, max_pages: int, dpi: int = PDF_DPI) -> list[Image.Image]:
    with _PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise UnreadableDocument(f"not a readable PDF: {exc}") from exc
        try:
            _check_page_count(len(pdf), max_pages)
            return [_render_pdf_page(pdf, i, dpi) for i in range(len(pdf))]
        except pdfium.PdfiumError as exc:
            raise UnreadableDocument(f"a PDF page could not be rendered: {exc}") from exc
        finally:
            pdf.close()


def _open_image(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise UnreadableDocument(f"image too large to decode safely: {exc}") from exc
    except _DECODE_ERRORS as exc:
        raise UnreadableDocument(f"not a decodable image: {exc}") from exc
    if img.format not in _PIL_FORMATS:
        raise UnreadableDocument(f"unsupported image format {img.format}; send a PDF, TIFF, JPEG or PNG")
    return img


def _square_pixels(img: Image.Image) -> Image.Image:
    """Stretch images with unequal horizontal and vertical resolution (fax: 204x98 dpi) to square pixels."""
    try:
        xdpi, ydpi = (float(v) for v in img.info.get("dpi", (0, 0)))
    except (TypeError, ValueError):
        return img
    if xdpi <= 0 or ydpi <= 0 or abs(xdpi / ydpi - 1) < 0.1:
        return img
    width, height = img.size
    if xdpi > ydpi:
        return img.resize((width, round(height * xdpi / ydpi)), Image.Resampling.BICUBIC)
    return img.resize((round(width * ydpi / xdpi), height), Image.Resampling.BICUBIC)


def _image_pages(data: bytes, max_pages: int) -> list[Image.Image]:
    img = _open_image(data)
    count = getattr(img, "n_frames", 1) if img.format == "TIFF" else 1  # MPO/APNG extra frames are not pages
    _check_page_count(count, max_pages)
    pages = []
    try:
        for index in range(count):
            img.seek(index)
            _check_pixels(*img.size)
            frame = ImageOps.exif_transpose(img).convert("RGB")  # camera pictures carry their rotation in EXIF
            frame.info["dpi"] = img.info.get("dpi", (0, 0))
            pages.append(_square_pixels(frame))
    except _DECODE_ERRORS as exc:
        raise UnreadableDocument(f"truncated or corrupt image (page {len(pages) + 1}): {exc}") from exc
    return pages


def load_pages(
    data: bytes, content_type: str | None = None, filename: str | None = None, *, max_pages: int = MAX_PAGES
) -> list[Image.Image]:
    """Decode a scanned document into RGB page images: every PDF page (at 200 dpi) or TIFF frame, or one image.

    Raises UnreadableDocument for empty, corrupt, truncated, unsupported, oversized or too-many-page input.
    """
    if _kind(data, content_type, filename) == "pdf":
        return _pdf_pages(data, max_pages)
    return _image_pages(data, max_pages)


# ---------------------------------------------------------------- recognition


@functools.cache
def _create_engine() -> RapidOCR:
    from rapidocr_onnxruntime import RapidOCR  # heavy (onnxruntime, OpenCV): only when OCR is first used

    return RapidOCR(use_cls=False, print_verbose=False)


@dataclass(frozen=True)
class _Box:
    text: str
    score: float
    cx: float
    cy: float
    width: float
    height: float
    slope: float  # dy/dx of the box's top edge: the page's skew as seen by this box

    @classmethod
    def of(cls, points: Any, text: str, score: float) -> _Box:
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points  # clockwise from the top left
        width = max(math.dist((x0, y0), (x1, y1)), 1.0)
        height = max((math.dist((x0, y0), (x3, y3)) + math.dist((x1, y1), (x2, y2))) / 2, 1.0)
        cx, cy = (x0 + x1 + x2 + x3) / 4, (y0 + y1 + y2 + y3) / 4
        return cls(text.strip(), float(score), cx, cy, width, height, slope=(y1 - y0) / max(x1 - x0, 1.0))


def _reading_order(boxes: list[_Box]) -> list[list[_Box]]:
    """Group boxes into lines top to bottom, each left to right, after undoing the page's skew.

    The skew is that of the widest box (a full text line measures it best); a box joins a line when its
    deskewed centre is within half a text height of the line's first box.
    """
    skew = max(boxes, key=lambda b: b.width).slope

    def level(box: _Box) -> float:
        return box.cy - box.cx * skew

    lines: list[list[_Box]] = []
    for box in sorted(boxes, key=level):
        for line in lines:
            if abs(level(box) - level(line[0])) < 0.5 * min(box.height, line[0].height):
                line.append(box)
                break
        else:
            lines.append([box])
    lines.sort(key=lambda line: sum(map(level, line)) / len(line))
    return [sorted(line, key=lambda b: b.cx) for line in lines]


def _read_boxes(rgb: Image.Image) -> list[_Box]:
    with _ENGINE_LOCK:
        result, _elapsed = _create_engine()(rgb, use_cls=False)
    return [_Box.of(points, text, score) for points, text, score in result or () if text.strip()]


def _weight(boxes: list[_Box]) -> float:
    return sum(box.score * len(box.text) for box in boxes)


def ocr_image(img: Image.Image) -> PageText:
    """Text of one page: lines top to bottom joined with newlines, boxes on a line joined without spaces.

    Skew of a few degrees is handled by the detector's rotated boxes and by _reading_order. A page that reads
    badly or not at all is read again turned 180 degrees (a letter fed upside down), and the better reading kept.
    """
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    boxes = _read_boxes(rgb)
    if not boxes or sum(box.score for box in boxes) / len(boxes) < UPSIDE_DOWN_BELOW:
        turned = _read_boxes(rgb.transpose(Image.Transpose.ROTATE_180))
        if _weight(turned) > _weight(boxes):
            boxes = turned
    if not boxes:
        return PageText(text="", confidence=0.0)
    lines = _reading_order(boxes)
    text = "\n".join("".join(box.text for box in line) for line in lines)
    return PageText(text=text, confidence=sum(box.score for box in boxes) / len(boxes))


def ocr_document(
    data: bytes, content_type: str | None = None, filename: str | None = None, *, max_pages: int = MAX_PAGES
) -> OcrResult:
    """OCR every page of a scanned PDF/TIFF/JPEG/PNG. CPU-bound: from async code use ocr_document_async."""
    pages = load_pages(data, content_type, filename, max_pages=max_pages)
    return OcrResult(pages=[ocr_image(page) for page in pages])


async def ocr_document_async(
    data: bytes, content_type: str | None = None, filename: str | None = None, *, max_pages: int = MAX_PAGES
) -> OcrResult:
    """ocr_document in a worker thread, so the event loop keeps serving while a page is read (~1-2 s each)."""
    return await asyncio.to_thread(ocr_document, data, content_type, filename, max_pages=max_pages)
