"""The foundation's keyword classifier, kept as the baseline the triage benchmark measures against."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.terms import Category, Responsibility, ResponsibleParty, Severity

# subcategory -> (category, keywords). Emergencies first: they win over everything else.
RULES: tuple[tuple[str, Category, tuple[str, ...]], ...] = (
    ("gas", Category.emergency, ("燃气", "煤气", "天然气", "液化气", "gas")),
    ("fire", Category.emergency, ("着火", "火灾", "起火", "冒烟", "失火", "火警", "fire")),
    ("lift_entrapment", Category.emergency, ("困在电梯", "电梯困人", "被困", "关在电梯", "困人", "trapped")),
    ("flooding", Category.emergency, ("水浸", "被淹", "淹了", "水漫", "倒灌", "爆管", "水管爆", "flood")),
    ("power_cut", Category.emergency, ("停电", "断电", "没电", "power cut")),
    ("water_cut", Category.emergency, ("停水", "断水", "没水", "water cut")),
    ("security_incident", Category.emergency, ("被盗", "小偷", "入室", "抢劫", "打架", "斗殴", "theft")),
    ("leak_downstairs", Category.neighbour, ("楼上漏水", "楼上渗水", "天花板漏水", "天花板渗水", "楼上的水")),
    ("noise", Category.neighbour, ("噪音", "吵", "装修声", "半夜", "扰民", "noise")),
    ("pets", Category.neighbour, ("狗", "猫", "宠物", "狗屎", "遛狗", "pet", "dog")),
    ("common_space", Category.neighbour, ("堆放", "占用", "楼道杂物", "占道", "杂物")),
    ("illegal_building", Category.neighbour, ("违建", "违章", "搭建", "私搭", "加建")),
    ("parking_fee", Category.fees, ("停车费", "车位费", "月卡")),
    ("service_fee", Category.fees, ("物业费", "管理费", "收费标准", "乱收费", "多收", "涨价")),
    ("shared_utility", Category.fees, ("公摊", "分摊", "公共水电")),
    ("invoice", Category.fees, ("发票", "收据", "invoice")),
    ("activity_noise", Category.community, ("广场舞", "活动噪音", "音响")),
    ("activity", Category.community, ("社区活动", "活动", "通知", "讲座", "联欢")),
    ("lift", Category.service, ("电梯", "lift", "elevator")),
    ("repair", Category.service, ("维修", "坏了", "损坏", "漏水", "渗水", "路灯", "楼道灯", "水管", "门禁", "报修",
                                  "repair", "broken")),
    ("cleaning", Category.service, ("垃圾", "保洁", "卫生", "脏", "异味", "清扫", "clean")),
    ("greening", Category.service, ("绿化", "树", "草坪", "花坛", "修剪")),
    ("parking", Category.service, ("停车", "车位", "乱停", "道闸", "parking")),
    ("security", Category.service, ("保安", "门岗", "陌生人", "巡逻", "外来人员", "security")),
    ("decoration", Category.service, ("装修", "装修垃圾", "施工")),
    ("attitude", Category.service, ("态度", "不理", "骂", "推诿", "服务差", "rude")),
)

MAJOR_SIGNALS = ("12345", "媒体", "记者", "电视台", "曝光", "住建", "房管局", "市长热线", "起诉", "律师",
                 "集体", "联名", "多户", "业主们", "大家都", "第三次", "多次投诉", "再次投诉", "又一次", "群诉")
MINOR_SIGNALS = ("建议", "希望", "能否", "可否", "小问题", "顺便")
# Outside the property-service contract: whose it is.
NOT_OURS: tuple[tuple[ResponsibleParty, tuple[str, ...]], ...] = (
    (ResponsibleParty.developer, ("开发商", "交房", "房屋质量", "质保期", "墙体开裂", "外墙开裂", "精装修质量")),
    (ResponsibleParty.utility, ("自来水公司", "供电局", "电网", "燃气公司", "市政停水", "市政停电", "管网改造")),
    (ResponsibleParty.government, ("城管", "规划局", "学区", "派出所", "街道办")),
)


@dataclass
class Classification:
    category: Category
    subcategory: str
    severity: Severity
    valid: bool
    responsibility: Responsibility
    responsible_party: ResponsibleParty
    confidence: float
    reasons: list[str] = field(default_factory=list)
    needs_review: bool = False


def _hits(text: str, words: tuple[str, ...]) -> list[str]:
    low = text.lower()
    return [w for w in words if w in low]


def classify(text: str, demand: str = "", review_below: float = 0.5) -> Classification:
    """Decide category, subcategory, severity, validity and responsibility from the complaint's words."""
    full = f"{text}\n{demand}"
    reasons: list[str] = []
    best: tuple[str, Category, list[str]] | None = None
    for sub, cat, words in RULES:
        hits = _hits(full, words)
        if hits and (best is None or (cat is Category.emergency) > (best[1] is Category.emergency)
                     or (best[1] is not Category.emergency and len(hits) > len(best[2]))):
            best = (sub, cat, hits)
    if best is None:
        sub, cat, hits = "other", Category.service, []
        reasons.append("no keyword matched: defaulted to 物业管理服务")
    else:
        sub, cat, hits = best
        reasons.append(f"keywords {'、'.join(hits)} → {cat.value}/{sub}")
    severity = _severity(full, cat, reasons)
    party = ResponsibleParty.property
    for candidate, words in NOT_OURS:
        found = _hits(full, words)
        if found:
            party = candidate
            reasons.append(f"{'、'.join(found)} → outside the service contract ({candidate.value})")
            break
    valid = party is ResponsibleParty.property
    if not valid:
        responsibility = Responsibility.not_ours
    elif cat in (Category.emergency, Category.neighbour):
        responsibility = Responsibility.assist
    else:
        responsibility = Responsibility.ours
    confidence = 0.3 if not hits else min(0.95, 0.55 + 0.15 * len(hits))
    return Classification(cat, sub, severity, valid, responsibility, party, round(confidence, 2), reasons,
                          needs_review=confidence < review_below)


def _severity(text: str, category: Category, reasons: list[str]) -> Severity:
    if category is Category.emergency:
        reasons.append("emergency category → 特急")
        return Severity.emergency
    major = _hits(text, MAJOR_SIGNALS)
    if major:
        reasons.append(f"{'、'.join(major)} → 重大")
        return Severity.major
    minor = _hits(text, MINOR_SIGNALS)
    if minor:
        reasons.append(f"{'、'.join(minor)} → 轻微")
        return Severity.minor
    return Severity.general
