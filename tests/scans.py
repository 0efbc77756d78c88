"""Render Chinese text into scan-like page images (and PNG/JPEG/TIFF/PDF bytes) for OCR tests and benchmarks."""

from __future__ import annotations

import io
import random
import shutil
import subprocess
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONTS = {
    # name: (Debian path, fontconfig family, Debian package)
    "zenhei": ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "WenQuanYi Zen Hei", "fonts-wqy-zenhei"),
    "ukai": ("/usr/share/fonts/truetype/arphic/ukai.ttc", "AR PL UKai CN", "fonts-arphic-ukai"),
}
A4_150DPI = (1240, 1754)
MARGIN = 110
CHAR_PX = 32
LINE_GAP = 1.7
NO_LINE_START = "，。、；：？！）》」』”"


class FontMissing(RuntimeError):
    """A CJK font the scan helpers need is not installed."""


def font_path(font: str) -> str:
    """The file of a known CJK font: the Debian path, else what fc-list reports; a clear error when absent."""
    if font not in FONTS:
        raise ValueError(f"unknown font {font!r}; choose one of {sorted(FONTS)}")
    path, family, package = FONTS[font]
    if Path(path).is_file():
        return path
    if shutil.which("fc-list"):
        out = subprocess.run(["fc-list", f":family={family}", "file"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            candidate = line.split(":")[0].strip()
            if candidate and Path(candidate).is_file():
                return candidate
    raise FontMissing(f"font {font!r} ({family}) is not installed: run `apt-get install {package}`")


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Break text into lines of about `width`, character by character (Chinese has no spaces).

    Closing punctuation hangs at the end of a line rather than starting the next, as Chinese typesetting does.
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for ch in paragraph:
            if line and ch not in NO_LINE_START and font.getlength(line + ch) > width:
                lines.append(line)
                line = ""
            line += ch
        lines.append(line)
    return lines


def _speckle(img: Image.Image, density: float, seed: int) -> Image.Image:
    """Sprinkle reproducible dark and light specks over a fraction `density` of the pixels, like scanner dust."""
    rng = random.Random(seed)
    w, h = img.size
    threshold = max(1, min(255, round(density * 256)))
    dark = Image.frombytes("L", (w, h), rng.randbytes(w * h)).point(lambda v: 255 if v < threshold else 0)
    light = Image.frombytes("L", (w, h), rng.randbytes(w * h)).point(lambda v: 255 if v < threshold else 0)
    out = img.copy()
    out.paste(90, mask=dark)
    out.paste(235, mask=light)
    return out


def render_letter(
    text: str,
    *,
    font: str = "zenhei",
    rotate: float = 0.0,
    noise: float = 0.0,
    blur: float = 0.0,
    size: tuple[int, int] = A4_150DPI,
    char_px: int = CHAR_PX,
    seed: int = 0,
) -> Image.Image:
    """A grayscale page (A4 at 150 dpi by default) with `text` wrapped in black on white, optionally degraded.

    rotate: degrees counter-clockwise (a skewed scan); noise: fraction of pixels speckled (0.01 is light);
    blur: Gaussian blur radius in pixels.
    """
    face = ImageFont.truetype(font_path(font), char_px)
    img = Image.new("L", size, 255)
    draw = ImageDraw.Draw(img)
    margin = min(MARGIN, min(size) // 8)
    y = margin
    for line in _wrap(text, face, size[0] - 2 * margin) if text else ():
        if y + char_px > size[1] - margin:
            raise ValueError("text does not fit on one page; split it or use a larger size")
        draw.text((margin, y), line, font=face, fill=0)
        y += round(char_px * LINE_GAP)
    if rotate:
        img = img.rotate(rotate, resample=Image.Resampling.BICUBIC, fillcolor=255)
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    if noise:
        img = _speckle(img, noise, seed)
    return img


def to_png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def to_jpeg(img: Image.Image, quality: int = 80) -> bytes:
    buf = io.BytesIO()
    img.convert("L" if img.mode in ("1", "L") else "RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def to_tiff(pages: list[Image.Image], compression: str = "group4", dpi: tuple[int, int] = (150, 150)) -> bytes:
    """A multi-page TIFF; group4 (fax, 1-bit) by default, or "tiff_lzw" to keep grayscale."""
    if compression == "group4":
        pages = [p if p.mode == "1" else p.convert("L").convert("1", dither=Image.Dither.NONE) for p in pages]
    buf = io.BytesIO()
    pages[0].save(buf, format="TIFF", save_all=True, append_images=pages[1:], compression=compression, dpi=dpi)
    return buf.getvalue()


def to_pdf(pages: list[Image.Image], resolution: float = 150.0) -> bytes:
    """A PDF with one image page per picture, as a scanner's "scan to PDF" makes."""
    pages = [p.convert("L") if p.mode == "1" else p for p in pages]
    buf = io.BytesIO()
    pages[0].save(buf, format="PDF", save_all=True, append_images=pages[1:], resolution=resolution)
    return buf.getvalue()
