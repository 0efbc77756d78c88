"""Write the Kubernetes manifests in deploy/k8s/ from one table of the services (`python -m deploy.k8s.render`).

The manifests are committed; `tests/unit/test_k8s.py` checks that they are what this script writes and that
every object validates against the Kubernetes API schema. Edit the table here, not the YAML.

Sizes come from measured figures (`make bench-pipeline`, resident memory of each service under load, and
`make bench-scale`, CPU per complaint): see docs/capacity-plan.md. Requests are the measured resident size
with headroom; limits leave room for OCR of large scans (letter and fax intake) and for the archive's reports.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
NS = "complaint-center"
IMAGE = "registry.example.com/complaint-center:0.1.0"  # built from deploy/Dockerfile
LABELS = {"app.kubernetes.io/part-of": "complaint-center"}
PARTITIONS = 12  # per topic (CC_TOPIC_PARTITIONS): the most instances a consumer group can use; see the plan


# name: (port, kind, measured MiB, memory limit MiB, cpu request m, min replicas, max replicas)
SERVICES: dict[str, tuple[int, str, int, int, int, int, int]] = {
    "operator_api": (8000, "api", 102, 512, 200, 2, 8),
    "web_intake": (8001, "intake", 80, 384, 100, 2, 6),
    "phone_intake": (8002, "intake", 74, 384, 100, 2, 6),
    "letter_intake": (8003, "intake", 80, 1536, 250, 2, 4),
    "fax_intake": (8004, "intake", 82, 1536, 250, 2, 4),
    "triage": (8011, "consumer", 173, 768, 250, 2, PARTITIONS),
    "assignment": (8012, "consumer", 94, 512, 200, 2, PARTITIONS),
    "followup": (8013, "consumer", 75, 384, 100, 2, PARTITIONS),
    "archive": (8014, "consumer", 145, 1024, 250, 2, PARTITIONS),
}
TITLES = {"operator_api": "坐席与管理 API Operator API", "web_intake": "网页/APP 受理 Web intake",
          "phone_intake": "电话受理 Phone intake", "letter_intake": "信件扫描受理 Letter intake",
          "fax_intake": "传真受理 Fax intake", "triage": "判定 Triage", "assignment": "派单 Assignment",
          "followup": "回访 Follow-up", "archive": "归档 Archive"}
# the organisation directory each of these keeps in memory, sized for the largest group: 7,900 estates and
# 79,000 staff measured at 165 MiB in one process (docs/capacity-plan.md, section 6)
DIRECTORY_MIB = 192
DIRECTORY_HOLDERS = {"operator_api", "web_intake", "phone_intake", "letter_intake", "fax_intake", "assignment",
                     "followup"}
SECRET_KEYS = ("CC_MONGO_URL", "CC_INTERNAL_TOKEN", "CC_IMAP_PASSWORD", "CC_NOTICE_SMTP_PASSWORD",
               "CC_SMS_GATEWAY_KEY")


def dns(name: str) -> str:
    return name.replace("_", "-")


def meta(name: str, **labels: str) -> dict[str, Any]:
    return {"name": name, "namespace": NS, "labels": {**LABELS, **labels}}


def config_map() -> dict[str, Any]:
    intakes = {n: f"http://{dns(n)}.{NS}.svc:{p}" for n, (p, kind, *_) in SERVICES.items() if kind == "intake"}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("complaint-center-config"), "data": {
        "CC_ENVIRONMENT": "production",
        "CC_KAFKA_BOOTSTRAP": f"kafka-0.kafka.{NS}.svc:9092,kafka-1.kafka.{NS}.svc:9092,kafka-2.kafka.{NS}.svc:9092",
        "CC_TOPIC_PARTITIONS": str(PARTITIONS),
        "CC_MONGO_MAX_POOL_SIZE": "20",  # MongoDB writes are atomic per document (ADR 2, ADR 10)
        "CC_SERVICE_HOST": "0.0.0.0",
        "CC_LEASE_SECONDS": "15",
        "CC_LOG_LEVEL": "INFO",
        "CC_OTEL_EXPORTER": "none",
        "CC_ASSIGNMENT_URL": f"http://assignment.{NS}.svc:8012",
        "CC_INTAKE_URLS": yaml.safe_dump(intakes, default_flow_style=True, width=1000).strip(),
        "CC_SCAN_INBOX": "/scan-inbox",
        "CC_SMTP_HOST": "0.0.0.0",
    }}


def secret() -> dict[str, Any]:
    """The shape of the secret; its values are set by the operator of the cluster (kubectl create secret …)."""
    values = {k: "" for k in SECRET_KEYS}
    values["CC_MONGO_URL"] = f"mongodb://cc:PASSWORD@mongo-0.mongo.{NS}.svc,mongo-1.mongo.{NS}.svc," \
                             f"mongo-2.mongo.{NS}.svc/?replicaSet=rs0&authSource=admin"
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta("complaint-center-secrets"), "type": "Opaque",
            "stringData": values}


def probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": period, "timeoutSeconds": 3,
            "failureThreshold": failures}


def deployment(name: str) -> dict[str, Any]:
    port, kind, measured, limit, cpu, min_r, _ = SERVICES[name]
    app = {"app.kubernetes.io/name": dns(name)}
    directory = DIRECTORY_MIB if name in DIRECTORY_HOLDERS else 0
    request_mib = -(-int(measured * 1.5) // 32) * 32 + directory  # measured resident size + half, 32 MiB steps
    limit += directory
    ports = [{"name": "http", "containerPort": port}]
    if name == "fax_intake":
        ports.append({"name": "smtp", "containerPort": 2525})
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
    if name == "letter_intake":
        mounts.append({"name": "scan-inbox", "mountPath": "/scan-inbox"})
        volumes.append({"name": "scan-inbox", "persistentVolumeClaim": {"claimName": "scan-inbox"}})
    container = {
        "name": dns(name), "image": IMAGE, "imagePullPolicy": "IfNotPresent",
        "command": ["python", "-m", f"services.{name}"],
        "ports": ports,
        "envFrom": [{"configMapRef": {"name": "complaint-center-config"}},
                    {"secretRef": {"name": "complaint-center-secrets"}}],
        "env": [{"name": "CC_SERVICE_PORT", "value": str(port)},
                # leases (shared.lease) name their holder by pod: a restarted container takes its own back at once
                {"name": "CC_INSTANCE_ID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "startupProbe": probe("/healthz", 2, 45),
        "livenessProbe": probe("/healthz", 10, 3),
        "readinessProbe": probe("/readyz", 5, 2),
        "resources": {"requests": {"cpu": f"{cpu}m", "memory": f"{request_mib}Mi"},
                      "limits": {"cpu": "1", "memory": f"{limit}Mi"}},
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": mounts,
    }
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(dns(name), **app, tier=kind),
        "spec": {
            "replicas": min_r,
            "selector": {"matchLabels": app},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": {**LABELS, **app, "tier": kind},
                             "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": str(port),
                                             "prometheus.io/path": "/metrics"}},
                "spec": {
                    # a clean stop releases leases and commits offsets; kill -9 is covered too (tests/e2e)
                    "terminationGracePeriodSeconds": 30,
                    "containers": [container],
                    "volumes": volumes,
                    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                                   "whenUnsatisfiable": "ScheduleAnyway",
                                                   "labelSelector": {"matchLabels": app}}],
                },
            },
        },
    }


def service(name: str) -> dict[str, Any]:
    port, *_ = SERVICES[name]
    ports = [{"name": "http", "port": port, "targetPort": "http"}]
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(dns(name)),
            "spec": {"selector": {"app.kubernetes.io/name": dns(name)}, "ports": ports}}


def smtp_service() -> dict[str, Any]:
    """The fax gateway delivers by SMTP from outside the cluster."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta("fax-intake-smtp"),
            "spec": {"type": "LoadBalancer", "selector": {"app.kubernetes.io/name": "fax-intake"},
                     "ports": [{"name": "smtp", "port": 25, "targetPort": "smtp"}]}}


def autoscaler(name: str) -> dict[str, Any]:
    _, kind, _, _, _, min_r, max_r = SERVICES[name]
    metrics: list[dict[str, Any]] = [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]
    if kind == "consumer":
        # consumer lag of the service's group, from a Kafka exporter through an external-metrics adapter
        # (e.g. prometheus-adapter or KEDA): add an instance per 200 messages waiting, up to the partitions
        metrics.append({"type": "External", "external": {
            "metric": {"name": "kafka_consumergroup_lag",
                       "selector": {"matchLabels": {"consumergroup": f"cc.{name}"}}},
            "target": {"type": "AverageValue", "averageValue": "200"}}})
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta(dns(name)),
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": dns(name)},
                     "minReplicas": min_r, "maxReplicas": max_r, "metrics": metrics,
                     "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}}}}


def disruption_budget(name: str) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta(dns(name)),
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": dns(name)}}}}


def scan_inbox_claim() -> dict[str, Any]:
    """The scanner folder, shared by every letter-intake pod (the lease lets one of them watch it)."""
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta("scan-inbox"),
            "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "20Gi"}}}}


def ingress() -> dict[str, Any]:
    """Three names: the operators' console and API, the owners' web form, and the feeding systems (CTI, scanners)."""
    def rule(host: str, paths: list[tuple[str, str]]) -> dict[str, Any]:
        return {"host": host, "http": {"paths": [
            {"path": p, "pathType": "Prefix",
             "backend": {"service": {"name": dns(n), "port": {"number": SERVICES[n][0]}}}} for p, n in paths]}}

    hosts = ["console.complaints.example.com", "report.complaints.example.com", "intake.complaints.example.com"]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta("complaint-center"),
            "spec": {"ingressClassName": "nginx",
                     "tls": [{"hosts": hosts, "secretName": "complaint-center-tls"}],
                     "rules": [rule(hosts[0], [("/", "operator_api")]),
                               rule(hosts[1], [("/", "web_intake")]),
                               rule(hosts[2], [("/api/v1/calls", "phone_intake"),
                                               ("/api/v1/scans", "letter_intake")])]}}


def documents() -> dict[str, list[dict[str, Any]]]:
    """File name → the objects it holds."""
    files: dict[str, list[dict[str, Any]]] = {
        "00-namespace.yaml": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS, "labels": LABELS}}],
        "01-config.yaml": [config_map(), secret(), scan_inbox_claim()],
        "02-ingress.yaml": [ingress(), smtp_service()],
    }
    for name in SERVICES:
        files[f"{dns(name)}.yaml"] = [deployment(name), service(name), autoscaler(name), disruption_budget(name)]
    return files


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # plain YAML: no &id001 anchors for shared label maps
        return True


def rendered() -> dict[str, str]:
    out = {}
    for fname, docs in documents().items():
        head = "# Written by deploy/k8s/render.py: edit the table there, then python -m deploy.k8s.render\n"
        out[fname] = head + "---\n".join(yaml.dump(d, Dumper=_NoAliases, sort_keys=False, allow_unicode=True, width=120)
                                         for d in docs)
    names = [*out, *sorted(p.name for p in (HERE / "infra").glob("*.yaml"))]
    out["kustomization.yaml"] = yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "namespace": NS,
        "resources": [n if n in out else f"infra/{n}" for n in names]}, sort_keys=False)
    return out


def main() -> None:
    for fname, text in rendered().items():
        (HERE / fname).write_text(text)
    print(f"wrote {len(rendered())} files to {HERE}", file=sys.stderr)


if __name__ == "__main__":
    main()
