"""The review-meeting report: the workbook gives back the rollup's figures, the PDF's text carries them."""

from __future__ import annotations

import copy
from io import BytesIO

import openpyxl
import pypdfium2
import pytest

from services.archive.reports import KEY_FIGURES, NONE, TABLES, build_pdf, build_xlsx, fmt, sample_report

SHEETS = ["总览", "按区域", "按项目", "按类别", "按渠道", "按级别", "细类排行", "热点", "满意度"]


def _empty() -> dict:
    report = sample_report()
    report["totals"] = {k: (None if kind != "int" else 0) for _, k, kind in KEY_FIGURES}
    for key, _ in TABLES.values():
        report[key] = []
    return report


def _workbook(report: dict) -> openpyxl.Workbook:
    return openpyxl.load_workbook(BytesIO(build_xlsx(report)))


def _pdf_text(data: bytes) -> tuple[int, str]:
    doc = pypdfium2.PdfDocument(data)
    try:
        return len(doc), "\n".join(page.get_textpage().get_text_range() for page in doc)
    finally:
        doc.close()


@pytest.fixture(scope="module")
def sample_pdf() -> bytes:
    return build_pdf(sample_report())


def test_formats_percentages_durations_and_missing_numbers():
    assert fmt(0.925, "pct") == "92.5%"
    assert fmt(38.0, "min") == "38.0 分钟"
    assert fmt(26.5, "h") == "26.5 小时"
    assert fmt(1286, "int") == "1286"
    assert fmt(None, "pct") == fmt(None, "int") == NONE == "—"


def test_the_workbook_has_every_sheet_with_a_bold_frozen_header_and_set_widths():
    wb = _workbook(sample_report())
    assert wb.sheetnames == SHEETS
    for ws in wb:
        assert ws.freeze_panes == "A2"
        assert all(cell.font.bold for cell in ws[1])
        assert all(ws.column_dimensions[c].width > 8 for c in "AB")


def test_the_overview_sheet_gives_back_every_key_figure_as_a_number():
    report = sample_report()
    values = {row[0]: row[1] for row in _workbook(report)["总览"].iter_rows(min_row=2, values_only=True)}
    assert values["报告 (Report)"] == report["title"]
    assert values["统计区间 (Range)"] == "2026-11-01 至 2026-11-30"
    for label, key, _ in KEY_FIGURES:
        assert values[label] == report["totals"][key], label
        assert isinstance(values[label], int | float)
    ws = _workbook(report)["总览"]
    formats = {row[0].value: row[1].number_format for row in ws.iter_rows(min_row=2)}
    assert formats["满意率 (Satisfaction rate)"] == "0.0%"
    assert formats["时效达标率 (SLA compliance)"] == "0.0%"
    assert "分钟" in formats["首次响应中位数 (Respond P50)"]


@pytest.mark.parametrize("sheet", SHEETS[1:])
def test_every_table_sheet_round_trips_the_input_rows(sheet: str):
    report = sample_report()
    key, cols = TABLES[sheet]
    ws = _workbook(report)[sheet]
    header, *body = list(ws.iter_rows(values_only=True))
    assert list(header) == [h for h, _, _ in cols]
    assert len(body) == len(report[key]) > 0
    for rank, (line, given) in enumerate(zip(body, report[key], strict=True), 1):
        for value, (_, k, _) in zip(line, cols, strict=True):
            if k == "rank":
                assert value == rank
            elif k == "share":
                total = sum(r["count"] for r in report[key])
                assert value == pytest.approx(given["count"] / total)
            else:
                assert value == (NONE if given[k] is None else given[k]), (sheet, k)


def test_numbers_in_tables_are_numbers_with_formats():
    wb = _workbook(sample_report())
    east = list(wb["按区域"].iter_rows(min_row=2, max_row=2))[0]
    assert [c.value for c in east] == ["华东区域", "r-east", 594, 569, 0.9473, 0.9281]
    assert east[4].number_format == "0.0%" and east[2].data_type == "n"
    assert wb["按类别"]["C2"].value == 1018 and wb["按类别"]["D2"].number_format == "0.0%"


def test_missing_numbers_print_as_a_dash_in_the_workbook():
    report = sample_report()
    report["totals"]["satisfaction_rate"] = None
    del report["totals"]["resolve_p90_h"]
    report["by_region"][0]["sla_compliance"] = None
    wb = _workbook(report)
    values = {row[0]: row[1] for row in wb["总览"].iter_rows(min_row=2, values_only=True)}
    assert values["满意率 (Satisfaction rate)"] == values["办结时长P90 (Resolve P90)"] == "—"
    assert wb["按区域"]["E2"].value == "—"
    assert wb["按项目"]["G4"].value == "—"  # the sample's newly taken-over estate has no survey yet


def test_the_pdf_is_a_pdf_whose_text_has_the_title_and_key_figures(sample_pdf: bytes):
    assert sample_pdf.startswith(b"%PDF")
    pages, text = _pdf_text(sample_pdf)
    assert pages >= 2
    assert "恒安物业集团 2026年11月投诉分析报告" in text
    assert "2026年11月" in text and "2026-12-01 09:00" in text
    assert "1286" in text  # received
    assert "92.5%" in text  # satisfaction rate
    assert "94.0%" in text  # SLA compliance 1152/1226
    assert "38.0 分钟" in text and "26.5 小时" in text


def test_the_pdf_carries_its_charts_and_tables(sample_pdf: bytes):
    _, text = _pdf_text(sample_pdf)
    assert "物业管理服务" in text  # category bar chart (the categories are in no table)
    assert "委托他人 12（0.9%）" in text  # channel pie legend
    assert "受理量" in text and "锦绣华庭" in text  # estate bar chart and table
    assert "工程维修" in text and "A区12栋" in text  # top subcategories and hotspots


def test_missing_numbers_print_as_a_dash_in_the_pdf():
    report = sample_report()
    report["totals"]["satisfaction_rate"] = None
    _, text = _pdf_text(build_pdf(report))
    assert "满意率 —" in text
    assert "92.5%" not in text


def test_an_empty_report_still_builds_both():
    report = _empty()
    wb = _workbook(report)
    assert wb.sheetnames == SHEETS
    assert wb["按项目"].max_row == 1
    values = {row[0]: row[1] for row in wb["总览"].iter_rows(min_row=2, values_only=True)}
    assert values["受理投诉 (Received)"] == 0 and values["满意率 (Satisfaction rate)"] == "—"
    data = build_pdf(report)
    assert data.startswith(b"%PDF")
    _, text = _pdf_text(data)
    assert "暂无数据" in text and "—" in text


def test_a_bare_report_with_missing_sections_builds_too():
    bare = {"title": "空报告", "totals": {}}
    assert build_xlsx(bare)[:2] == b"PK"
    assert "空报告" in _pdf_text(build_pdf(bare))[1]


def test_the_sample_is_not_shared_between_calls():
    a = sample_report()
    b = copy.deepcopy(a)
    a["by_region"].clear()
    assert sample_report() == b
