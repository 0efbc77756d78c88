"""Hand-written signals for what must never be missed or misjudged: emergencies, major and minor, not ours.

The statistical model proposes; these rules can only raise a complaint toward emergency or major, and
name the words that decided it, so an operator sees why.
"""

from __future__ import annotations

import re

from shared.terms import SUBCATEGORY_OF

__all__ = ["SUBCATEGORY_OF"]

EMERGENCY_SIGNALS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("gas", re.compile(r"(煤气|燃气|天然气|液化气)(味|泄漏|漏气|漏了)|闻到.{0,6}(煤气|燃气)|漏气")),
    ("fire", re.compile(r"着火|起火|失火|火灾|烧起来|冒烟|冒黑烟|浓烟|明火|火苗|火警|烟好大|好大的烟|"
                        r"(?<!\d)119(?!\d)")),
    ("lift_entrapment", re.compile(r"困在.{0,4}(电梯|梯)|被困|关在电梯|电梯.{0,8}(出不来|困人|困住|困了|困着)|困人|"
                                   r"卡在电梯|电梯里.{0,3}困")),
    ("flooding", re.compile(r"淹了|被淹|倒灌|灌进|往.{0,6}灌|水浸|爆管|水管爆|管子爆|爆裂|积水.{0,6}(车库|地下室)|"
                            r"(地库|车库|地下室).{0,4}(进水|积水|淹)")),
    ("power_cut", re.compile(r"停电|(?<!挂)断电|(整栋|整幢|全楼|整个小区|全小区|整层|一整栋).{0,8}(没电|跳闸)")),
    ("water_cut", re.compile(r"停水|断水|(整栋|整幢|全楼|整个小区|全小区|一整栋).{0,8}没水")),
    ("security_incident", re.compile(r"小偷|入室|盗窃|被盗|撬门|撬锁|抢劫|打架|斗殴|持刀|砍人|行凶|偷走|进人了|"
                                     r"有人进(来|了)|翻东西|闯入|砸车|砸人|持砖|挥.{0,3}(刀|砖|棍)|闹事|翻越|翻墙|撬棍|冒充|"
                                     r"自称.{0,4}(物业|维修)")),
)
PAST = re.compile(r"昨晚|昨天|前天|上周|上星期|上个月|去年|之前|那次|上次|事后|当时|已经(修好|处理|恢复|救出|解决)|"
                  r"\d{1,2}月\d{1,2}日|本月\d{1,2}日|\d{1,2}日(晚|凌晨|早上|上午|下午|夜)")
NOW = re.compile(r"现在|正在|马上|赶紧|快来|快点|救命|还在|此刻|立刻|快派")
CHRONIC = re.compile(r"一个多月|几个月|好几天|好多天|半个月|很久|好久|长期|经常|总是|每次|每逢")
HYPOTHETICAL = re.compile(r"万一|如果|要是|一旦|以防|防止|以免|隐患|担心|怕|预防|演练|检查")

MAJOR_SIGNALS = re.compile(
    r"12345|市长热线|媒体|记者|电视台|曝光|报社|微博|抖音|住建|房管局|房管所|信访|起诉|律师|法院|诉讼|"
    r"联名|集体|全体业主|业主们|多户|好多户|很多户|几十户|大家都|群诉|业委会|业主委员会|"
    r"第三次|第四次|第五次|三次了|好几次|多次|无数次|n次|N次|反复反映|一再|屡次|"
    r"损失.{0,6}(元|块|万)|[0-9一二三四五六七八九十几]+万元?|赔偿.{0,8}(元|块|万)")
MINOR_SIGNALS = re.compile(r"建议|提个?意见|希望能|能否|可否|能不能|不着急|不急|有空|顺便|小问题|麻烦考虑|提议")

NOT_OURS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("developer", re.compile(r"开发商|交房|房屋质量|质保期|保修期|墙体开裂|外墙.{0,4}(裂|渗)|精装修?质量|验房|"
                             r"建设单位")),
    ("utility", re.compile(r"自来水公司|供电局|供电公司|电力公司|电网|燃气公司|市政.{0,4}(停水|停电|管网)|"
                           r"计划停(水|电)|"
                           r"(停水|停电)通知|水务集团|电信|移动公司|联通")),
    ("government", re.compile(r"城管|规划局|学区|派出所|街道办|居委会|交警|环保局|市政道路|政府")),
)


def emergency_signals(text: str) -> list[tuple[str, str]]:
    """(subcategory, words) for every emergency signal that speaks of something real and present.

    "万一失火" (if a fire broke out) and "上周四晚…起火" (a fire last week) are not emergencies now.
    """
    hits = []
    for sub, pattern in EMERGENCY_SIGNALS:
        for m in pattern.finditer(text):
            before = text[max(0, m.start() - 8):m.start()]
            around = text[max(0, m.start() - 14):m.end() + 14]
            if HYPOTHETICAL.search(before):
                continue
            if PAST.search(text[max(0, m.start() - 22):m.start()]) and not NOW.search(around):
                continue
            if CHRONIC.search(text[m.end():m.end() + 16]) and not NOW.search(around):
                continue
            hits.append((sub, m.group(0)))
            break
    return hits


def happening_now(text: str) -> bool:
    """Without a single present emergency signal, a text full of past tense is history."""
    return not PAST.search(text) or bool(NOW.search(text))


def major_signal(text: str) -> str | None:
    m = MAJOR_SIGNALS.search(text)
    return m.group(0) if m else None


def minor_signal(text: str) -> str | None:
    m = MINOR_SIGNALS.search(text)
    return m.group(0) if m else None


def not_ours(text: str) -> tuple[str, str] | None:
    for party, pattern in NOT_OURS:
        if m := pattern.search(text):
            return party, m.group(0)
    return None
