"""Bulk import of the organisation directory (组织架构批量导入) from Excel (.xlsx) or CSV.

Used when a property group onboards hundreds of estates at once. Pure: it parses the bytes it is given and
checks them against an `OrgDirectory`; it changes nothing. The caller applies the loaded rows
(`OrgDirectory.put_estate` / `put_staff`) and publishes them as `DirectoryChanged`.

Policy: good rows load, bad rows are reported by row number (the header is row 1) and skipped. A caller that
wants all-or-nothing checks `result.errors` and applies nothing when it is non-empty. Problems with the file
as a whole (unreadable, unknown type, missing required columns, more than MAX_ROWS data rows) raise
`ImportFormatError`. Blank rows are skipped silently.

Headers are matched in Chinese or English (case-insensitive, stripped, a leading '*' ignored); unknown columns
are ignored. Re-importing an estate or person of the same group is an update: columns absent from the file
keep their current values (an estate keeps its routing and SLA overrides), a column present but blank resets
the value to its default. CSV may be UTF-8 (with or without BOM), GB18030 (what Chinese Excel saves) or UTF-16 with BOM,
separated by commas, semicolons or tabs. List cells split on ; ； , ， 、 or a line break.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, time
from pathlib import PurePath
from typing import Any

import openpyxl
from pydantic import BaseModel, ValidationError

from shared.org import _ID, ROLES, Estate, OrgDirectory, Staff

__all__ = ["COLUMNS", "ESTATE_COLUMNS", "STAFF_COLUMNS", "EstateRow", "ImportFormatError", "ImportResult", "RowError",
           "import_estates", "import_staff", "parse_table"]

# English column → Chinese header; either is accepted
ESTATE_COLUMNS = {"region_id": "区域编号", "region_name": "区域名称", "estate_id": "项目编号", "name": "项目名称",
                  "name_en": "英文名", "city": "城市", "manager_id": "项目经理", "phone_lines": "服务电话",
                  "fax_numbers": "传真", "aliases": "别名", "working_hours": "工作时间"}
STAFF_COLUMNS = {"staff_id": "员工编号", "name": "姓名", "estate_id": "项目编号", "region_id": "区域编号",
                 "department": "部门", "role": "角色", "skills": "技能", "shifts": "班次", "on_duty": "在岗",
                 "supervisor_id": "上级", "max_open": "上限", "phone": "电话"}
COLUMNS = {"estates": ESTATE_COLUMNS, "staff": STAFF_COLUMNS}
REQUIRED = {"estates": ("region_id", "estate_id", "name"), "staff": ("staff_id", "name")}
LISTS = {"aliases", "phone_lines", "fax_numbers", "skills", "shifts"}
MODEL_FIELDS = {"estates": {"estate_id": "id", "region_id": "", "region_name": ""},  # column → model field;
                "staff": {"staff_id": "id", "estate_id": "estate", "region_id": "region"}}  # '' none, else same
ROLE_NAMES = {"处理人": "handler", "维修员": "handler", "主管": "supervisor", "项目经理": "estate_manager",
              "区域品质": "region_quality", "坐席": "operator", **{r: r for r in ROLES}}
YES_NO = {"是": True, "否": False, "yes": True, "no": False, "y": True, "n": False, "true": True, "false": False,
          "1": True, "0": False}
MAX_ROWS = 50_000
_ID_RE = re.compile(_ID)
_SPLIT = re.compile(r"[;；,，、\r\n]+")


class ImportFormatError(ValueError):
    """The file as a whole cannot be imported; the message says why (Chinese first, then English)."""


@dataclass
class RowError:
    row: int  # as the user sees it: the header is row 1, the first data row is row 2
    sheet: str
    column: str  # the header as written in the file; '' for the whole row
    message: str


@dataclass
class EstateRow:
    row: int
    group_id: str
    region_id: str
    region_name: str
    estate: Estate


@dataclass
class ImportResult:
    kind: str  # 'estates' | 'staff'
    estates: list[EstateRow] = field(default_factory=list)
    staff: list[tuple[int, Staff]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    total_rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        loaded = len(self.estates) if self.kind == "estates" else len(self.staff)
        return {"kind": self.kind, "total_rows": self.total_rows, "loaded": loaded,
                "rejected_rows": len({e.row for e in self.errors}), "errors": [asdict(e) for e in self.errors]}


@dataclass
class _Table:
    sheet: str
    headers: dict[str, str]  # column → header as written
    rows: list[tuple[int, dict[str, str]]]


# ---- reading ---------------------------------------------------------------------------------------------
def parse_table(data: bytes, filename: str, kind: str) -> list[tuple[int, dict[str, str]]]:
    """Data rows as (row number, {English column name: stripped text}); blank rows and unknown columns dropped."""
    return _read(data, filename, kind).rows


def _read(data: bytes, filename: str, kind: str) -> _Table:
    if kind not in COLUMNS:
        raise ValueError(f"unknown import kind {kind!r}: use one of {sorted(COLUMNS)}")
    ext = PurePath(filename or "").suffix.lower()
    if not data:
        raise ImportFormatError(f"文件为空 the file {filename!r} is empty")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFormatError("不支持旧版 .xls 或加密的工作簿，请另存为 .xlsx "
                                "legacy .xls or password-protected workbooks are not supported: save as .xlsx")
    if ext in (".xlsx", ".xlsm") or data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data, filename, kind)
    if ext in (".csv", ".txt"):
        return _pick(kind, [(PurePath(filename).name, _csv_rows(data, filename))])
    raise ImportFormatError(f"不支持的文件类型 unsupported file type {ext or filename!r}: use .xlsx or .csv")


def _read_xlsx(data: bytes, filename: str, kind: str) -> _Table:
    wb = None
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        for ws in wb.worksheets:
            ws.reset_dimensions()  # some tools record a wrong sheet size; read what is really there
        return _pick(kind, ((ws.title, ((n, [_text(v) for v in r]) for n, r in
                                        enumerate(ws.iter_rows(min_row=1, values_only=True), 1)))
                            for ws in wb.worksheets))
    except ImportFormatError:
        raise
    except Exception as e:  # openpyxl fails on damaged files with zip, XML, key and value errors alike
        raise ImportFormatError(f"无法读取 Excel 文件 cannot read {filename!r} as an .xlsx workbook: {e}") from e
    finally:
        if wb is not None:
            wb.close()


def _csv_rows(data: bytes, filename: str) -> Iterator[tuple[int, list[str]]]:
    text = None
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            text = data.decode(encoding, errors="replace")
            break
    for encoding in ("utf-8", "gb18030"):
        if text is None:
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                continue
    if text is None or "\x00" in text:
        raise ImportFormatError(f"无法识别的文本编码或不是 CSV 文件 {filename!r} is not a readable CSV "
                                "(save it as CSV UTF-8 or an .xlsx workbook)")
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    try:
        yield from enumerate(([c.strip() for c in r] for r in csv.reader(io.StringIO(text, newline=""),
                                                                          delimiter=delimiter)), 1)
    except csv.Error as e:
        raise ImportFormatError(f"CSV 格式错误 malformed CSV in {filename!r}: {e}") from e


def _text(v: object) -> str:
    """An Excel cell as the user sees it: 1001.0 → '1001', 08:30 → '08:30', empty → ''."""
    if isinstance(v, time | datetime):
        return v.strftime("%H:%M" if isinstance(v, time) else "%Y-%m-%d %H:%M").removesuffix(" 00:00")
    return "" if v is None else str(int(v) if isinstance(v, float) and v.is_integer() else v).strip()


def _label(kind: str, col: str) -> str:
    return f"{COLUMNS[kind][col]}/{col}"


def _pick(kind: str, sheets: Iterable[tuple[str, Iterator[tuple[int, list[str]]]]]) -> _Table:
    """The first sheet whose header row has the kind's required columns (estates: not a staff sheet)."""
    names = {h.lower(): col for col, zh in COLUMNS[kind].items() for h in (col, zh)}
    first_missing: list[str] | None = None
    for title, rows in sheets:
        header_row = next(((n, cells) for n, cells in rows if any(cells)), None)
        if header_row is None:
            continue
        header = [h.replace("\ufeff", "").strip().lstrip("*").strip() for h in header_row[1]]
        found = [(names[h.lower()], h, i) for i, h in enumerate(header) if h.lower() in names]
        headers, index = {c: h for c, h, _ in found}, {c: i for c, _, i in found}
        missing = [_label(kind, c) for c in REQUIRED[kind] if c not in index]
        if missing or (kind == "estates" and any(h.lower() in ("staff_id", "员工编号") for h in header)):
            first_missing = first_missing if first_missing is not None else missing
            continue
        if len(found) > len(index):
            twice = ", ".join(_label(kind, c) for c in index if sum(f[0] == c for f in found) > 1)
            raise ImportFormatError(f"工作表 {title} 列重复 sheet {title!r} has these columns twice: {twice}")
        table = _Table(title, headers, [])
        for n, cells in rows:
            if not any(cells):
                continue
            if len(table.rows) >= MAX_ROWS:
                raise ImportFormatError(f"数据超过 {MAX_ROWS} 行，请分批导入 more than {MAX_ROWS} data rows: "
                                        "split the file")
            table.rows.append((n, {c: cells[i] if i < len(cells) else "" for c, i in index.items()}))
        return table
    if first_missing:
        raise ImportFormatError(f"缺少必填列 missing required column(s): {', '.join(first_missing)}")
    raise ImportFormatError(f"找不到{'项目' if kind == 'estates' else '员工'}表 no {kind} sheet found "
                            "(an estates sheet has no staff id column)")


# ---- checking --------------------------------------------------------------------------------------------
@dataclass
class _Row:
    """One data row being checked: its errors go to the result, `bad` holds the columns that failed."""

    result: ImportResult
    table: _Table
    kind: str
    row: int
    cells: dict[str, str]
    bad: set[str] = field(default_factory=set)

    def err(self, col: str, message: str) -> None:
        column = self.table.headers.get(col, _label(self.kind, col)) if col else ""
        self.result.errors.append(RowError(self.row, self.table.sheet, column, message))
        self.bad.add(col)

    def check_common(self, first: dict[str, int]) -> None:
        """Required cells, id patterns, and the key column repeated within the file."""
        kind, cells = self.kind, self.cells
        key = "estate_id" if kind == "estates" else "staff_id"
        for col in REQUIRED[kind]:
            if not cells.get(col):
                self.err(col, f"{COLUMNS[kind][col]}为空 {_en(col)} is empty")
        for col in dict.fromkeys((key, "region_id", "estate_id", "supervisor_id", "manager_id")):
            v = cells.get(col, "")
            if v and not _ID_RE.match(v):
                self.err(col, f"{COLUMNS[kind][col]} {v!r} 格式不正确（字母或数字开头，只含字母数字_-，最长64位） "
                              f"{_en(col)} {v!r} must start with a letter or digit and contain only letters, "
                              "digits, _ and - (64 at most)")
        k = cells.get(key, "")
        if k and first.setdefault(k, self.row) != self.row:
            self.err(key, f"{COLUMNS[kind][key]} {k} 与第 {first[k]} 行重复 duplicate {_en(key)} {k}: "
                          f"first in row {first[k]}")

    def values(self, base: BaseModel | None, skip: tuple[str, ...] = ()) -> dict[str, Any]:
        """Model fields: the existing record's, overwritten by every column present in the file."""
        values: dict[str, Any] = base.model_dump() if base is not None else {}
        for col, v in self.cells.items():
            name = MODEL_FIELDS[self.kind].get(col, col)
            if name and col not in skip:
                values[name] = list(dict.fromkeys(p.strip() for p in _SPLIT.split(v) if p.strip())) \
                    if col in LISTS else v
        return values

    def build(self, model: type[BaseModel], values: dict[str, Any]) -> Any:
        """The validated model, or None; its errors are reported per column unless that column already failed."""
        back = {name: col for col, name in MODEL_FIELDS[self.kind].items() if name}
        try:
            built = model.model_validate(values)
        except ValidationError as e:
            for d in e.errors():
                col = back.get(str(d["loc"][0]), str(d["loc"][0])) if d["loc"] else ""
                if col not in self.bad:
                    msg = str(d["msg"]).removeprefix("Value error, ")
                    self.err(col, f"{COLUMNS[self.kind].get(col, col)}取值无效 invalid {_en(col) or 'row'}: {msg}")
            return None
        return None if self.bad else built


def _en(col: str) -> str:
    return col.replace("_", " ")


def _hours(v: str) -> str:
    """'8:30～17:30' → '08:30-17:30'."""
    v = re.sub(r"\s+", "", re.sub(r"[~～—–－至到]", "-", v.replace("：", ":")))
    return re.sub(r"(?<!\d)(\d):", r"0\1:", v)


def _owner(org: OrgDirectory, person: Staff) -> str | None:
    region = org.regions.get(person.region)
    return org.group_of(person.estate) or (region[0] if region else None)


def _belongs(r: _Row, col: str, key: str, owner: str | None, group_id: str, new: Iterable[str] | None) -> None:
    """`owner`: the group holding `key` in the directory; `new`: ids this batch adds (None: a new id is fine)."""
    zh, en = COLUMNS[r.kind][col], _en(col).removesuffix(" id")
    if owner and owner != group_id:
        r.err(col, f"{zh} {key} 已属于其他集团 {en} {key} already belongs to another group")
    elif owner is None and new is not None and key not in new:
        r.err(col, f"{zh} {key} 不存在 unknown {en} {key}")


def _positive(v: str) -> int:
    if not v.isdigit() or int(v) < 1:
        raise ValueError(v)
    return int(v)


def import_estates(data: bytes, filename: str, org: OrgDirectory, group_id: str) -> ImportResult:
    if org.group(group_id) is None:
        raise LookupError(f"unknown group {group_id!r}")
    table = _read(data, filename, "estates")
    result = ImportResult("estates", total_rows=len(table.rows))
    first: dict[str, int] = {}
    for n, cells in table.rows:
        r = _Row(result, table, "estates", n, cells)
        r.check_common(first)
        eid, rid = cells.get("estate_id", ""), cells.get("region_id", "")
        owner = org.group_of(eid)
        _belongs(r, "estate_id", eid, owner, group_id, None)
        _belongs(r, "region_id", rid, org.regions.get(rid, (None,))[0], group_id, None)
        values = r.values(org.estate(eid) if owner == group_id else None, skip=("working_hours",))
        if "working_hours" in cells:  # blank: the default hours
            values.pop("working_hours", None)
            values.update({"working_hours": _hours(cells["working_hours"])} if cells["working_hours"] else {})
        estate = r.build(Estate, values)
        if estate is not None:
            result.estates.append(EstateRow(n, group_id, rid, cells.get("region_name", ""), estate))
    return result


def import_staff(data: bytes, filename: str, org: OrgDirectory, group_id: str,
                 new_estates: set[str] | frozenset[str] = frozenset(), *,
                 new_regions: set[str] | frozenset[str] = frozenset()) -> ImportResult:
    """Staff rows. Region quality: a region of the group and no estate; everyone else: an estate and a department.

    `new_estates`/`new_regions`: ids loaded for this group in the same batch and not yet in `org`.
    """
    group = org.group(group_id)
    if group is None:
        raise LookupError(f"unknown group {group_id!r}")
    table = _read(data, filename, "staff")
    result = ImportResult("staff", total_rows=len(table.rows))
    shifts = [s.id for s in group.shifts]
    departments = {n.strip().lower(): d.kind for d in org.departments for n in (d.kind, d.name, d.name_en) if n}
    known = ", ".join(f"{d.name}/{d.kind}" for d in org.departments)
    convert: dict[str, tuple[Callable[[str], Any], str]] = {  # column → (text → value, raising; message)
        "role": (lambda v: ROLE_NAMES[v.lower()] if v else "handler", "未知角色 unknown role {!r}: use 处理人/handler, "
                 "主管/supervisor, 项目经理/estate_manager, 区域品质/region_quality or 坐席/operator"),
        "department": (lambda v: departments[v.lower()] if v else "", f"未知部门 unknown department {{!r}} ({known})"),
        "on_duty": (lambda v: YES_NO[v.lower()] if v else True, "在岗应填 是/否 on duty must be yes or no, not {!r}"),
        "max_open": (lambda v: _positive(v) if v else None, "上限应为不小于1的整数 max open must be a whole number "
                     "of at least 1, not {!r}")}
    in_file: dict[str, int] = {}
    for n, cells in table.rows:
        in_file.setdefault(cells.get("staff_id", ""), n)
    first: dict[str, int] = {}
    loaded: dict[int, Staff] = {}
    for n, cells in table.rows:
        r = _Row(result, table, "staff", n, cells)
        r.check_common(first)
        sid = cells.get("staff_id", "")
        old = org.person(sid)
        _belongs(r, "staff_id", sid, _owner(org, old) if old else None, group_id, None)
        values = r.values(old if "staff_id" not in r.bad else None, skip=tuple(convert))
        for col, (fn, message) in convert.items():
            if col in cells:
                try:
                    values[col] = fn(cells[col])
                except (KeyError, ValueError):
                    r.err(col, message.format(cells[col]))
        role, estate, region = values.get("role", "handler"), values.get("estate", ""), values.get("region", "")
        if estate and "estate_id" not in r.bad:
            _belongs(r, "estate_id", estate, org.group_of(estate), group_id, new_estates)
        if region and "region_id" not in r.bad:
            _belongs(r, "region_id", region, org.regions.get(region, (None,))[0], group_id, new_regions)
        if role == "region_quality":
            if not region:
                r.err("region_id", "区域品质人员须填写区域编号 region-quality staff need a region id")
            if estate:
                r.err("estate_id", "区域品质人员属于区域，项目编号应为空 region-quality staff belong to a region, "
                                   "not an estate: leave the estate id empty")
        elif "role" not in r.bad:  # as OrgDirectory.check_staff: everyone else works in an estate's department
            if not estate:
                r.err("estate_id", f"{role} 须填写项目编号 {_en(role)}s need an estate id")
            if not values.get("department") and "department" not in r.bad:
                r.err("department", f"{role} 须填写部门 {_en(role)}s need a department")
        for s in values.get("shifts", []) if "shifts" in cells else []:
            if s not in shifts:
                r.err("shifts", f"未知班次 unknown shift {s!r} (this group has: {', '.join(shifts)})")
        sup = values.get("supervisor_id", "") if "supervisor_id" not in r.bad else ""
        boss = org.person(sup)
        if sup and sup == sid:
            r.err("supervisor_id", "上级不能是本人 a person cannot be their own supervisor")
        elif boss is not None and _owner(org, boss) not in (group_id, None):
            r.err("supervisor_id", f"上级 {sup} 属于其他集团 supervisor {sup} belongs to another group")
        elif sup and boss is None and sup not in in_file:
            r.err("supervisor_id", f"上级 {sup} 不存在 supervisor {sup} is neither in the directory nor in this file")
        person = r.build(Staff, values)
        if person is not None:
            loaded[n] = person
    while True:  # a supervisor found only in this file must itself load; dropping one may orphan others
        ids = {p.id for p in loaded.values()}
        orphaned = [n for n, p in loaded.items() if p.supervisor_id and p.supervisor_id not in ids
                    and org.person(p.supervisor_id) is None]
        if not orphaned:
            break
        for n in orphaned:
            sup = loaded.pop(n).supervisor_id
            _Row(result, table, "staff", n, {}).err("supervisor_id", f"上级 {sup}（第 {in_file[sup]} 行）未导入 "
                                                    f"supervisor {sup} (row {in_file[sup]}) was not loaded")
    result.staff = sorted(loaded.items())
    result.errors.sort(key=lambda e: e.row)
    return result
