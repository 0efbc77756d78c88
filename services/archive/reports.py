"""The review-meeting report (总结评价/会审报告): a month's or a quarter's rollup as an Excel workbook and a PDF.

Pure functions over the rollup dict another module produces; nothing here reads the database. A missing number
(None, or an absent key) prints as "—". Percentages print with one decimal ("92.5%"), durations as "38.0 分钟" and
"26.5 小时". The period's `end` is exclusive (a November report ends on 12-01), so the range shows its last day.

The PDF uses reportlab's built-in CID font STSong-Light: no font file is needed or embedded, and its text stays
extractable (viewers supply the glyphs, as they do for any Adobe-GB1 document).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.piecharts import Pie
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from shared.terms import SEVERITY_ZH, zh

NONE = "—"
FONT = "STSong-Light"
Col = tuple[str, str, str]  # (header, key, kind); kinds: text, int, pct, min, h

KEY_FIGURES: list[Col] = [
    ("受理投诉 (Received)", "received", "int"), ("已办结 (Resolved)", "resolved", "int"),
    ("已归档 (Closed)", "closed", "int"), ("重开 (Reopened)", "reopened", "int"),
    ("重复投诉 (Repeat)", "repeat", "int"), ("特急投诉 (Emergency)", "emergency", "int"),
    ("时效达标 (SLA met)", "sla_met", "int"), ("时效超时 (SLA breached)", "sla_breached", "int"),
    ("时效达标率 (SLA compliance)", "sla_compliance", "pct"), ("回访数 (Surveyed)", "surveyed", "int"),
    ("满意数 (Satisfied)", "satisfied", "int"), ("满意率 (Satisfaction rate)", "satisfaction_rate", "pct"),
    ("回访未接通 (Unreachable)", "unreachable", "int"),
    ("首次响应中位数 (Respond P50)", "respond_p50_min", "min"), ("首次响应P90 (Respond P90)", "respond_p90_min", "min"),
    ("办结时长中位数 (Resolve P50)", "resolve_p50_h", "h"), ("办结时长P90 (Resolve P90)", "resolve_p90_h", "h"),
]
_RATES: list[Col] = [("受理量 (Received)", "received", "int"), ("办结量 (Resolved)", "resolved", "int"),
                     ("时效达标率 (SLA compliance)", "sla_compliance", "pct"),
                     ("满意率 (Satisfaction rate)", "satisfaction_rate", "pct")]


def _counts(what: str) -> list[Col]:
    return [(what, "label", "text"), ("编码 (Key)", "key", "text"), ("数量 (Count)", "count", "int"),
            ("占比 (Share)", "share", "pct")]


# sheet name → (report key, columns); `share` and `rank` are derived, every other key is the input's own
TABLES: dict[str, tuple[str, list[Col]]] = {
    "按区域": ("by_region", [("区域 (Region)", "label", "text"), ("编码 (Key)", "key", "text"), *_RATES]),
    "按项目": ("by_estate", [("项目 (Estate)", "label", "text"), ("所属区域 (Region)", "region", "text"),
                          ("编码 (Key)", "key", "text"), *_RATES]),
    "按类别": ("by_category", _counts("类别 (Category)")),
    "按渠道": ("by_channel", _counts("渠道 (Channel)")),
    "按级别": ("by_severity", _counts("级别 (Severity)")),
    "细类排行": ("top_subcategories", [("排名 (Rank)", "rank", "int"), ("细类 (Subcategory)", "label", "text"),
                                   ("编码 (Key)", "key", "text"), ("数量 (Count)", "count", "int")]),
    "热点": ("hotspots", [("排名 (Rank)", "rank", "int"), ("项目 (Estate)", "estate", "text"),
                        ("楼栋 (Building)", "building", "text"), ("投诉量 (Count)", "count", "int"),
                        ("主要问题 (Top issue)", "top", "text")]),
    "满意度": ("satisfaction", _counts("评价 (Rating)")),
}
XLSX_FORMATS = {"int": "0", "pct": "0.0%", "min": '0.0" 分钟"', "h": '0.0" 小时"'}
PALETTE = [colors.HexColor(c) for c in ("#2f6db5", "#e8873a", "#4aa36c", "#c9473f", "#8a6bbf", "#3fa6b3", "#d4a72c",
                                         "#8c8c8c", "#b5597f", "#6b8e23")]


def fmt(value: Any, kind: str = "text") -> str:
    """How a value prints in the PDF (and in the workbook's text cells)."""
    if value is None or value == "":
        return NONE
    if kind == "text" or isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return {"int": f"{value:.0f}", "pct": f"{value * 100:.1f}%", "min": f"{value:.1f} 分钟",
            "h": f"{value:.1f} 小时"}[kind]


def _title(report: dict) -> str:
    group, period = report.get("group") or {}, report.get("period") or {}
    return report.get("title") or f"{group.get('name', '')} {period.get('label', '')}投诉分析报告".strip()


def _range(period: dict) -> str:
    start, end = period.get("start"), period.get("end")
    try:
        last = (date.fromisoformat(end) - timedelta(days=1)).isoformat()
    except (TypeError, ValueError):
        last = end
    return f"{fmt(start)} 至 {fmt(last)}"


def _generated(report: dict) -> str:
    raw = report.get("generated_at")
    try:
        at = datetime.fromisoformat(raw)
    except (TypeError, ValueError):
        return fmt(raw)
    return at.strftime("%Y-%m-%d %H:%M") + (f" {at.tzname()}" if at.tzinfo else "")


def _meta(report: dict) -> list[tuple[str, str]]:
    period = report.get("period") or {}
    return [("报告 (Report)", _title(report)), ("集团 (Group)", fmt((report.get("group") or {}).get("name"))),
            ("统计周期 (Period)", fmt(period.get("label"))), ("统计区间 (Range)", _range(period)),
            ("生成时间 (Generated)", _generated(report))]


def rows(report: dict, key: str) -> list[dict]:
    """The input rows of one section, each with its rank and its share of the section's total count."""
    items = [r for r in report.get(key) or [] if isinstance(r, dict)]
    total = sum(r.get("count") or 0 for r in items)
    return [{**r, "rank": i, "share": r["count"] / total if total and r.get("count") is not None else None}
            for i, r in enumerate(items, 1)]


# ---------------------------------------------------------------------------------------------- Excel


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _sheet(wb: Workbook, name: str, header: list[str], body: list[list[tuple[Any, str]]]) -> None:
    ws = wb.create_sheet(name)
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDE7F3")
        cell.alignment = Alignment(horizontal="center", vertical="center")
    widths = [_width(h) for h in header]
    for r, line in enumerate(body, 2):
        for c, (value, kind) in enumerate(line, 1):
            number = kind != "text" and isinstance(value, int | float) and not isinstance(value, bool)
            cell = ws.cell(r, c, value if number else fmt(value, kind))
            if number:
                cell.number_format = XLSX_FORMATS[kind]
            widths[c - 1] = max(widths[c - 1], _width(fmt(value, kind)))
    for c, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(c)].width = min(w + 4, 60)
    ws.freeze_panes = "A2"


def build_xlsx(report: dict) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.title, wb.properties.creator = _title(report), "complaint-center"
    totals = report.get("totals") or {}
    overview = [[(label, "text"), (value, "text")] for label, value in _meta(report)]
    overview += [[(label, "text"), (totals.get(key), kind)] for label, key, kind in KEY_FIGURES]
    _sheet(wb, "总览", ["指标 (Metric)", "数值 (Value)"], overview)
    for name, (key, cols) in TABLES.items():
        body = [[(r.get(k), kind) for _, k, kind in cols] for r in rows(report, key)]
        _sheet(wb, name, [h for h, _, _ in cols], body)
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------- PDF


@cache
def _font() -> str:
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _no_data(width: float) -> Drawing:
    d = Drawing(width, 30)
    d.add(String(width / 2, 10, "暂无数据", fontName=_font(), fontSize=10, textAnchor="middle"))
    return d


def _category_chart(items: list[dict], width: float) -> Drawing:
    counts = [r.get("count") or 0 for r in items]
    if not any(counts):
        return _no_data(width)
    d, chart = Drawing(width, 210), VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 60, width - 60, 135
    chart.data, chart.categoryAxis.categoryNames = [counts], [str(r.get("label") or r.get("key")) for r in items]
    chart.bars[0].fillColor = PALETTE[0]
    chart.valueAxis.valueMin = 0
    chart.barLabelFormat, chart.barLabels.nudge = "%d", 7
    chart.barLabels.fontName = chart.categoryAxis.labels.fontName = _font()
    labels = chart.categoryAxis.labels
    labels.angle, labels.boxAnchor, labels.dy, labels.fontSize = 25, "ne", -2, 8
    d.add(chart)
    return d


def _channel_chart(items: list[dict], width: float) -> Drawing:
    counts = [r.get("count") or 0 for r in items]
    if not any(counts):
        return _no_data(width)
    d, pie, legend = Drawing(width, 190), Pie(), Legend()
    pie.x, pie.y, pie.width, pie.height, pie.data = 30, 15, 160, 160, counts
    pie.slices.strokeColor, pie.slices.strokeWidth, pie.direction, pie.startAngle = colors.white, 0.5, "clockwise", 90
    pairs = []
    for i, r in enumerate(items):
        pie.slices[i].fillColor = PALETTE[i % len(PALETTE)]
        pairs.append((PALETTE[i % len(PALETTE)], f"{r.get('label') or r.get('key')}  {fmt(r.get('count'), 'int')}"
                      f"（{fmt(r['share'], 'pct')}）"))
    legend.x, legend.y, legend.alignment, legend.colorNamePairs = 230, 175, "right", pairs
    legend.fontName, legend.fontSize, legend.deltay, legend.columnMaximum = _font(), 9, 14, 12
    d.add(pie)
    d.add(legend)
    return d


def _estate_chart(items: list[dict], width: float) -> Drawing:
    items = sorted(items, key=lambda r: r.get("received") or 0)[-15:]  # the chart draws the first one at the bottom
    if not any(r.get("received") for r in items):
        return _no_data(width)
    d, chart = Drawing(width, 22 * len(items) + 50), HorizontalBarChart()
    chart.x, chart.y, chart.width, chart.height = 80, 30, width - 110, 22 * len(items)
    chart.data = [[r.get("resolved") or 0 for r in items], [r.get("received") or 0 for r in items]]  # received on top
    chart.categoryAxis.categoryNames = [str(r.get("label") or r.get("key")) for r in items]
    chart.bars[0].fillColor, chart.bars[1].fillColor = PALETTE[2], PALETTE[0]
    chart.valueAxis.valueMin, chart.barLabelFormat, chart.barLabels.nudge = 0, "%d", 10
    chart.barLabels.fontName = chart.categoryAxis.labels.fontName = _font()
    chart.barLabels.fontSize = chart.categoryAxis.labels.fontSize = 8
    legend = Legend()
    legend.x, legend.y, legend.alignment, legend.columnMaximum = chart.x, 12, "right", 1
    legend.fontName, legend.fontSize = _font(), 8
    legend.colorNamePairs = [(PALETTE[0], "受理量"), (PALETTE[2], "办结量")]
    d.add(chart)
    d.add(legend)
    return d


def _table(header: list[str], body: list[list[str]], numeric: list[int], widths: list[float],
           center_first: bool = False) -> Table:
    t = Table([header, *body], colWidths=widths, repeatRows=1, hAlign="LEFT")
    style = [("FONTNAME", (0, 0), (-1, -1), _font()), ("FONTSIZE", (0, 0), (-1, -1), 9),
             ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde7f3")), ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
             ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f5f7fa")]),
             ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]
    style += [("ALIGN", (c, 1), (c, -1), "CENTER" if center_first and c == 0 else "RIGHT") for c in numeric]
    t.setStyle(TableStyle(style))
    return t


def _section_table(report: dict, name: str, no_data: Paragraph, width: float) -> Flowable:
    key, cols = TABLES[name]
    cols = [c for c in cols if c[1] != "key"]
    body = [[fmt(r.get(k), kind) for _, k, kind in cols] for r in rows(report, key)]
    if not body:
        return no_data
    numeric, weights = [i for i, c in enumerate(cols) if c[2] != "text"], [2 if c[2] == "text" else 1 for c in cols]
    widths = [width * w / sum(weights) for w in weights]
    return _table([h.split(" (")[0] for h, _, _ in cols], body, numeric, widths, center_first=cols[0][1] == "rank")


def build_pdf(report: dict) -> bytes:
    font, title = _font(), _title(report)
    h0 = ParagraphStyle("h0", fontName=font, fontSize=18, leading=24, alignment=1, spaceAfter=6)
    h1 = ParagraphStyle("h1", fontName=font, fontSize=13, leading=18, spaceBefore=10, spaceAfter=6)
    h2 = ParagraphStyle("h2", fontName=font, fontSize=10.5, leading=15, spaceBefore=4, spaceAfter=2)
    body = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=14, wordWrap="CJK", alignment=1)
    buf = BytesIO()
    group, period = report.get("group") or {}, report.get("period") or {}
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                            bottomMargin=18 * mm, title=title, author=fmt(group.get("name")),
                            subject=fmt(period.get("label")), creator="complaint-center", invariant=True)
    width = doc.width
    totals = report.get("totals") or {}
    figures = [(label.split(" (")[0], fmt(totals.get(key), kind)) for label, key, kind in KEY_FIGURES]
    if len(figures) % 2:
        figures.append(("", ""))
    grid = [[*figures[i], *figures[i + 1]] for i in range(0, len(figures), 2)]
    half = width / 2
    story: list[Flowable] = [
        Paragraph(escape(title), h0),
        Paragraph(escape(f"集团：{fmt(group.get('name'))}　统计周期：{fmt(period.get('label'))}"
                         f"（{_range(period)}）"), body),
        Paragraph(escape(f"生成时间：{_generated(report)}"), body), Spacer(1, 6),
        Paragraph("一、核心指标", h1),
        _table(["指标", "数值", "指标", "数值"], grid, [1, 3], [half * 0.6, half * 0.4] * 2),
        Paragraph("二、投诉分布", h1),
        KeepTogether([Paragraph("按投诉类别", h2), _category_chart(rows(report, "by_category"), width)]),
        KeepTogether([Paragraph("按投诉渠道", h2), _channel_chart(rows(report, "by_channel"), width)]),
        KeepTogether([Paragraph("各项目受理量与办结量", h2), _estate_chart(rows(report, "by_estate"), width)]),
    ]
    no_data = Paragraph("暂无数据", body)
    for heading, name in (("三、各区域情况", "按区域"), ("四、各项目情况", "按项目"), ("五、投诉级别", "按级别"),
                          ("六、细类排行", "细类排行"), ("七、热点楼栋", "热点"), ("八、回访满意度", "满意度")):
        story.append(KeepTogether([Paragraph(heading, h1), _section_table(report, name, no_data, width)]))

    def footer(canvas: Canvas, _doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.setFillColor(colors.grey)
        canvas.drawCentredString(A4[0] / 2, 10 * mm, f"{title} · 第 {canvas.getPageNumber()} 页")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------- sample


def _coded(pairs: list[tuple[str, int]], label: Any = zh) -> list[dict]:
    return [{"key": k, "label": label(k), "count": n} for k, n in pairs]


def sample_report() -> dict:
    """A realistic month of one group: the figures add up (regions, estates, categories and channels to `received`)."""
    keys = ("received", "resolved", "sla_compliance", "satisfaction_rate")
    regions = [("r-east", "华东区域", 594, 569, 0.9473, 0.9281), ("r-south", "华南区域", 474, 452, 0.9226, 0.9215),
               ("r-north", "华北区域", 218, 205, 0.9024, 0.9180)]
    estates = [("e-hupan", "湖畔花园", "华东区域", 312, 298, 0.9396, 0.9153),
               ("e-binjiang", "滨江一号", "华东区域", 268, 259, 0.9575, 0.9412),
               ("e-jinxiu", "锦绣华庭", "华东区域", 14, 12, 1.0, None),  # taken over this month: nobody surveyed yet
               ("e-cuihu", "翠湖山庄", "华南区域", 276, 262, 0.9122, 0.9018),
               ("e-yunjing", "云景台", "华南区域", 198, 190, 0.9368, 0.9474),
               ("e-zijing", "紫荆苑", "华北区域", 218, 205, 0.9024, 0.9180)]
    return {
        "title": "恒安物业集团 2026年11月投诉分析报告", "group": {"id": "g-hengan", "name": "恒安物业集团"},
        "period": {"kind": "month", "label": "2026年11月", "start": "2026-11-01", "end": "2026-12-01"},
        "generated_at": "2026-12-01T09:00:00+08:00",
        "totals": {"received": 1286, "resolved": 1226, "closed": 1198, "reopened": 23, "repeat": 57, "emergency": 9,
                   "sla_met": 1152, "sla_breached": 74, "sla_compliance": round(1152 / 1226, 4), "surveyed": 1040,
                   "satisfied": 962, "satisfaction_rate": 0.925, "unreachable": 96, "respond_p50_min": 38.0,
                   "respond_p90_min": 112.5, "resolve_p50_h": 26.5, "resolve_p90_h": 71.0},
        "by_region": [dict(zip(("key", "label", *keys), r, strict=True)) for r in regions],
        "by_estate": [dict(zip(("key", "label", "region", *keys), e, strict=True)) for e in estates],
        "by_category": _coded([("service", 1018), ("fees", 148), ("neighbour", 79), ("community", 29),
                               ("emergency", 12)]),
        "by_channel": _coded([("phone", 612), ("online", 338), ("visit", 147), ("staff_relay", 71), ("letter", 43),
                              ("mailbox", 28), ("fax", 19), ("email", 16), ("proxy", 12)]),
        "by_severity": _coded([("emergency", 9), ("major", 64), ("general", 981), ("minor", 232)], SEVERITY_ZH.get),
        "top_subcategories": _coded([("repair", 318), ("cleaning", 176), ("parking", 141), ("security", 122),
                                     ("lift", 97), ("service_fee", 88), ("noise", 46), ("decoration", 41),
                                     ("greening", 38), ("attitude", 35)]),
        "hotspots": [{"estate": "湖畔花园", "building": "3栋", "count": 27, "top": "工程维修"},
                     {"estate": "翠湖山庄", "building": "A区12栋", "count": 22, "top": "电梯"},
                     {"estate": "滨江一号", "building": "1栋", "count": 19, "top": "停车"},
                     {"estate": "湖畔花园", "building": "7栋", "count": 16, "top": "保洁"},
                     {"estate": "紫荆苑", "building": "5号楼", "count": 15, "top": "秩序安保"},
                     {"estate": "云景台", "building": "2座", "count": 12, "top": "工程维修"}],
        "satisfaction": _coded([("very_satisfied", 548), ("satisfied", 301), ("fairly_satisfied", 113),
                                ("neutral", 46), ("unsatisfied", 32)]),
    }
