"""Masking of personal data (phone numbers, names, addresses) for logs and list views."""

from __future__ import annotations

import re

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3}-?)(\d{3,4})(\d{4})(?!\d)")


def mask_phone(phone: str) -> str:
    """138****1234; a short or odd number keeps only its last two digits."""
    digits = re.sub(r"\D", "", phone or "")
    if not digits:
        return ""
    if len(digits) >= 7:
        return digits[:3] + "****" + digits[-4:]
    return "*" * (len(digits) - 2) + digits[-2:] if len(digits) > 2 else "**"


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***, John Smith → J*********."""
    name = (name or "").strip()
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def mask_unit(unit: str) -> str:
    """Keep the building, hide the room: 3栋2单元1201 → 3栋2单元****."""
    unit = (unit or "").strip()
    if not unit:
        return ""
    m = re.match(r"^(.*?[栋幢座号楼])", unit)
    head = m.group(1) if m else ""
    return head + "****"


def mask_text(text: str) -> str:
    """Mask phone numbers embedded in free text (logs, previews)."""
    text = _PHONE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text or "")
    return _LANDLINE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


def mask_complainant(c: dict) -> dict:
    return {"name": mask_name(c.get("name", "")), "phone": mask_phone(c.get("phone", "")),
            "unit": mask_unit(c.get("unit", ""))}
