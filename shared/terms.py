"""The domain vocabulary in one place: English codes used in code and on the wire, Chinese labels users see.

术语表. Every enum's value is the wire code; `zh(value)` gives the Chinese label for UI text and documents.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """投诉途径: how a complaint reached us."""

    phone = "phone"
    visit = "visit"
    proxy = "proxy"
    letter = "letter"
    mailbox = "mailbox"
    staff_relay = "staff_relay"
    fax = "fax"
    online = "online"
    email = "email"


class Category(StrEnum):
    """投诉内容: what the complaint is about."""

    service = "service"
    fees = "fees"
    community = "community"
    emergency = "emergency"
    neighbour = "neighbour"


class Severity(StrEnum):
    """投诉级别, most urgent first."""

    emergency = "emergency"
    major = "major"
    general = "general"
    minor = "minor"


class Status(StrEnum):
    """Where a case is in the handling process (投诉处理程序)."""

    received = "received"
    triaged = "triaged"
    assigned = "assigned"
    waiting = "waiting"
    resolved = "resolved"
    reopened = "reopened"
    closed = "closed"


class Responsibility(StrEnum):
    ours = "ours"
    not_ours = "not_ours"
    assist = "assist"


class Satisfaction(StrEnum):
    """回访满意度, five levels, best first."""

    very_satisfied = "very_satisfied"
    satisfied = "satisfied"
    fairly_satisfied = "fairly_satisfied"
    neutral = "neutral"
    unsatisfied = "unsatisfied"


class ResponsibleParty(StrEnum):
    """Who an invalid complaint belongs to (无效投诉的责任方)."""

    property = "property"
    developer = "developer"
    utility = "utility"
    government = "government"
    neighbour = "neighbour"


# 投诉内容细类 → 大类: the taxonomy triage decides and operators correct
SUBCATEGORY_OF: dict[str, str] = {
    "security": "service", "cleaning": "service", "greening": "service", "repair": "service", "lift": "service",
    "parking": "service", "decoration": "service", "attitude": "service",
    "service_fee": "fees", "parking_fee": "fees", "shared_utility": "fees", "invoice": "fees",
    "activity": "community", "activity_noise": "community",
    "fire": "emergency", "gas": "emergency", "lift_entrapment": "emergency", "flooding": "emergency",
    "power_cut": "emergency", "water_cut": "emergency", "security_incident": "emergency",
    "noise": "neighbour", "leak_downstairs": "neighbour", "pets": "neighbour", "common_space": "neighbour",
    "illegal_building": "neighbour", "other": "service",
}

ZH: dict[str, str] = {
    # channels
    "phone": "电话", "visit": "亲临", "proxy": "委托他人", "letter": "信函邮寄", "mailbox": "意见箱",
    "staff_relay": "员工转述", "fax": "传真", "online": "网上", "email": "电子邮件",
    # categories
    "service": "物业管理服务", "fees": "物业服务收费", "community": "社区文化活动组织",
    "emergency": "突发事件处理", "neighbour": "毗邻关系处理",
    # subcategories
    "security": "秩序安保", "cleaning": "保洁", "greening": "绿化", "repair": "工程维修", "lift": "电梯",
    "parking": "停车", "decoration": "装修管理", "attitude": "服务态度", "service_fee": "物业费",
    "parking_fee": "停车费", "shared_utility": "公摊费用", "invoice": "发票", "activity": "社区活动",
    "activity_noise": "活动噪音", "fire": "火警", "gas": "燃气", "lift_entrapment": "电梯困人",
    "flooding": "水浸", "power_cut": "停电", "water_cut": "停水", "security_incident": "治安事件",
    "noise": "邻里噪音", "leak_downstairs": "楼上漏水", "pets": "宠物", "common_space": "占用公共空间",
    "illegal_building": "违章搭建", "other": "其他",
    # severities
    "major": "重大", "general": "一般", "minor": "轻微",
    # status
    "received": "已受理", "triaged": "已判定", "assigned": "已派单", "resolved": "已处理",
    "reopened": "已重开", "closed": "已归档", "waiting": "待派单",
    # SLA clocks (时限) and the escalation ladder (升级)
    "acknowledge": "接单", "first_response": "到场/首次响应", "resolve": "处理完成", "followup": "回访",
    "handler": "处理人", "supervisor": "主管", "estate_manager": "项目经理", "region_quality": "区域品质",
    "operator": "坐席", "group_admin": "集团管理员", "integration": "系统接口",
    # assignment kinds
    "initial": "首次派单", "linked": "并单", "send_back": "退单改派", "reassign": "手工改派", "reopen": "重开派单",
    "from_queue": "待派转派", "reclassified": "更正判定后派单",
    # responsibility
    "ours": "责任投诉", "not_ours": "无责任投诉", "assist": "协助处理",
    # satisfaction
    "very_satisfied": "很满意", "satisfied": "满意", "fairly_satisfied": "较满意", "neutral": "一般",
    "unsatisfied": "不满意",
    # responsible parties
    "property": "物业服务企业", "developer": "建设单位", "utility": "市政公用事业单位", "government": "政府部门",
}
# "emergency" is both a category (突发事件处理) and a severity (特急); the severity label is asked for explicitly.
SEVERITY_ZH = {"emergency": "特急", "major": "重大", "general": "一般", "minor": "轻微"}


def zh(code: str) -> str:
    """Chinese label of a wire code, or the code itself when it has none."""
    return ZH.get(code, code)
