"""The in-memory directory: an estate added, moved between regions and replaced, everywhere it is read."""

from __future__ import annotations

from shared.org import Estate, load_org


def test_estates_are_added_moved_and_replaced_in_every_view():
    org = load_org("deploy/org_seed.yaml")
    gid = org.groups[0].id
    before = len(org.estates_of(gid))
    for i in range(3):
        org.put_estate(gid, "r-new", "新区域", Estate(id=f"e-n{i}", name=f"新小区{i}"))
    org.put_estate(gid, "r-other", "另一区域", Estate(id="e-n1", name="新小区1（迁）"))  # moved to another region
    org.put_estate(gid, "r-new", "", Estate(id="e-n2", name="新小区2（改名）"))  # replaced in place

    regions = {r.id: r for r in org.group(gid).regions}
    assert [e.id for e in regions["r-new"].estates] == ["e-n0", "e-n2"]
    assert [e.id for e in regions["r-other"].estates] == ["e-n1"]
    assert regions["r-new"].name == "新区域" and org.regions["r-new"][1].estates == regions["r-new"].estates
    assert org.regions["r-other"][1].estates[0].name == "新小区1（迁）"
    assert org.region_of("e-n1") == "r-other" and org.region_of("e-n2") == "r-new"
    assert org.estate("e-n2").name == "新小区2（改名）" and org.group_of("e-n2") == gid
    assert len(org.estates_of(gid)) == before + 3
    assert org.routing_for("e-n0") == org.group(gid).routing  # the group's rules reach the new estates
    # a group-level change afterwards keeps every estate
    org.put_group(org.group(gid))
    assert {"e-n0", "e-n1", "e-n2"} <= {e.id for e in org.estates_of(gid)}
