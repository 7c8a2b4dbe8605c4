"""The backup and restore scripts (k8s/components/backup/scripts), run for real against the test MariaDB.

A database with awkward content (binary columns, 4-byte UTF-8, NULLs, a foreign key, a trigger, a stored
function) is backed up with ``backup.sh clean mysql upload prune`` into a directory target, dropped, fetched
back with ``restore.sh fetch`` (which verifies the checksums) and loaded with ``restore.sh mysql``. It must
come back equal: the same CHECKSUM TABLE results and a new dump byte-for-byte equal to the first one.
Retention runs on an injected clock (BACKUP_NOW). The S3 target uses the same code paths through the AWS
CLI; MongoDB needs a real server and is not exercised here.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "k8s/components/backup/scripts"
MYSQL_HOST = os.environ.get("BACKUP_TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("BACKUP_TEST_MYSQL_PORT", "3306"))
DAY = 86400
T0 = 1_790_000_000  # a fixed instant: the names of the backups follow from it


def _connect(database: str | None = None) -> pymysql.connections.Connection:
    return pymysql.connect(
        host=MYSQL_HOST, port=MYSQL_PORT, user="root", password="", database=database, autocommit=True
    )


@pytest.fixture
def database() -> Iterator[str]:
    name = f"backup_test_{uuid.uuid4().hex[:10]}"
    with _connect() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    try:
        _fill(name)
        yield name
    finally:
        with _connect() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def _fill(name: str) -> None:
    with _connect(name) as conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE rooms (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL,"
            " created_at DATETIME(6) NOT NULL, message_count INT NOT NULL DEFAULT 0) ENGINE=InnoDB"
        )
        cur.execute(
            "CREATE TABLE messages (id BIGINT AUTO_INCREMENT PRIMARY KEY, room_id BIGINT NOT NULL,"
            " body TEXT, payload VARBINARY(64), score DECIMAL(12,4),"
            " FOREIGN KEY (room_id) REFERENCES rooms(id) ON DELETE CASCADE) ENGINE=InnoDB"
        )
        cur.execute(
            "CREATE TRIGGER messages_count AFTER INSERT ON messages FOR EACH ROW"
            " UPDATE rooms SET message_count = message_count + 1 WHERE id = NEW.room_id"
        )
        cur.execute("CREATE FUNCTION shout(s TEXT) RETURNS TEXT DETERMINISTIC RETURN UPPER(s)")
        cur.executemany(
            "INSERT INTO rooms (name, created_at) VALUES (%s, %s)",
            [(f"room {i} \N{GRINNING FACE} ü", f"2026-01-{i % 28 + 1:02d} 12:34:56.{i:06d}") for i in range(50)],
        )
        cur.executemany(
            "INSERT INTO messages (room_id, body, payload, score) VALUES (%s, %s, %s, %s)",
            [
                (
                    i % 50 + 1,
                    None if i % 7 == 0 else f"line one\nline 'two' \\ \"three\" #{i} \N{CJK UNIFIED IDEOGRAPH-4E2D}",
                    bytes((i * 37 + k) % 256 for k in range(i % 64)),
                    None if i % 5 == 0 else f"{i * 3.25:.4f}",
                )
                for i in range(2000)
            ],
        )


def _checksums(name: str) -> dict[str, int]:
    with _connect(name) as conn, conn.cursor() as cur:
        cur.execute("CHECKSUM TABLE rooms, messages EXTENDED")
        return {row[0]: row[1] for row in cur.fetchall()}


def _run(script: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPTS / script), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    for tool in ("mysqldump", "mysql", "gzip", "sha256sum"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not found (the MariaDB client package provides mysql and mysqldump)")
    password = tmp_path / "mysql_password"
    password.write_text("")  # the test server's root has no password
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "BACKUP_DIR": str(tmp_path / "staging"),
        "RESTORE_DIR": str(tmp_path / "restore"),
        "BACKUP_TARGET": str(tmp_path / "target"),
        "RETENTION_DAYS": "14",
        "MYSQL_HOST": MYSQL_HOST,
        "MYSQL_PORT": str(MYSQL_PORT),
        "MYSQL_USER": "root",
        "MYSQL_PASSWORD_FILE": str(password),
        "BACKUP_NOW": str(T0),
    }


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_backup_drop_restore_round_trip(database: str, env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "MYSQL_DATABASES": database}
    before = _checksums(database)
    _ok(_run("backup.sh", "clean", "mysql", "upload", "prune", env=env))
    (stamp,) = _ok(_run("restore.sh", "list", env=env)).split()
    assert stamp == "20260921T141320Z"  # T0 in UTC: the name is the injected time
    backup = Path(env["BACKUP_TARGET"]) / stamp
    assert sorted(p.name for p in backup.iterdir()) == ["SHA256SUMS", f"mysql-{database}.sql.gz"]
    first_dump = gzip.decompress((backup / f"mysql-{database}.sql.gz").read_bytes())
    assert b"TRIGGER messages_count" in first_dump and b"FUNCTION `shout`" in first_dump  # triggers, routines

    with _connect() as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE `{database}`")

    _ok(_run("restore.sh", "fetch", "latest", env=env))
    _ok(_run("restore.sh", "mysql", database, env=env))

    assert _checksums(database) == before
    # Dumped again, the restored database is the same file, byte for byte.
    again = {**env, "BACKUP_DIR": str(tmp_path / "again")}
    _ok(_run("backup.sh", "clean", "mysql", env=again))
    assert gzip.decompress((tmp_path / "again" / f"mysql-{database}.sql.gz").read_bytes()) == first_dump
    # The trigger and the function came back and work.
    with _connect(database) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO messages (room_id, body) VALUES (1, 'after restore')")
        cur.execute("SELECT message_count, shout(name) FROM rooms WHERE id = 1")
        count, shouted = cur.fetchone()
    assert count == 41 and shouted.startswith("ROOM 0")


def test_fetch_refuses_a_corrupted_backup(database: str, env: dict[str, str]) -> None:
    env = {**env, "MYSQL_DATABASES": database}
    _ok(_run("backup.sh", "clean", "mysql", "upload", env=env))
    (stamp,) = _ok(_run("restore.sh", "list", env=env)).split()
    dump = Path(env["BACKUP_TARGET"]) / stamp / f"mysql-{database}.sql.gz"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    result = _run("restore.sh", "fetch", stamp, env=env)
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr


def test_retention_keeps_recent_backups_and_always_the_newest(database: str, env: dict[str, str]) -> None:
    env = {**env, "MYSQL_DATABASES": database}
    _ok(_run("backup.sh", "clean", "mysql", env=env))
    for day in (0, 10, 20):
        _ok(_run("backup.sh", "upload", "prune", env={**env, "BACKUP_NOW": str(T0 + day * DAY)}))
    kept = _ok(_run("restore.sh", "list", env=env)).split()
    assert kept == ["20261001T141320Z", "20261011T141320Z"]  # day 0 is older than 14 days at day 20
    # Long after the last backup, pruning still keeps the newest one.
    _ok(_run("backup.sh", "prune", env={**env, "BACKUP_NOW": str(T0 + 100 * DAY)}))
    assert _ok(_run("restore.sh", "list", env=env)).split() == ["20261011T141320Z"]


def test_upload_refuses_an_empty_run(env: dict[str, str]) -> None:
    _ok(_run("backup.sh", "clean", env=env))
    result = _run("backup.sh", "upload", env=env)
    assert result.returncode != 0 and "nothing to upload" in result.stderr


# ------------------------------------------------------------------------------ where the scripts run
COMPOSE_STAGES = [ROOT / f"docker-compose.{stage}.yml" for stage in ("mvp", "msa")]


@pytest.mark.parametrize("compose_file", COMPOSE_STAGES, ids=lambda p: p.name)
def test_compose_backup_and_restore_profiles_validate(compose_file: Path, tmp_path: Path) -> None:
    docker_compose = shutil.which("docker-compose")
    assert docker_compose, "docker-compose not found: run scripts/install-validators.sh"
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    env["COMPOSE_PROFILES"] = "backup,restore"
    result = subprocess.run(
        [docker_compose, "--env-file", str(empty_env), "-f", str(compose_file), "config"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    phases = {name: services[name]["command"] for name in ("backup-mysql", "backup-mongo", "backup")}
    assert phases == {"backup-mysql": ["clean", "mysql"], "backup-mongo": ["mongo"], "backup": ["upload", "prune"]}
    assert services["backup"]["depends_on"]["backup-mongo"]["condition"] == "service_completed_successfully"
    assert services["backup-mongo"]["depends_on"]["backup-mysql"]["condition"] == "service_completed_successfully"
    for name in ("backup-mysql", "backup-mongo", "backup", "restore-fetch", "restore-mysql", "restore-mongo"):
        assert services[name]["profiles"] in (["backup"], ["restore"]), name
        assert any("/scripts" in str(v) for v in services[name]["volumes"]), name


def test_cronjob_runs_the_same_phases() -> None:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl not found: run scripts/install-validators.sh"
    rendered = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "k8s/overlays/mvp")], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    (cronjob,) = [d for d in docs if d["kind"] == "CronJob"]
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    commands = [c["command"][1:] for c in [*pod["initContainers"], *pod["containers"]]]
    assert commands == [
        ["/scripts/backup.sh", "clean", "mysql"],
        ["/scripts/backup.sh", "mongo"],
        ["/scripts/backup.sh", "upload", "prune"],
    ]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    (scripts,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("backup-scripts")]
    assert scripts["data"]["backup.sh"] == (SCRIPTS / "backup.sh").read_text()
    assert scripts["data"]["restore.sh"] == (SCRIPTS / "restore.sh").read_text()
    # The stores' NetworkPolicies admit the backup pods.
    admitted = {
        d["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        for d in docs
        if d["kind"] == "NetworkPolicy" and "backup" in str(d["spec"].get("ingress", ""))
    }
    assert admitted >= {"mysql", "mongodb"}
