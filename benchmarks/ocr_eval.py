"""Character accuracy and speed of RapidOCR (shared.ocr) against Tesseract chi_sim on generated Chinese scans.

Run: python -m benchmarks.ocr_eval [--save DIR]
Accuracy = 1 - Levenshtein(ocr, truth) / len(truth) on whitespace-stripped strings (floored at 0).
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from shared.ocr import load_pages, ocr_document
from tests.scans import render_letter, to_jpeg, to_pdf, to_png, to_tiff

LETTERS = [
    "尊敬的物业管理处：我是湖畔花园3栋2单元1201的业主张三，楼道灯坏了一周了没人修，晚上回家很危险，"
    "请尽快修好。联系电话13812341234。",
    "物业客服中心：本人住在翠苑小区8幢602室，楼上住户每天夜里十二点以后还在装修敲打，已经连续两周，"
    "老人和孩子都睡不好觉。希望物业出面协调，限定施工时间。业主李四，电话13900001111。",
    "致金色家园物业：地下车库B2层的排水沟堵塞，下雨后积水有二十厘米深，我的车位C-117被淹，"
    "车辆底盘进水。请尽快疏通并说明赔偿办法。王女士，2024年6月18日。",
    "投诉信：5号楼东侧电梯本月已经停运三次，最长一次困人四十分钟，维保公司迟迟不到场。"
    "请物业公开电梯维保记录，并在一周内给出整改方案。住户代表：赵六，15011112222。",
    "尊敬的领导：阳光城二期小区门口的垃圾桶已经三天没有清运，气味很大，蚊蝇很多，"
    "影响居民出行和身体健康。我们每月按时缴纳物业费每平方米2.8元，希望得到应有的服务。",
    "物业管理处负责人：我家住在11栋1单元301，厨房天花板漏水，是楼上402的水管破裂造成的。"
    "多次联系楼上住户无人应答，请物业派维修人员到场查看并协调处理。联系人陈先生。",
    "投诉：小区南门保安夜间经常不在岗，外来车辆随意进出，上周有两辆电动车被盗。"
    "请加强巡逻，调取监控录像，并给业主一个书面答复。绿城小区业主委员会，2024年3月5日。",
    "您好：我是紫荆苑15栋703的租户，物业上个月的水费账单显示用水42吨，比平时多了三倍，"
    "怀疑水表故障。请安排人员核查水表读数并退还多收的费用。电话18666668888，刘女士。",
    "致物业公司：小区中心花园的儿童游乐设施有多处螺丝松动，滑梯边缘有裂口，"
    "昨天我家孩子的手被划伤。请立即停用并维修，同时检查其他公共设施的安全隐患。孙先生。",
    "紧急投诉：今天上午九点起，9栋整栋停水，物业没有提前通知，也没有说明恢复时间。"
    "楼里有行动不便的老人，请尽快恢复供水，并安排送水服务。业主群代表周女士，13577778888。",
]


@dataclass(frozen=True)
class Sample:
    name: str
    truth: str
    data: bytes


def fax(img: Image.Image) -> bytes:
    """A standard-mode fax of a 150-dpi page: 204 x 98 dpi, 1-bit without dithering, Group 4 TIFF."""
    w, h = img.size
    low = img.convert("L").resize((round(w * 204 / 150), round(h * 98 / 150)), Image.Resampling.BILINEAR)
    bits = low.point(lambda v: 255 if v > 150 else 0).convert("1", dither=Image.Dither.NONE)
    return to_tiff([bits], compression="group4", dpi=(204, 98))


def samples() -> list[Sample]:
    """Ten scans: printed (zenhei) and brush (ukai) faces, 0-3 degree skew, light noise and blur, one fax."""
    plan: list[tuple[str, str, float, float, float, Callable[[Image.Image], bytes]]] = [
        ("zenhei clean PNG", "zenhei", 0.0, 0.0, 0.0, to_png),
        ("zenhei 1° JPEG q80", "zenhei", 1.0, 0.0, 0.0, to_jpeg),
        ("zenhei 2.5° noise", "zenhei", 2.5, 0.01, 0.0, to_png),
        ("zenhei blur 1.0", "zenhei", 0.0, 0.0, 1.0, to_png),
        ("ukai clean PNG", "ukai", 0.0, 0.0, 0.0, to_png),
        ("ukai -2° noise", "ukai", -2.0, 0.01, 0.0, to_png),
        ("ukai 1.5° blur 0.8", "ukai", 1.5, 0.0, 0.8, lambda p: to_tiff([p], compression="tiff_lzw")),
        ("zenhei 3° noise+blur PDF", "zenhei", 3.0, 0.008, 0.7, lambda p: to_pdf([p])),
        ("zenhei fax 204x98 1-bit", "zenhei", 0.5, 0.0, 0.0, fax),
        ("ukai -3° JPEG q70", "ukai", -3.0, 0.005, 0.5, lambda p: to_jpeg(p, quality=70)),
    ]
    out = []
    for (name, font, rotate, noise, blur, pack), text in zip(plan, LETTERS, strict=True):
        page = render_letter(text, font=font, rotate=rotate, noise=noise, blur=blur, seed=len(out))
        out.append(Sample(name, text, pack(page)))
    return out


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions all cost 1), two rows of memory."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def flat(text: str) -> str:
    return "".join(text.split())


def no_punct(text: str) -> str:
    """Letters and digits only: shows how much of the error is punctuation (，vs , and the like)."""
    return "".join(ch for ch in flat(text) if unicodedata.category(ch)[0] in "LN")


def accuracy(ocr: str, truth: str) -> float:
    return max(0.0, 1 - edit_distance(ocr, truth) / len(truth))


def run_rapidocr(sample: Sample) -> tuple[str, float, int]:
    start = time.perf_counter()
    result = ocr_document(sample.data)
    return result.text, time.perf_counter() - start, len(result.pages)


def run_tesseract(sample: Sample, binary: str, psm: int | None = None) -> tuple[str, float, int]:
    """The same decoded pages as RapidOCR gets, each as a PNG through `tesseract - stdout -l chi_sim`."""
    pages = load_pages(sample.data)
    command = [binary, "-", "stdout", "-l", "chi_sim", *(["--psm", str(psm)] if psm is not None else [])]
    texts, elapsed = [], 0.0
    for page in pages:
        png = to_png(page)
        start = time.perf_counter()
        done = subprocess.run(command, input=png, capture_output=True, timeout=300, check=True)
        elapsed += time.perf_counter() - start
        texts.append(done.stdout.decode("utf-8", "replace"))
    return "\n\n".join(texts), elapsed, len(pages)


def tesseract_binary() -> str | None:
    """The tesseract CLI if it is installed with the chi_sim language; else None."""
    binary = shutil.which("tesseract")
    if not binary:
        return None
    langs = subprocess.run([binary, "--list-langs"], capture_output=True, text=True).stdout.split()
    return binary if "chi_sim" in langs else None


@dataclass
class Tally:
    """Running totals of one engine over the samples."""

    edits: int = 0
    chars: int = 0
    edits_letters: int = 0
    chars_letters: int = 0
    seconds: float = 0.0
    pages: int = 0

    def add(self, ocr: str, truth: str, seconds: float, pages: int) -> tuple[float, float]:
        self.edits += edit_distance(flat(ocr), flat(truth))
        self.chars += len(flat(truth))
        self.edits_letters += edit_distance(no_punct(ocr), no_punct(truth))
        self.chars_letters += len(no_punct(truth))
        self.seconds += seconds
        self.pages += pages
        return accuracy(flat(ocr), flat(truth)), seconds / pages

    def overall(self) -> tuple[float, float, float]:
        """Character-weighted accuracy, the same ignoring punctuation, and seconds per page."""
        return 1 - self.edits / self.chars, 1 - self.edits_letters / self.chars_letters, self.seconds / self.pages


ROW = "{:<26} {:>5} | {:>9} {:>8} | {:>9} {:>8}"


def _cells(acc: float, per_page: float) -> tuple[str, str]:
    return f"{acc:.1%}", f"{per_page:.2f}"


def evaluate(save: Path | None, verbose: bool, psm: int | None) -> None:
    tesseract = tesseract_binary()
    start = time.perf_counter()
    ocr_document(to_png(render_letter("预热", size=(400, 200))))  # create the engine once, outside the timings
    print(f"RapidOCR engine start-up: {time.perf_counter() - start:.2f} s (once per process, not in s/page)")
    print(ROW.format("sample", "chars", "RapidOCR", "s/page", "Tesseract", "s/page"))
    print("-" * 76)
    rapid, tess = Tally(), Tally()
    for number, sample in enumerate(samples(), 1):
        r_text, r_seconds, pages = run_rapidocr(sample)
        r_cells = _cells(*rapid.add(r_text, sample.truth, r_seconds, pages))
        t_text, t_cells = "", ("not installed", "")
        if tesseract:
            t_text, t_seconds, t_pages = run_tesseract(sample, tesseract, psm)
            t_cells = _cells(*tess.add(t_text, sample.truth, t_seconds, t_pages))
        print(ROW.format(sample.name, len(flat(sample.truth)), *r_cells, *t_cells))
        if verbose:
            print(f"    RapidOCR : {flat(r_text)}\n    Tesseract: {flat(t_text)}")
        if save:
            _save(save, number, sample, r_text, t_text)
    print("-" * 76)
    _print_overall(rapid, tess if tesseract else None)


def _print_overall(rapid: Tally, tess: Tally | None) -> None:
    r_acc, r_letters, r_speed = rapid.overall()
    t_acc, t_letters, t_speed = tess.overall() if tess else (None, None, None)

    def cell(value: float | None, fmt: str) -> str:
        return "not installed" if value is None else format(value, fmt)

    print(ROW.format("overall (char-weighted)", rapid.chars, cell(r_acc, ".1%"), f"{r_speed:.2f}",
                     cell(t_acc, ".1%"), "" if t_speed is None else f"{t_speed:.2f}"))
    print(ROW.format("  ignoring punctuation", rapid.chars_letters, cell(r_letters, ".1%"), "",
                     cell(t_letters, ".1%"), ""))


def _save(folder: Path, number: int, sample: Sample, rapid_text: str, tesseract_text: str) -> None:
    """The sample as sent (its own format), a PNG preview, the truth and both engines' text."""
    folder.mkdir(parents=True, exist_ok=True)
    kind = Image.open(io.BytesIO(sample.data)).format.lower() if not sample.data.startswith(b"%PDF") else "pdf"
    stem = folder / f"{number:02d}"
    stem.with_suffix(f".{kind}").write_bytes(sample.data)
    load_pages(sample.data)[0].save(stem.with_suffix(".png"))
    stem.with_suffix(".txt").write_text(
        f"truth:\n{sample.truth}\n\nRapidOCR:\n{rapid_text}\n\nTesseract:\n{tesseract_text}\n", encoding="utf-8"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", type=Path, help="write each sample, a PNG preview and both engines' text here")
    parser.add_argument("--verbose", action="store_true", help="print what each engine read")
    parser.add_argument("--psm", type=int, help="Tesseract page segmentation mode (default: its own, 3; 6 = one block)")
    args = parser.parse_args()
    evaluate(args.save, args.verbose, args.psm)


if __name__ == "__main__":
    main()
