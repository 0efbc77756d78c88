"""Lifecycle events: facts in the past tense, each published by exactly one service."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.contracts.envelope import Payload
from shared.terms import Category, Channel, Responsibility, ResponsibleParty, Satisfaction, Severity


class Complainant(Payload):
    """Who complained (投诉人). Personal data: masked in logs and list views."""

    name: str = Field("", max_length=100, description="Name as given; may be empty for anonymous notes.")
    phone: str = Field("", max_length=40, description="Phone number as given.")
    unit: str = Field("", max_length=200, description="Residence: building/unit/room (楼栋/单元/房号).")
    email: str = Field("", max_length=254, description="Email for status notices, when given.")


class Attachment(Payload):
    """A file that came with the complaint; the bytes stay with the intake service."""

    name: str = Field(max_length=255)
    content_type: str = Field("application/octet-stream", max_length=255)
    size: int = Field(0, ge=0)
    ref: str = Field("", max_length=255, description="Where the original is stored: '<service>:<file id>'.")
    kind: str = Field("attachment", max_length=32,
                      description="original | attachment | transcript | recording | email | scan")


class ComplaintReceived(Payload):
    """Emitted by an intake channel once the raw input is stored: a complaint exists and has a tracking number."""

    tracking_no: str = Field(description="Human tracking number given to the complainant (投诉编号).")
    channel: Channel
    received_at: datetime
    text: str = Field(min_length=1, max_length=20_000, description="What happened, in the complainant's words.")
    demand: str = Field("", max_length=2_000, description="What the complainant asks for (诉求).")
    complainant: Complainant
    attachments: list[Attachment] = Field(default_factory=list)
    receiver: str = Field("", max_length=100, description="Who received it: an operator id or the channel.")
    source_ref: str = Field("", max_length=255, description="The channel's own id of the input (idempotency key).")
    reported_by: str = Field("", max_length=200,
                             description="Who passed it on: the proxy (委托人) or the staff member (员工转述).")
    needs_review: bool = Field(False, description="The channel could not fully understand the input.")
    review_reason: str = Field("", max_length=500, description="Why an operator should look at it.")


class ComplaintTriaged(Payload):
    """Emitted by triage once it has judged the complaint (判定)."""

    category: Category
    subcategory: str
    severity: Severity
    valid: bool = Field(description="Within the property-service contract (有效投诉).")
    responsibility: Responsibility
    responsible_party: ResponsibleParty = ResponsibleParty.property
    confidence: float = Field(ge=0, le=1)
    reasons: list[str] = Field(default_factory=list, description="The words or signals that decided it.")
    needs_review: bool = False
    estate_hint: str | None = Field(None, description="Estate named in the text (from the estate directory).")
    unit_hint: str | None = Field(None, description="Building/unit/room as written, e.g. 3栋2单元1201.")
    phone_hint: str | None = Field(None, description="Phone number found in the text, digits only.")
    demand: str = Field("", max_length=2_000, description="The complainant's demand (诉求) found in the text.")
    duplicate_of: str | None = Field(None, description="First report of the same problem or incident, if any.")
    link_kind: str = Field("", description="repeat (same household again) | incident (several reporters) | ''")
    reports: int = Field(1, ge=1, description="Reports of this problem so far, this one included.")
    corrected_by: str = Field("", description="Operator who corrected the classification, when it was corrected.")


class Assignee(Payload):
    staff_id: str
    name: str
    department_id: str
    department_name: str


class SlaDue(Payload):
    """Due times of the clocks (UTC); None while a clock is paused or already met."""

    acknowledge_due: datetime | None
    first_response_due: datetime | None
    resolve_due: datetime | None


class Candidate(Payload):
    """One person considered for a case: open cases against their cap, on shift now, has the skill."""

    staff_id: str
    load: int = Field(ge=0)
    cap: int = Field(ge=1)
    on_shift: bool
    skilled: bool = False


class ComplaintAssigned(Payload):
    """Emitted by assignment when a case gets (or gets again, after a reopen) a responsible person (派单)."""

    round: int = Field(1, ge=1, description="1 for the first assignment, +1 after each reopen.")
    assignee: Assignee
    supervisor_id: str = ""
    severity: Severity
    sla: SlaDue
    reason: str = Field(description="Why this person: rule, candidates and their load.")
    kind: str = Field("initial", description="initial | linked | send_back | reassign | reopen | from_queue | "
                                                 "reclassified")
    department: str = Field("", description="Department kind the rule chose (may differ from the assignee's "
                                            "when nobody there could take it).")
    notify: list[str] = Field(default_factory=list, description="Staff told at once (emergency: the supervisor).")
    candidates: list[Candidate] = Field(default_factory=list, description="Who was considered, with their load.")
    by: str = Field("", max_length=100, description="Who reassigned by hand, when it was by hand.")


class ComplaintResolved(Payload):
    """Emitted by assignment when the handler reports the case solved (处理完毕)."""

    round: int = Field(ge=1)
    note: str = Field(max_length=5_000)
    by: str = Field(max_length=100)


class FollowUpRecorded(Payload):
    """Emitted by follow-up for every callback attempt (回访记录)."""

    attempt: int = Field(ge=1)
    reached: bool
    satisfaction: Satisfaction | None = None
    note: str = ""
    by: str = ""


class ComplaintReopened(Payload):
    """Emitted by follow-up when the complainant is not satisfied: the case goes back to assignment."""

    round: int = Field(ge=2, description="The round the reopened case starts.")
    reason: str


class ComplaintClosed(Payload):
    """Emitted by follow-up when the case is finished (归档): satisfied, or unreachable after the attempts."""

    outcome: str = Field(description="satisfied | unreachable")
    satisfaction: Satisfaction | None = None


class ComplaintQueued(Payload):
    """Emitted by assignment when every suitable handler is at their cap: the case waits (待派), oldest first."""

    department: str
    reason: str


class ComplaintSentBack(Payload):
    """Emitted by assignment when a handler sends a wrongly routed case back (退单); re-routing follows (改派)."""

    by: str = Field(max_length=100)
    reason: str = Field(max_length=2_000)
    from_department: str
    to_department: str


class ProgressRecorded(Payload):
    """Emitted by assignment when the handler acknowledges (接单) or reaches the site / first responds (到场)."""

    step: str = Field(description="acknowledge | first_response")
    by: str = Field(max_length=100)
    note: str = Field("", max_length=2_000)
    late: bool = Field(False, description="The step's clock had already run out.")


class ClocksPaused(Payload):
    """Emitted by assignment when the clocks stop while waiting on the complainant (等待业主)."""

    by: str = Field(max_length=100)
    reason: str = Field(max_length=2_000)


class ClocksResumed(Payload):
    """Emitted by assignment when the clocks run again; carries the moved due times."""

    by: str = Field(max_length=100)
    paused_seconds: float = Field(ge=0)
    sla: SlaDue


class SlaWarning(Payload):
    """Emitted by assignment when a clock has used its warning share (e.g. 80%) of the budget (预警)."""

    clock: str = Field(description="acknowledge | first_response | resolve | followup")
    due_at: datetime
    to: list[str] = Field(default_factory=list, description="Staff warned.")


class ComplaintEscalated(Payload):
    """Emitted by assignment when a clock runs out, and again up the ladder (升级/督办)."""

    clock: str
    level: int = Field(ge=1, le=3, description="1 supervisor, 2 estate manager, 3 region quality")
    role: str
    to_staff_id: str = ""
    to_name: str = ""
    due_at: datetime
    overdue_seconds: float = Field(ge=0)
    notice: str = Field(description="督办通知: the supervision notice recorded on the case.")


class CallbackScheduled(Payload):
    """Emitted by follow-up when a callback attempt is due (回访任务), for the person who owns the replies."""

    round: int = Field(ge=1)
    attempt: int = Field(ge=1)
    due_at: datetime
    owner: str = Field("", description="Who received the complaint and so calls back (谁受理、谁回复); '' = desk.")


class NoticeSent(Payload):
    """Emitted by follow-up when a status notice reached the complainant's phone or mailbox (告知)."""

    notice_id: str
    point: str = Field(description="received | assigned | resolved | closed")
    channel: str = Field(description="sms | email")
    to_masked: str
    text: str
    attempts: int = Field(ge=1)
    provider_id: str = ""


class NoticeFailed(Payload):
    """Emitted by follow-up when a notice could not be delivered (given up after retries, or refused)."""

    notice_id: str
    point: str
    channel: str
    to_masked: str
    reason: str
    attempts: int = Field(ge=0)


class CommunicationRecorded(Payload):
    """Any contact with any counterpart, complaint or not (沟通记录): time, place, counterpart, staff, matter, result.

    Envelope: complaint_id is the communication id (its key); `complaint_id` below links it to a case.
    """

    communication_id: str
    at: datetime
    place: str = Field("", max_length=200, description="地点, e.g. 客服中心, 业主家中, 电话")
    counterpart_type: str = Field(description="owner | tenant | owners_committee | developer | government | "
                                              "residents_committee | utility | contractor")
    counterpart_name: str = Field(max_length=200)
    phone: str = Field("", max_length=40)
    unit: str = Field("", max_length=200)
    staff: str = Field(max_length=100, description="我方人员 / our staff")
    matter: str = Field(min_length=1, max_length=5_000, description="事由")
    result: str = Field("", max_length=5_000, description="结果")
    channel: str = Field("", description="phone | visit | meeting | letter | email | other")
    complaint_id: str | None = None


class HistoryImported(Payload):
    """A closed case's past events, imported from a previous system into the archive only (历史数据迁移)."""

    source: str = Field(max_length=200)
    events: list[dict] = Field(min_length=1, max_length=200, description="Envelopes of lifecycle events, in order.")


class DirectoryChanged(Payload):
    """Emitted by assignment when the organisation directory changes; every service applies it to its view.

    Envelope: complaint_id is `directory:<group>` (the key keeps a group's changes in order), estate_id `*`.
    """

    entity: str = Field(description="group | estate | staff | staff_removed | calendar")
    data: list[dict] = Field(description="Full snapshots of the changed entities (at most a few hundred).")
    source: str = Field("", description="What changed it: api, import:<file>, seed.")


class ApiKeyChanged(Payload):
    """Emitted by the operator API when a group admin creates or revokes an integration's API key.

    Intake services keep the grants it carries and check every `X-Api-Key` (or SMTP AUTH password) against
    them, so they never call the operator API to verify a key. Only the SHA-256 of the key travels.
    Envelope: complaint_id is `apikey:<key_id>` (a key's changes stay in order), estate_id `*`.
    """

    key_id: str = Field(min_length=1, max_length=64)
    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 (hex) of the key; the key never travels")
    name: str = Field("", max_length=200, description="The integration, e.g. 呼叫中心CTI")
    estate_ids: list[str] = Field(default_factory=list, description="Estates it may submit for; empty = whole group")
    uses: list[str] = Field(description="What it may call: operator_api, phone, letter, fax, web")
    revoked: bool = False
    changed_at: datetime = Field(description="When the key was created or revoked; a later change wins")


EVENTS: tuple[type[Payload], ...] = (
    ComplaintReceived, ComplaintTriaged, ComplaintAssigned, ComplaintResolved,
    FollowUpRecorded, ComplaintReopened, ComplaintClosed, ComplaintQueued, ComplaintSentBack, ProgressRecorded,
    ClocksPaused, ClocksResumed, SlaWarning, ComplaintEscalated, DirectoryChanged, CallbackScheduled, NoticeSent,
    NoticeFailed, CommunicationRecorded, HistoryImported, ApiKeyChanged,
)
