"""The capacity plan's arithmetic on known figures."""

from __future__ import annotations

from benchmarks.capacity import Scenario, plan

FIGURES = {
    "phases": [{"instances": 1, "cpu_ms_per_complaint": {
        "triage": 60.0, "assignment": 30.0, "web_intake": 10.0, "kafka": 5.0, "ferretdb": 40.0, "postgres": 20.0,
        "total": 165.0}}],
    "footprint": {"kafka": {"complaint.received": {"bytes_per_complaint": 2048}},
                  "mongodb": {"archive.cases": {"bytes_per_complaint": 10_000},
                              "archive.queue": {"bytes_per_complaint": 2_000}}},
}


def test_instances_partitions_and_storage_follow_from_cpu_and_bytes_per_complaint():
    s = Scenario("test", complaints_per_year=36_500_000, peak_day_factor=3, peak_hour_share=0.1, online_years=2,
                 note="")
    p = plan(FIGURES, s)
    assert p["peak_day"] == 300_000 and round(p["peak_rate_per_s"], 2) == 8.33
    # triage: 600 ms budget / 60 ms = 10 a second per instance -> 1 for the peak + 1 spare = 2
    assert p["instances"]["triage"] == {"cpu_ms_per_complaint": 60.0, "per_instance_per_s": 10.0, "instances": 2}
    assert p["instances"]["web_intake"]["instances"] == 2  # never fewer than two
    assert set(p["instances"]) == {"triage", "assignment", "web_intake"}  # servers are not services
    assert p["partitions_per_topic"] == 12
    assert p["kafka"]["storage_tb_with_replicas"] == round(2 * 2048 * 300_000 * 7 * 3 / 1e12, 3)
    assert p["mongodb"]["data_tb_one_copy"] == round(2 * 12_000 * 1.35 * 36_500_000 * 2 / 1e12, 2)
    busy = plan({**FIGURES, "phases": [{"cpu_ms_per_complaint": {"triage": 600.0}}]}, s)
    assert busy["instances"]["triage"]["instances"] == 10  # 1 a second per instance: 9 for 8.3/s, + 1 spare
    assert busy["partitions_per_topic"] == 24
