"""deploy/k8s: what render.py writes, valid against the Kubernetes API schema, and wired the way the center needs."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from deploy.k8s import render

K8S = Path(render.__file__).parent
VERSION = "1.33.0"  # the oldest Kubernetes the manifests are meant for (autoscaling/v2, policy/v1)


def objects() -> list[tuple[str, dict]]:
    out = []
    for path in sorted([*K8S.glob("*.yaml"), *K8S.glob("infra/*.yaml")]):
        if path.name == "kustomization.yaml":
            continue
        out += [(str(path.relative_to(K8S)), d) for d in yaml.safe_load_all(path.read_text()) if d]
    return out


def test_the_committed_manifests_are_what_render_writes():
    for name, text in render.rendered().items():
        assert (K8S / name).read_text() == text, f"{name} is stale: run python -m deploy.k8s.render"


@pytest.mark.parametrize("where,obj", objects(), ids=lambda x: x if isinstance(x, str) else x.get("kind"))
def test_every_object_validates_against_the_kubernetes_schema(where, obj):
    kubernetes_validate.validate(obj, VERSION, strict=True)


def test_the_validator_refuses_a_broken_object():  # the check above can fail
    deployment = next(o for _, o in objects() if o["kind"] == "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = {"no": "such"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSION, strict=True)
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["replicass"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSION, strict=True)


def test_every_service_has_probes_resources_config_an_autoscaler_and_a_budget():
    objs = [o for _, o in objects()]
    by_kind: dict[str, dict[str, dict]] = {}
    for o in objs:
        by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o
    assert set(by_kind["Deployment"]) == {render.dns(n) for n in render.SERVICES}
    for name, (port, kind, *_rest) in render.SERVICES.items():
        d = by_kind["Deployment"][render.dns(name)]
        c = d["spec"]["template"]["spec"]["containers"][0]
        assert c["command"] == ["python", "-m", f"services.{name}"]
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert {"cpu", "memory"} <= set(c["resources"]["requests"]) and "memory" in c["resources"]["limits"]
        assert {e.get("configMapRef", {}).get("name") or e.get("secretRef", {}).get("name") for e in c["envFrom"]} \
            == {"complaint-center-config", "complaint-center-secrets"}
        env = {e["name"]: e for e in c["env"]}
        assert env["CC_SERVICE_PORT"]["value"] == str(port)
        assert env["CC_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
        hpa = by_kind["HorizontalPodAutoscaler"][render.dns(name)]
        assert hpa["spec"]["scaleTargetRef"]["name"] == render.dns(name)
        assert hpa["spec"]["minReplicas"] >= 2  # one instance may die: the other carries on (tests/e2e/test_zx_scale)
        if kind == "consumer":  # more consumers than partitions would idle
            assert hpa["spec"]["maxReplicas"] <= render.PARTITIONS
            assert any(m["type"] == "External" for m in hpa["spec"]["metrics"])
        assert by_kind["PodDisruptionBudget"][render.dns(name)]["spec"]["minAvailable"] == 1
        assert by_kind["Service"][render.dns(name)]["spec"]["ports"][0]["port"] == port
    config = by_kind["ConfigMap"]["complaint-center-config"]["data"]
    assert config["CC_TOPIC_PARTITIONS"] == str(render.PARTITIONS) and config["CC_ENVIRONMENT"] == "production"
    secret_keys = set(by_kind["Secret"]["complaint-center-secrets"]["stringData"])
    assert not secret_keys & set(config), "a secret in the ConfigMap"
    # what the services read as secrets is in the Secret, not the ConfigMap
    assert {"CC_MONGO_URL", "CC_INTERNAL_TOKEN"} <= secret_keys


def test_the_kustomization_lists_every_manifest():
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    files = sorted(str(p.relative_to(K8S)) for p in [*K8S.glob("*.yaml"), *K8S.glob("infra/*.yaml")]
                   if p.name != "kustomization.yaml")
    assert sorted(listed) == files
