"""Stores per stage (docs/deploy.md "MVP to production").

The MVP overlay runs every store in-cluster; the production overlay runs none of MySQL, MongoDB and Redis
(the services reach managed endpoints through the URLs in their Secrets) and keeps Kafka as three brokers,
one per node, whose topics get the replication their min.insync.replicas needs. The topic script raises the
replication of topics created on a smaller cluster: it runs here against stand-ins of the Kafka CLI tools
that record what it asks for.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TOPICS_SCRIPT = ROOT / "k8s/jobs/kafka-topics/create-topics.sh"


@functools.cache
def _render(path: str) -> tuple[dict[str, Any], ...]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl not found: run scripts/install-validators.sh"
    rendered = subprocess.run(
        [kubectl, "kustomize", str(ROOT / path)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return tuple(d for d in yaml.safe_load_all(rendered) if d)


def _one(docs: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].startswith(name)]
    return doc


def _job_env(docs: tuple[dict[str, Any], ...]) -> dict[str, str]:
    (container,) = _one(docs, "Job", "kafka-topics")["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", "") for e in container["env"]}


def test_production_runs_no_sql_document_or_cache_store() -> None:
    docs = _render("k8s/overlays/production")
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for store in ("mysql", "mongodb", "redis"):
        assert not [n for n in names if n[1].startswith(store)], store
    # The services read their store URLs from their Secrets, never from the ConfigMap.
    config = _one(docs, "ConfigMap", "bigtech-chat-config")["data"]
    stores = ("DATABASE_URL", "MONGO_URL", "REDIS_URL")
    assert not [k for k in config if k in stores or "mysql" in config[k] or "mongodb" in config[k]], config
    for service in ("user-service", "friend-service", "chat-service"):
        pod = _one(docs, "Deployment", service)["spec"]["template"]["spec"]
        secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
        assert f"{service}-secrets" in secrets, service


def test_mvp_runs_every_store_in_cluster() -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for d in _render("k8s/overlays/mvp")}
    for store in ("mysql", "mongodb", "redis", "kafka"):
        assert ("StatefulSet", store) in kinds


@pytest.mark.parametrize(
    ("overlay", "brokers", "replication", "min_isr"),
    [("mvp", 1, 1, 1), ("production", 3, 3, 2)],
)
def test_kafka_replication_matches_min_insync(overlay: str, brokers: int, replication: int, min_isr: int) -> None:
    docs = _render(f"k8s/overlays/{overlay}")
    jobs = _render(f"k8s/overlays/{overlay}/jobs")
    kafka = _one(docs, "StatefulSet", "kafka")
    config = _one(docs, "ConfigMap", "kafka-config")["data"]
    assert kafka["spec"]["replicas"] == int(config["BROKER_COUNT"]) == brokers
    assert int(config["KAFKA_DEFAULT_REPLICATION_FACTOR"]) == replication
    assert int(config["KAFKA_MIN_INSYNC_REPLICAS"]) == min_isr
    transaction_isr = int(config.get("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1"))
    assert transaction_isr <= int(config["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"])
    env = _job_env(jobs)
    assert (int(env["REPLICATION_FACTOR"]), int(env["MIN_INSYNC_REPLICAS"])) == (replication, min_isr)
    services = _one(docs, "ConfigMap", "bigtech-chat-config")["data"]
    assert int(services["KAFKA_TOPIC_REPLICATION"]) == replication
    # acks=all keeps writing with one broker down only if replication - 1 >= min.insync.replicas.
    if brokers > 1:
        assert replication - 1 >= min_isr


def test_production_kafka_brokers_never_share_a_node() -> None:
    docs = _render("k8s/overlays/production")
    affinity = _one(docs, "StatefulSet", "kafka")["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    (required,) = affinity["requiredDuringSchedulingIgnoredDuringExecution"]
    assert required["topologyKey"] == "kubernetes.io/hostname"
    assert required["labelSelector"]["matchLabels"] == {"app.kubernetes.io/name": "kafka"}
    pdb = _one(docs, "PodDisruptionBudget", "kafka")
    assert pdb["spec"].get("maxUnavailable") == 1


def test_msa_compose_kafka_matches_too() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.msa.yml").read_text())["services"]
    brokers = [name for name in services if name.startswith("kafka-") and name[6:].isdigit()]
    env = services["kafka-init"]["environment"]
    rf, isr = int(env["REPLICATION_FACTOR"]), int(env["MIN_INSYNC_REPLICAS"])
    assert len(brokers) == rf == 3 and isr == 2


# -------------------------------------------------------------------------------- create-topics.sh
FAKE_TOOLS = {
    "kafka-topics.sh": """#!/usr/bin/env bash
echo "kafka-topics.sh $*" >> "$FAKE_LOG"
case " $* " in
  *" --describe --topic "*) topic=${@: -1}
      echo "Topic: $topic	TopicId: x	PartitionCount: 4	ReplicationFactor: ${FAKE_CURRENT_RF}	Configs: "
      ;;
esac
exit 0
""",
    "kafka-broker-api-versions.sh": """#!/usr/bin/env bash
for id in 2 0 1; do echo "kafka-$id.kafka:9092 (id: $id rack: null) -> ("; echo "  Produce(0): 0 to 11 [usable: 11],"; done
""",
    "kafka-reassign-partitions.sh": """#!/usr/bin/env bash
echo "kafka-reassign-partitions.sh $*" >> "$FAKE_LOG"
file=$(sed -nE 's/.*--reassignment-json-file ([^ ]+).*/\\1/p' <<<"$*")
case " $* " in *" --execute "*) cp "$file" "$FAKE_PLANS/$(basename "$file")" ;; esac
case " $* " in *" --verify "*) echo "Reassignment of partition x-0 is completed." ;; esac
""",
    "kafka-configs.sh": """#!/usr/bin/env bash
echo "kafka-configs.sh $*" >> "$FAKE_LOG"
""",
}


def _run_topics(tmp_path: Path, rf: int, min_isr: int, current_rf: int) -> subprocess.CompletedProcess[str]:
    bin_dir, plans = tmp_path / "bin", tmp_path / "plans"
    bin_dir.mkdir()
    plans.mkdir()
    for name, text in FAKE_TOOLS.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    topics = tmp_path / "topics.txt"
    topics.write_text("user.events 4 604800000\n")
    env = {
        "PATH": os.environ["PATH"],
        "TMPDIR": str(tmp_path),
        "KAFKA_BIN": str(bin_dir),
        "TOPICS_FILE": str(topics),
        "REPLICATION_FACTOR": str(rf),
        "MIN_INSYNC_REPLICAS": str(min_isr),
        "FAKE_CURRENT_RF": str(current_rf),
        "FAKE_LOG": str(tmp_path / "calls.log"),
        "FAKE_PLANS": str(plans),
    }
    return subprocess.run(
        ["bash", str(TOPICS_SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_topics_created_on_one_broker_get_the_new_replication(tmp_path: Path) -> None:
    result = _run_topics(tmp_path, rf=3, min_isr=2, current_rf=1)
    assert result.returncode == 0, result.stderr
    plans = sorted((tmp_path / "plans").iterdir())
    assert [p.name for p in plans] == ["reassign-user.events.dlq.json", "reassign-user.events.json"]
    plan = json.loads((tmp_path / "plans/reassign-user.events.json").read_text())
    assert [p["partition"] for p in plan["partitions"]] == [0, 1, 2, 3]
    for partition in plan["partitions"]:
        assert sorted(partition["replicas"]) == [0, 1, 2]  # three distinct brokers each
    leaders = [p["replicas"][0] for p in plan["partitions"]]
    assert leaders == [0, 1, 2, 0]  # preferred leaders spread round-robin
    calls = (tmp_path / "calls.log").read_text().splitlines()
    # min.insync.replicas 2 is set only after the replication was raised.
    execute = next(i for i, c in enumerate(calls) if "--execute" in c and "user.events.json" in c)
    configure = next(i for i, c in enumerate(calls) if c.startswith("kafka-configs.sh") and "user.events " in c + " ")
    assert execute < configure
    assert "min.insync.replicas=2" in calls[configure]


def test_topics_already_replicated_are_left_alone(tmp_path: Path) -> None:
    result = _run_topics(tmp_path, rf=3, min_isr=2, current_rf=3)
    assert result.returncode == 0, result.stderr
    assert not list((tmp_path / "plans").iterdir())


def test_min_insync_above_replication_is_refused(tmp_path: Path) -> None:
    result = _run_topics(tmp_path, rf=1, min_isr=2, current_rf=1)
    assert result.returncode == 1 and "MIN_INSYNC_REPLICAS (2) > REPLICATION_FACTOR (1)" in result.stderr
    assert not (tmp_path / "calls.log").exists()
