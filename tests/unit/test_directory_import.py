"""Bulk import of the organisation directory from Excel/CSV: good rows load, bad rows are reported by row."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest

from services.assignment.importer import ImportFormatError, import_estates, import_staff, parse_table
from shared.org import Estate, Group, OrgDirectory, OrgSeed, Region, load_org

GROUP = "g-hengan"
ZH_ESTATE_HEADER = ["区域编号", "区域名称", "项目编号", "项目名称", "城市", "服务电话", "别名", "工作时间"]
STAFF_HEADER = ["staff_id", "name", "estate_id", "region_id", "department", "role", "shifts", "on_duty",
                "supervisor_id", "max_open"]


def org() -> OrgDirectory:
    return load_org("deploy/org_seed.yaml")


def xlsx(*sheets: tuple[str, list[list[Any]]]) -> bytes:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets:
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_text(header: list[str], *rows: list[str]) -> str:
    return "\n".join(",".join(r) for r in [header, *rows]) + "\n"


def staff_csv(*rows: list[str]) -> bytes:
    return csv_text(STAFF_HEADER, *[r + [""] * (len(STAFF_HEADER) - len(r)) for r in rows]).encode()


def errors_of(result: Any) -> list[tuple[int, str, str]]:
    return [(e.row, e.column, e.message) for e in result.errors]


# ---- estates -------------------------------------------------------------------------------------------
def test_two_hundred_estates_from_xlsx_with_chinese_headers_load_except_the_row_with_no_name():
    rows: list[list[Any]] = [ZH_ESTATE_HEADER]
    for i in range(200):
        rows.append(["r-north", "华北区域", f"e-n{i:03d}", f"北苑{i}号" if i != 55 else None, "北京",
                     f"010-6000{i:04d}", "北苑；North、N", "8:30-17:30"])
    result = import_estates(xlsx(("项目", rows)), "onboarding.xlsx", org(), GROUP)
    assert result.total_rows == 200
    assert len(result.estates) == 199
    assert [(e.row, e.sheet, e.column) for e in result.errors] == [(57, "项目", "项目名称")]
    assert result.errors[0].message.startswith("项目名称为空") and "name is empty" in result.errors[0].message
    first = result.estates[0]
    assert (first.row, first.group_id, first.region_id, first.region_name) == (2, GROUP, "r-north", "华北区域")
    assert first.estate.aliases == ["北苑", "North", "N"]
    assert first.estate.working_hours == "08:30-17:30"
    assert "e-n055" not in {e.estate.id for e in result.estates}
    summary = result.to_dict()
    assert (summary["kind"], summary["total_rows"], summary["loaded"]) == ("estates", 200, 199)
    assert summary["errors"][0]["row"] == 57


def test_english_headers_in_a_csv_with_bom_and_default_working_hours():
    text = csv_text([" Region_ID ", "estate_id", "NAME", "name_en", "phone_lines", "manager_id"],
                    ["r-east", "e-maple", "枫林苑", "Maple Court", '"0571-1111, 0571-2222"', "s-mp-mgr"])
    result = import_estates(b"\xef\xbb\xbf" + text.encode(), "estates.csv", org(), GROUP)
    assert result.errors == []
    estate = result.estates[0].estate
    assert (estate.id, estate.name, estate.name_en) == ("e-maple", "枫林苑", "Maple Court")
    assert estate.phone_lines == ["0571-1111", "0571-2222"]
    assert estate.working_hours == Estate.model_fields["working_hours"].default
    assert result.errors == [] and result.estates[0].row == 2


def test_gb18030_csv_as_chinese_excel_saves_it():
    text = csv_text(["区域编号", "区域名称", "项目编号", "项目名称", "传真"],
                    ["r-south", "华南区域", "e-banyan", "榕树湾", "020-1234"])
    result = import_estates(text.encode("gb18030"), "项目.csv", org(), GROUP)
    assert result.errors == []
    assert (result.estates[0].region_name, result.estates[0].estate.name) == ("华南区域", "榕树湾")
    assert result.estates[0].estate.fax_numbers == ["020-1234"]


def test_a_duplicate_estate_id_cites_the_first_row_and_the_first_row_loads():
    text = csv_text(["region_id", "estate_id", "name"], ["r-east", "e-a", "甲"], ["r-east", "e-b", "乙"],
                    ["r-east", "e-a", "甲二"])
    result = import_estates(text.encode(), "e.csv", org(), GROUP)
    assert [e.estate.id for e in result.estates] == ["e-a", "e-b"]
    assert [(e.row, e.column) for e in result.errors] == [(4, "estate_id")]
    assert "row 2" in result.errors[0].message and "第 2 行" in result.errors[0].message


def test_several_errors_on_one_row_are_all_reported_and_blank_rows_are_skipped():
    text = csv_text(["region_id", "estate_id", "name", "working_hours"], ["", "bad id!", "甲", "18:00-08:00"],
                    ["", "", "", ""], ["r-east", "e-ok", "乙", "09:00-18:00"])
    result = import_estates(text.encode(), "e.csv", org(), GROUP)
    assert result.total_rows == 2
    assert [e.estate.id for e in result.estates] == ["e-ok"]
    assert [(e.row, e.column) for e in result.errors] == [(2, "region_id"), (2, "estate_id"), (2, "working_hours")]
    assert "within one day" in result.errors[2].message


def test_an_estate_or_region_of_another_group_is_refused_and_the_same_group_updates():
    directory = org()
    directory.put_group(Group(id="g-other", name="他家物业", regions=[
        Region(id="r-west", name="西区", estates=[Estate(id="e-west", name="西苑")])]))
    text = csv_text(["region_id", "estate_id", "name"], ["r-east", "e-west", "抢来的"], ["r-west", "e-new", "新苑"],
                    ["r-east", "e-lakeside", "湖畔花园二期"])
    result = import_estates(text.encode(), "e.csv", directory, GROUP)
    assert [(e.row, e.column) for e in result.errors] == [(2, "estate_id"), (3, "region_id")]
    assert "another group" in result.errors[0].message and "g-other" not in result.errors[0].message
    [update] = result.estates
    assert update.estate.id == "e-lakeside" and update.estate.name == "湖畔花园二期"
    assert update.estate.phone_lines == ["0571-88880001"]  # no phone column in the file: kept


def test_the_importer_is_pure():
    directory = org()
    version = directory.version
    import_estates(csv_text(["region_id", "estate_id", "name"], ["r-east", "e-x", "X"]).encode(), "e.csv",
                   directory, GROUP)
    assert directory.version == version and directory.estate("e-x") is None


# ---- staff ---------------------------------------------------------------------------------------------
def test_staff_may_name_an_estate_loaded_in_the_same_batch_but_not_an_unknown_one():
    data = staff_csv(["s-1", "甲", "e-new", "", "engineering"], ["s-2", "乙", "e-nowhere", "", "engineering"])
    result = import_staff(data, "staff.csv", org(), GROUP, new_estates={"e-new"})
    assert [(n, p.estate) for n, p in result.staff] == [(2, "e-new")]
    assert [(e.row, e.column) for e in result.errors] == [(3, "estate_id")]
    assert "unknown estate" in result.errors[0].message


def test_chinese_department_and_role_names_map_to_their_codes():
    rows = [["员工编号", "姓名", "项目编号", "部门", "角色", "在岗", "技能"],
            ["s-1", "王工", "e-lakeside", "工程维修部", "维修员", "否", "电梯、水电"],
            ["s-2", "李主管", "e-lakeside", "工程维修部", "主管", "是"],
            ["s-3", "张经理", "e-sunrise", "客服中心", "项目经理"],
            ["s-4", "坐席小刘", "e-sunrise", "客服中心", "坐席"]]
    result = import_staff(xlsx(("员工", rows)), "staff.xlsx", org(), GROUP)
    assert result.errors == []
    people = {p.id: p for _, p in result.staff}
    assert (people["s-1"].department, people["s-1"].role, people["s-1"].on_duty) == ("engineering", "handler", False)
    assert people["s-1"].skills == ["电梯", "水电"]
    assert (people["s-2"].role, people["s-3"].role, people["s-4"].role) == ("supervisor", "estate_manager", "operator")
    assert people["s-3"].department == "service_desk"


def test_unknown_department_role_and_shift_and_bad_max_open_fail():
    data = staff_csv(["s-1", "甲", "e-lakeside", "", "plumbing"],
                     ["s-2", "乙", "e-lakeside", "", "engineering", "boss"],
                     ["s-3", "丙", "e-lakeside", "", "engineering", "handler", "day;graveyard"],
                     ["s-4", "丁", "e-lakeside", "", "engineering", "handler", "", "", "", "0"],
                     ["s-5", "戊", "e-lakeside", "", "engineering", "handler", "", "", "", "lots"],
                     ["s-6", "己", "e-lakeside", "", "engineering", "handler", "day、night", "no", "", "3"])
    result = import_staff(data, "staff.csv", org(), GROUP)
    assert [(e.row, e.column) for e in result.errors] == [(2, "department"), (3, "role"), (4, "shifts"),
                                                          (5, "max_open"), (6, "max_open")]
    assert "graveyard" in result.errors[2].message and "day" not in result.errors[2].message.split("(")[0]
    [(row, person)] = result.staff
    assert (row, person.shifts, person.on_duty, person.max_open) == (7, ["day", "night"], False, 3)


def test_role_rules_region_quality_and_handlers():
    data = staff_csv(["s-q1", "品质甲", "", "r-east", "", "区域品质"],
                     ["s-q2", "品质乙", "e-lakeside", "", "", "region_quality"],
                     ["s-h1", "无部门", "e-lakeside", "", "", "handler"],
                     ["s-h2", "无项目", "", "", "cleaning", "handler"],
                     ["s-o1", "坐席", "", "", "service_desk", "operator"],
                     ["s-m1", "经理", "e-sunrise", "", "", "estate_manager"])
    result = import_staff(data, "staff.csv", org(), GROUP)
    assert [p.id for _, p in result.staff] == ["s-q1"]
    assert [(e.row, e.column) for e in result.errors] == [(3, "region_id"), (3, "estate_id"), (4, "department"),
                                                          (5, "estate_id"), (6, "estate_id"), (7, "department")]


def test_supervisors_may_be_in_the_directory_or_anywhere_in_the_file():
    data = staff_csv(["s-1", "甲", "e-lakeside", "", "engineering", "handler", "", "", "s-lk-eng-sup"],
                     ["s-2", "乙", "e-lakeside", "", "engineering", "handler", "", "", "s-3"],
                     ["s-3", "丙", "e-lakeside", "", "engineering", "supervisor"],
                     ["s-4", "丁", "e-lakeside", "", "engineering", "handler", "", "", "s-ghost"],
                     ["s-5", "戊", "e-lakeside", "", "engineering", "handler", "", "", "s-6"],
                     ["s-6", "己", "e-lakeside", "", "", "supervisor"])
    result = import_staff(data, "staff.csv", org(), GROUP)
    assert [p.id for _, p in result.staff] == ["s-1", "s-2", "s-3"]
    assert [(e.row, e.column) for e in result.errors] == [(5, "supervisor_id"), (6, "supervisor_id"),
                                                          (7, "department")]
    assert "row 7" in result.errors[1].message  # s-6 failed, so s-5's supervisor is missing


def test_duplicate_staff_id_and_staff_of_another_group():
    directory = org()
    directory.put_group(Group(id="g-other", name="他家物业", regions=[
        Region(id="r-west", name="西区", estates=[Estate(id="e-west", name="西苑")])]))
    data = staff_csv(["s-1", "甲", "e-lakeside", "", "engineering"], ["s-1", "甲二", "e-lakeside", "", "cleaning"],
                     ["s-2", "乙", "e-west", "", "engineering"])
    result = import_staff(data, "staff.csv", directory, GROUP)
    assert [(e.row, e.column) for e in result.errors] == [(3, "staff_id"), (4, "estate_id")]
    assert "row 2" in result.errors[0].message and "another group" in result.errors[1].message


# ---- the file as a whole -------------------------------------------------------------------------------
@pytest.mark.parametrize(("data", "name"), [(b"PK\x03\x04 not really a zip", "estates.xlsx"),
                                            (b"\x00\x01\x02\xff\xfe\x00binary", "estates.csv"),
                                            (b"\xd0\xcf\x11\xe0legacy", "estates.xls"),
                                            (b"%PDF-1.7", "estates.pdf"), (b"", "estates.csv")])
def test_an_unreadable_file_is_a_format_error(data: bytes, name: str):
    with pytest.raises(ImportFormatError):
        import_estates(data, name, org(), GROUP)


def test_a_missing_required_column_is_named():
    text = csv_text(["区域编号", "项目编号", "城市"], ["r-east", "e-x", "杭州"])
    with pytest.raises(ImportFormatError, match="项目名称/name"):
        parse_table(text.encode(), "e.csv", "estates")
    with pytest.raises(ImportFormatError, match="员工编号/staff_id"):
        parse_table(xlsx(("s", [["姓名"], ["甲"]])), "s.xlsx", "staff")


def test_parse_table_gives_english_keys_real_row_numbers_and_picks_the_right_sheet():
    book = xlsx(("员工", [["员工编号", "姓名", "项目编号", "区域编号"], ["s-1", "甲", "e-lakeside", "r-east"]]),
                ("项目", [["区域编号", "项目编号", "项目名称", "备注"], [], ["r-east", "e-x", 1001.0, "ignored"]]))
    assert parse_table(book, "both.xlsx", "estates") == [(3, {"region_id": "r-east", "estate_id": "e-x",
                                                              "name": "1001"})]
    assert parse_table(book, "both.xlsx", "staff")[0][0] == 2
    with pytest.raises(ImportFormatError, match="no estates sheet"):  # a staff list sent as estates
        parse_table(staff_csv(["s-1", "甲", "e-lakeside", "r-east"]), "staff.csv", "estates")


def test_a_column_given_twice_in_chinese_and_english_is_refused():
    text = csv_text(["区域编号", "项目编号", "estate_id", "项目名称"], ["r-east", "e-x", "e-y", "X"])
    with pytest.raises(ImportFormatError, match="项目编号/estate_id"):
        parse_table(text.encode(), "e.csv", "estates")


def test_more_than_fifty_thousand_rows_is_refused():
    text = "region_id,estate_id,name\n" + "r-east,e-x,X\n" * 50_001
    with pytest.raises(ImportFormatError, match="50000"):
        parse_table(text.encode(), "big.csv", "estates")


def test_two_groups_from_a_seed_keep_their_estates_apart():
    base = org()
    seed = OrgSeed(groups=[*base.groups, Group(id="g-b", name="乙集团", regions=[
        Region(id="r-b", name="乙区", estates=[Estate(id="e-b1", name="乙一")])])],
        departments=base.departments, staff=base.staff)
    text = csv_text(["region_id", "estate_id", "name"], ["r-b", "e-b1", "乙一改"], ["r-east", "e-lakeside", "湖"])
    result = import_estates(text.encode(), "e.csv", OrgDirectory(seed), "g-b")
    assert [e.estate.id for e in result.estates] == ["e-b1"]
    assert [(e.row, e.column) for e in result.errors] == [(3, "estate_id"), (3, "region_id")]
