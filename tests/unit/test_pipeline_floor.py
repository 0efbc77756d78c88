"""The benchmark's floor repeats what the pipeline did per complaint, as counted while it ran."""

from benchmarks.pipeline_bench import FloorStage, Share, per_complaint


def test_a_fraction_per_event_is_spread_in_whole_counts_that_add_up_to_it():
    share = Share(1.78)
    taken = [share.take() for _ in range(100)]
    assert set(taken) == {1, 2} and sum(taken) == 178
    whole, quarter = Share(3.0), Share(0.25)
    assert [whole.take() for _ in range(3)] == [3, 3, 3]
    assert [quarter.take() for _ in range(8)] == [0, 1, 0, 0, 0, 1, 0, 0]


def test_the_pipelines_work_per_complaint_is_the_difference_of_two_readings():
    before = {"cc_triage": {"insert": 10, "update": 20, "find": 5, "createIndexes": 3}}
    after = {"cc_triage": {"insert": 30, "update": 60, "find": 25, "createIndexes": 9},
             "cc_archive": {"findAndModify": 40, "find": 80, "aggregate": 20}, "admin": {"ping": 7}}
    work = per_complaint(before, after, {"complaint.received": 5}, {"complaint.received": 25, "complaint.notice": 36},
                         complaints=20)
    assert work == {"writes": {"cc_archive": 2.0, "cc_triage": 3.0},
                    "reads": {"cc_archive": 5.0, "cc_triage": 1.0},
                    "messages": {"complaint.notice": 1.8, "complaint.received": 1.0}}


def test_each_stage_does_its_services_share_per_event_it_consumes():
    work = {"writes": {"cc_web_intake": 3.0, "cc_followup": 4.0, "cc_archive": 24.0},
            "reads": {"cc_archive": 12.0},
            "messages": {"complaint.received": 1.0, "complaint.triaged": 1.0, "complaint.assigned": 1.0,
                         "complaint.notice": 1.0}}
    intake, followup, archive = FloorStage("intake", work), FloorStage("followup", work), FloorStage("archive", work)
    assert (intake.writes.per_event, intake.sends.per_event) == (3.0, 1.0)
    # received and assigned: two events per complaint, one notice between them
    assert (followup.writes.per_event, followup.sends.per_event) == (2.0, 0.5)
    # four topics filed, nothing published
    assert (archive.writes.per_event, archive.reads.per_event, archive.sends.per_event) == (6.0, 3.0, 0.0)
    assert FloorStage("triage", work).writes.per_event == 0.0
    # a complaint's path is never cut short: one received too many (a redelivery) still means one triaged each
    work["messages"]["complaint.received"] = 1.001
    triage = FloorStage("triage", work)
    assert [triage.sends.take() for _ in range(1000)] == [1] * 1000
