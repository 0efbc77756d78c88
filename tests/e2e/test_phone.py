"""Phone intake: CTI calls in three transcript forms become cases; enquiries become communications."""

from __future__ import annotations

import base64
import uuid

from tests.e2e.conftest import case_where, filed
from tests.helpers import complaint

START, END = "2026-11-27T09:00:00+08:00", "2026-11-27T09:04:30+08:00"


def call(**kw) -> dict:
    body = {"call_id": f"cti-{uuid.uuid4().hex[:10]}", "caller_number": "13812349876",
            "called_line": "0571-88880001", "started_at": START, "ended_at": END, "operator_id": "op-007",
            "transcript": [
                {"speaker": "坐席", "text": "您好，恒安物业客服中心，请问有什么可以帮您？", "start": 0.5},
                {"speaker": "业主", "text": "我家楼上漏水，天花板都湿了，找了物业两次都没人处理。", "start": 4.0},
                {"speaker": "坐席", "text": "非常抱歉，请问您的房号？", "start": 9.0},
                {"speaker": "业主", "text": "5栋1单元302。希望你们今天就派人来看看。", "start": 12.0}]}
    body.update(kw)
    return body


async def test_a_cti_call_becomes_a_case_with_the_callers_words_and_its_transcript_kept(phone, ops):
    body = call(recording={"name": "rec.wav", "content_type": "audio/wav",
                           "content_base64": base64.b64encode(b"RIFF....WAVEfmt fake audio").decode()})
    r = await phone.post("/api/v1/calls", json=body)
    assert r.status_code == 202, r.text
    assert r.json()["kind"] == "complaint"
    cid = r.json()["complaint_id"]

    case = await case_where(ops, cid, filed)
    assert case["channel"] == "phone" and case["receiver"] == "op-007" and case["estate_id"] == "e-lakeside"
    assert "天花板都湿了" in case["text"] and "恒安物业客服中心" not in case["text"]
    assert "今天就派人来看看" in case["demand"]
    assert case["complainant"]["unit"].startswith("5栋1单元302")
    assert case["subcategory"] == "leak_downstairs"

    transcript = await ops.get(f"/api/v1/complaints/{cid}/originals/0")
    assert transcript.status_code == 200 and "坐席：您好" in transcript.text and "业主：我家楼上漏水" in transcript.text
    recording = await ops.get(f"/api/v1/complaints/{cid}/originals/1")
    assert recording.content == b"RIFF....WAVEfmt fake audio"
    assert recording.headers["content-type"].startswith("audio/wav")

    again = await phone.post("/api/v1/calls", json=body)
    assert again.status_code == 200 and again.json()["complaint_id"] == cid and again.json()["duplicate"] is True


async def test_a_plain_text_transcript_on_the_group_hotline_finds_the_estate_named_in_the_call(phone, ops):
    text = "坐席：您好，恒安物业400热线。\n业主：我是朝阳苑的，小区门口垃圾堆了三天，臭得不行。\n坐席：好的，马上安排。"
    r = await phone.post("/api/v1/calls", json=call(transcript=None, transcript_text=text,
                                                    called_line="400-800-1234"))
    assert r.status_code == 202, r.text
    case = await case_where(ops, r.json()["complaint_id"], filed)
    assert case["estate_id"] == "e-sunrise" and case["subcategory"] == "cleaning"
    assert case["needs_review"] is False


async def test_a_webvtt_transcript_is_read_by_speaker(phone, ops):
    vtt = ("WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n<v 坐席>您好，请讲。\n\n"
           "00:00:03.500 --> 00:00:09.000\n<v 业主>电梯坏了三天了，老人上不了楼。\n")
    r = await phone.post("/api/v1/calls", json=call(transcript=None, transcript_text=vtt))
    assert r.status_code == 202, r.text
    case = await case_where(ops, r.json()["complaint_id"], filed)
    assert case["text"] == "电梯坏了三天了，老人上不了楼。" and case["subcategory"] == "lift"


async def test_an_enquiry_is_recorded_as_a_communication_not_a_complaint(phone, ops):
    turns = [{"speaker": "业主", "text": "请问物业费可以用微信交吗？"}, {"speaker": "坐席", "text": "可以的。"}]
    body = call(transcript=turns)
    r = await phone.post("/api/v1/calls", json=body)
    assert r.status_code == 200 and r.json()["kind"] == "communication"
    again = await phone.post("/api/v1/calls", json=body)
    assert again.json()["communication_id"] == r.json()["communication_id"] and again.json()["duplicate"] is True


async def test_a_known_caller_on_the_hotline_is_placed_in_their_household_and_named(web, phone, ops):
    number = f"139{uuid.uuid4().int % 10**8:08d}"
    first = await web.post("/api/v1/complaints", json=complaint(
        estate_id="e-sunrise", complainant={"name": "赵六", "phone": number, "unit": "8栋3单元501"}))
    await case_where(ops, first.json()["complaint_id"], filed)

    turns = [{"speaker": "业主", "text": "我家门口的楼道灯又坏了，还是没人修。"}]
    r = await phone.post("/api/v1/calls", json=call(transcript=turns, caller_number=number,
                                                    called_line="400-800-1234"))
    assert r.json()["known_household"] is True
    case = await case_where(ops, r.json()["complaint_id"], filed)
    assert case["estate_id"] == "e-sunrise"
    assert case["complainant"]["name"] == "赵六" and case["complainant"]["unit"] == "8栋3单元501"


async def test_an_unidentified_estate_on_the_hotline_goes_to_review_not_lost(phone, ops):
    turns = [{"speaker": "业主", "text": "你们小区的路灯坏了好几天了。"}]
    r = await phone.post("/api/v1/calls", json=call(transcript=turns, caller_number="13000000001",
                                                    called_line="400-800-1234"))
    assert r.status_code == 202
    case = await case_where(ops, r.json()["complaint_id"], filed)
    assert case["needs_review"] is True and "estate" in case["review_reason"]
    queue = (await ops.get("/api/v1/complaints", params={"needs_review": "true", "page_size": 100})).json()
    assert r.json()["complaint_id"] in [i["complaint_id"] for i in queue["items"]]


async def test_bad_calls_get_clear_422s(phone):
    both = call(transcript_text="业主：坏了")
    assert (await phone.post("/api/v1/calls", json=both)).status_code == 422
    unknown = await phone.post("/api/v1/calls", json=call(called_line="010-12345678"))
    assert unknown.status_code == 422 and "called line" in unknown.json()["detail"]
    bad_vtt = await phone.post("/api/v1/calls", json=call(transcript=None, transcript_text="WEBVTT\n\nnot a cue"))
    assert bad_vtt.status_code == 422
    backwards = await phone.post("/api/v1/calls", json=call(ended_at="2026-11-27T08:00:00+08:00"))
    assert backwards.status_code == 422 and "before" in backwards.json()["message"]
