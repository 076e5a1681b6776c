"""Static checks of the deployment files in docker/, deploy/systemd/ and examples/.

No Docker engine or systemd runs here, so these tests read the files: YAML and JSON parse, every
file they name exists, the pieces agree with each other (ports, secrets, paths, org/bucket), and
the example configs load with the real config loaders.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
SYSTEMD = ROOT / "deploy" / "systemd"
EXAMPLES = ROOT / "examples"
COMPOSE_FILE = DOCKER / "compose.yaml"
DASHBOARD = DOCKER / "grafana" / "dashboards" / "fleet.json"
DATASOURCES = DOCKER / "grafana" / "provisioning" / "datasources" / "influxdb.yaml"
DASHBOARD_PROVIDERS = DOCKER / "grafana" / "provisioning" / "dashboards" / "michimori.yaml"
INIT_SECRETS = DOCKER / "init-secrets.sh"

# What the ingest writes to InfluxDB (issue 2): every dashboard query must read one of these.
MEASUREMENTS = frozenset(
    {"tilt", "vibration", "environment", "gnss", "link", "event", "device_status", "ingest_metrics"}
)
DOCKERFILES = ("ingest.Dockerfile", "edge.Dockerfile")
HEAVY_PACKAGES = ("numpy", "opencv", "torch")


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = _yaml(COMPOSE_FILE)
    assert isinstance(data, dict), f"{COMPOSE_FILE} is not a YAML mapping"
    return data


def _service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    service: dict[str, Any] = compose["services"][name]
    return service


def _mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each volume of a service, short or long syntax."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mounts.append((str(volume["source"]), str(volume["target"])))
        else:
            source, target = str(volume).split(":")[:2]
            mounts.append((source, target))
    return mounts


def _host_file(service: dict[str, Any], container_path: str) -> Path:
    """The file in the repository that a bind mount puts at ``container_path``."""
    for source, target in _mounts(service):
        if source.startswith(".") and container_path == target:
            return (DOCKER / source).resolve()
    raise AssertionError(f"nothing in the repository is mounted at {container_path}")


def _secret_name(service: dict[str, Any], container_path: str) -> str:
    """The compose secret at ``container_path`` (/run/secrets/<name>), checked to be granted."""
    path = PurePosixPath(container_path)
    assert path.parent == PurePosixPath("/run/secrets"), f"{container_path} is not a secret"
    granted = [s if isinstance(s, str) else s["source"] for s in service.get("secrets", [])]
    assert path.name in granted, f"secret {path.name} is not granted to this service"
    return path.name


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


@pytest.mark.parametrize(
    "path",
    sorted([*DOCKER.rglob("*.yaml"), *DOCKER.rglob("*.yml")]),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_yaml_file_parses(path: Path) -> None:
    assert _yaml(path) is not None, f"{path} is empty"


def test_compose_runs_the_issue_services_on_pinned_images(compose: dict[str, Any]) -> None:
    assert {"mosquitto", "influxdb", "grafana", "ingest"} <= set(compose["services"])
    assert _service(compose, "mosquitto")["image"].startswith("eclipse-mosquitto:2")
    assert _service(compose, "influxdb")["image"].startswith("influxdb:2.7")
    for name, service in compose["services"].items():
        image = service.get("image", "")
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image tag"


def test_compose_local_paths_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for source, _ in _mounts(service):
            if source.startswith("."):
                assert (DOCKER / source).exists(), f"{name} mounts missing {source}"
        if "build" in service:
            context = DOCKER / service["build"]["context"]
            assert context.is_dir(), f"{name}: build context {context} missing"
            assert (context / service["build"]["dockerfile"]).is_file()
    for name, secret in compose["secrets"].items():
        # Secrets are made on the server (init-secrets.sh), so they are absent here on purpose.
        assert secret["file"] == f"./secrets/{name}", f"secret {name} must live in docker/secrets"


def test_every_secret_is_made_by_init_secrets_and_ignored_by_git(compose: dict[str, Any]) -> None:
    script = INIT_SECRETS.read_text(encoding="utf-8")
    listed = re.search(r'ALL_SECRETS="([^"]*)"', script)
    assert listed is not None
    assert set(compose["secrets"]) <= set(listed.group(1).split())
    ignore = (DOCKER / "secrets" / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert next(line for line in ignore if line and not line.startswith("#")) == "*"


def test_init_secrets_agrees_with_compose_and_images(compose: dict[str, Any]) -> None:
    script = INIT_SECRETS.read_text(encoding="utf-8")
    assert f"MOSQUITTO_IMAGE={_service(compose, 'mosquitto')['image']}\n" in script
    influx_env = _env(_service(compose, "influxdb"))
    assert f"INFLUX_ORG={influx_env['DOCKER_INFLUXDB_INIT_ORG']}\n" in script
    assert f"INFLUX_BUCKET={influx_env['DOCKER_INFLUXDB_INIT_BUCKET']}\n" in script
    ingest_uid = re.search(r"--uid (\d+)", (DOCKER / "ingest.Dockerfile").read_text())
    assert ingest_uid is not None
    assert re.search(
        rf"mqtt_ingest_password \| influx_ingest_token\) echo {ingest_uid[1]} ", script
    )
    assert INIT_SECRETS.stat().st_mode & 0o111, "init-secrets.sh must be executable"
    bash = subprocess.run(
        ["bash", "-n", str(INIT_SECRETS)], capture_output=True, text=True, timeout=30
    )
    assert bash.returncode == 0, bash.stderr


@pytest.mark.skipif(
    not (shutil.which("mosquitto_passwd") and shutil.which("openssl")),
    reason="needs mosquitto_passwd and openssl on this machine (else the script uses docker)",
)
def test_init_secrets_makes_every_compose_secret(compose: dict[str, Any], tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    env = {**os.environ, "MICHIMORI_SECRETS_DIR": str(secrets)}

    def script(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(INIT_SECRETS), *args], env=env, capture_output=True, text=True, timeout=60
        )

    assert script("init").returncode == 0
    passwd = (secrets / "mosquitto_passwd").read_text()
    assert [line.split(":")[0] for line in passwd.splitlines()] == ["ingest", "operator"]
    assert passwd.endswith("\n"), "an appended device login would join the last line"
    first = {p.name: p.read_bytes() for p in secrets.iterdir()}
    assert script("init").returncode == 0
    assert {p.name: p.read_bytes() for p in secrets.iterdir()} == first, "init overwrote a secret"
    assert script("self-signed-tls", "broker.example.jp").returncode == 0
    assert {p.name for p in secrets.iterdir()} >= set(compose["secrets"])
    assert secrets.stat().st_mode & 0o777 == 0o700
    refused = script("add-device", "bad+id")
    assert refused.returncode != 0 and "not 1-64 characters" in refused.stderr


def test_only_the_device_port_is_published_beyond_localhost(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            if str(port) != "8883:8883":
                assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} publicly"


def test_env_example_covers_compose_variables_and_holds_no_secret(compose: dict[str, Any]) -> None:
    example = (DOCKER / ".env.example").read_text(encoding="utf-8")
    defined = dict(
        line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#")
    )
    for variable, default in re.findall(r"\$\{(\w+)(:-[^}]*)?\}", COMPOSE_FILE.read_text()):
        assert default or variable in defined, f"${{{variable}}} has no default and no .env entry"
    for key, value in defined.items():
        if re.search(r"PASSWORD|TOKEN|SECRET|KEY", key):
            assert not value, f".env.example must not carry a value for {key}"


def _dockerfile_lines(path: Path) -> list[str]:
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_copy_sources_exist_and_pass_the_dockerignore(name: str) -> None:
    ignore = (DOCKER / f"{name}.dockerignore").read_text(encoding="utf-8").splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for line in _dockerfile_lines(DOCKER / name):
        words = line.split()
        if words[0] != "COPY" or any(w.startswith("--from") for w in words):
            continue
        for source in [w for w in words[1:-1] if not w.startswith("--")]:
            # The build context is the repository root (compose: context .., and the READMEs).
            assert (ROOT / source).exists(), f"{name} copies {source}, which does not exist"
            assert source.split("/")[0] in allowed, f"{name}.dockerignore keeps out {source}"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_runs_unprivileged_on_python_311_slim(name: str) -> None:
    lines = _dockerfile_lines(DOCKER / name)
    froms = [line.split()[1:] for line in lines if line.startswith("FROM")]
    bases = [next(w for w in words if not w.startswith("--")) for words in froms]
    assert bases and all(base.startswith("python:3.11-slim-bookworm") for base in bases)
    assert "USER michimori" in lines


def test_edge_image_is_arm64_with_the_edge_extra_only() -> None:
    lines = _dockerfile_lines(DOCKER / "edge.Dockerfile")
    assert "ARG PLATFORM=linux/arm64" in lines
    installs = [line for line in lines if "pip install" in line]
    assert installs and all('".[edge]"' in line for line in installs)
    code = "\n".join(lines).lower()
    assert not [pkg for pkg in HEAVY_PACKAGES if pkg in code]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    edge_extra = " ".join(pyproject["project"]["optional-dependencies"]["edge"]).lower()
    assert not [pkg for pkg in HEAVY_PACKAGES if pkg in edge_extra]


# Run in a fresh interpreter: the packages only the other extras install are made unimportable,
# then the `michimori` command must still build and parse `edge run`, as on a Pi.
_EDGE_ONLY_CLI = """
import importlib.abc, sys
BLOCKED = {"numpy", "cv2", "torch", "onnxruntime", "ultralytics", "dronekit", "pymavlink",
           "piexif", "tqdm", "influxdb_client"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} imported at start-up, but the edge extra lacks it")
sys.meta_path.insert(0, Block())
argv = ["edge", "run", "--config", "/etc/michimori/edge.toml"]
from michimori.cli import build_parser
args = build_parser(argv).parse_args(argv)
assert callable(args.func)
"""


def test_michimori_command_starts_with_only_the_edge_extra() -> None:
    run = subprocess.run(
        [sys.executable, "-c", _EDGE_ONLY_CLI],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr


def _mosquitto_conf() -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for line in (DOCKER / "mosquitto" / "mosquitto.conf").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.strip().partition(" ")
            directives.setdefault(key, []).append(value)
    return directives


def test_mosquitto_conf_requires_auth_and_persists(compose: dict[str, Any]) -> None:
    conf = _mosquitto_conf()
    assert conf["allow_anonymous"] == ["false"]
    assert conf["per_listener_settings"] == ["false"]
    assert conf["persistence"] == ["true"]
    assert {"1883", "8883"} <= {value.split()[0] for value in conf["listener"]}
    assert int(conf["max_queued_messages"][0]) > 1000
    assert int(conf["autosave_interval"][0]) < 1800
    mosquitto = _service(compose, "mosquitto")
    for key in ("password_file", "certfile", "keyfile"):
        _secret_name(mosquitto, conf[key][0])
    assert _host_file(mosquitto, conf["acl_file"][0]).is_file()
    data_dir = conf["persistence_location"][0].rstrip("/")
    assert data_dir in {target for _, target in _mounts(mosquitto)}


def _topic_matches(pattern: str, topic: str) -> bool:
    levels, wanted = pattern.split("/"), topic.split("/")
    for i, level in enumerate(levels):
        if level == "#":
            return True
        if i >= len(wanted) or level not in ("+", wanted[i]):
            return False
    return len(levels) == len(wanted)


def _acl_allows(user: str, access: str, topic: str) -> bool:
    """Mosquitto's acl_file rules, as 2.0 applies them (checked by hand against 2.0.11)."""
    current: str | None = None
    for raw in (DOCKER / "mosquitto" / "acl").read_text().splitlines():
        words = raw.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "user":
            current = words[1]
            continue
        kind, rule_access, pattern = words[0], words[1], words[2]
        if kind == "pattern":
            pattern = pattern.replace("%u", user)
        elif current != user:
            continue
        if _topic_matches(pattern, topic) and rule_access in (access, "readwrite"):
            return True
    return False


@pytest.mark.parametrize(
    ("user", "access", "topic", "allowed"),
    [
        ("pole-0001", "write", "michimori/v1/utsunomiya-01/pole-0001/telemetry", True),
        ("pole-0001", "write", "michimori/v1/utsunomiya-01/pole-0001/event", True),
        ("pole-0001", "write", "michimori/v1/utsunomiya-01/pole-0001/status", True),
        ("pole-0001", "read", "michimori/v1/utsunomiya-01/pole-0001/confirm", True),
        ("pole-0001", "write", "michimori/v1/utsunomiya-01/pole-0002/telemetry", False),
        ("pole-0001", "write", "michimori/v1/utsunomiya-01/pole-0001/confirm", False),
        ("pole-0001", "read", "michimori/v1/utsunomiya-01/pole-0002/confirm", False),
        ("pole-0001", "read", "michimori/v1/utsunomiya-01/pole-0002/telemetry", False),
        ("ingest", "read", "michimori/v1/utsunomiya-01/pole-0001/telemetry", True),
        ("ingest", "read", "michimori/v1/utsunomiya-01/pole-0001/event", True),
        ("ingest", "read", "michimori/v1/utsunomiya-01/pole-0001/status", True),
        ("ingest", "write", "michimori/v1/utsunomiya-01/pole-0001/confirm", True),
        ("ingest", "write", "michimori/v1/utsunomiya-01/pole-0001/telemetry", False),
        ("operator", "read", "michimori/v1/utsunomiya-01/pole-0001/telemetry", True),
        ("operator", "write", "michimori/v1/utsunomiya-01/pole-0001/confirm", False),
    ],
)
def test_acl_lets_each_user_do_only_its_job(
    user: str, access: str, topic: str, allowed: bool
) -> None:
    assert _acl_allows(user, access, topic) is allowed


@pytest.fixture(scope="module")
def compose_ingest_config(compose: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    ingest = _service(compose, "ingest")
    config_path = ingest["command"][ingest["command"].index("--config") + 1]
    host_path = _host_file(ingest, config_path)
    return host_path, tomllib.loads(host_path.read_text(encoding="utf-8"))


def test_compose_ingest_config_matches_the_compose_services(
    compose: dict[str, Any], compose_ingest_config: tuple[Path, dict[str, Any]]
) -> None:
    _, config = compose_ingest_config
    ingest = _service(compose, "ingest")
    assert ingest["command"][:2] == ["ingest", "run"]
    mqtt, storage = config["mqtt"], config["storage"]
    assert mqtt["host"] in compose["services"]
    assert str(mqtt["port"]) in {v.split()[0] for v in _mosquitto_conf()["listener"]}
    _secret_name(ingest, mqtt["password_file"])
    assert storage["kind"] == "influx2"
    url = urlsplit(storage["url"])
    assert url.hostname == "influxdb" and url.port == 8086
    influx_env = _env(_service(compose, "influxdb"))
    assert storage["org"] == influx_env["DOCKER_INFLUXDB_INIT_ORG"]
    assert storage["bucket"] == influx_env["DOCKER_INFLUXDB_INIT_BUCKET"]
    _secret_name(ingest, storage["token_file"])
    metrics_port = config["metrics"]["http_listen"].rsplit(":", 1)[1]
    assert f"127.0.0.1:{metrics_port}:{metrics_port}" in ingest["ports"]
    assert f":{metrics_port}/healthz" in " ".join(ingest["healthcheck"]["test"])
    volume_targets = [target for source, target in _mounts(ingest) if not source.startswith(".")]
    dead = PurePosixPath(config["deadletter"]["dir"])
    assert any(dead.is_relative_to(target) for target in volume_targets)


# The schema the config loaders implement (issue 2): the examples show every key.
INGEST_KEYS = {
    "mqtt": {"host", "port", "client_id", "username", "password_file", "tls", "ca_file",
             "topic_root", "share_group", "keepalive_s", "session_expiry_s"},
    "storage": {"kind", "url", "database", "retention_policy", "username", "password_file",
                "org", "bucket", "token_file", "batch_max_points", "batch_max_delay_s",
                "timeout_s"},
    "deadletter": {"dir"},
    "metrics": {"http_listen", "interval_s"},
}  # fmt: skip
EDGE_KEYS = {
    "device": {"id", "site", "encoding"},
    "mqtt": {"host", "port", "username", "password_file", "tls", "ca_file", "keepalive_s",
             "topic_root"},
    "queue": {"path", "max_bytes", "batch_max_samples", "confirm_timeout_s"},
    "hardware": {"i2c_bus", "accel_address", "bme280_address", "gnss_port", "gnss_baud"},
    "sensors": {"tilt", "vibration", "environment", "gnss", "link"},
    "alerts": {"tilt_deg_max", "vibration_rms_g_max"},
    "status": {"interval_s"},
}  # fmt: skip


def test_example_configs_show_exactly_the_schema(
    compose_ingest_config: tuple[Path, dict[str, Any]],
) -> None:
    ingest = tomllib.loads((EXAMPLES / "ingest.toml").read_text(encoding="utf-8"))
    assert {section: set(keys) for section, keys in ingest.items()} == INGEST_KEYS
    _, compose_config = compose_ingest_config
    for section, keys in compose_config.items():
        assert set(keys) <= INGEST_KEYS[section], f"unknown keys in [{section}]"
    edge = tomllib.loads((EXAMPLES / "edge.toml").read_text(encoding="utf-8"))
    assert {section: set(keys) for section, keys in edge.items()} == EDGE_KEYS
    assert all(
        sensor == {"interval_s": sensor["interval_s"]} for sensor in edge["sensors"].values()
    )
    assert re.fullmatch(r"[a-z0-9-]{1,64}", edge["device"]["id"])
    assert edge["mqtt"]["username"] == edge["device"]["id"], "the ACL needs username = device id"


@pytest.mark.parametrize(
    "path", [DOCKER / "ingest" / "ingest.toml", EXAMPLES / "ingest.toml"], ids=lambda p: p.name
)
def test_ingest_configs_load_with_the_real_loader(path: Path) -> None:
    config = pytest.importorskip(
        "ingest.config",
        reason="ingest.config (the ingest's config loader) is not written yet",
        exc_type=ModuleNotFoundError,
    )
    assert config.load_config(path) is not None


def test_edge_example_loads_with_the_real_loader() -> None:
    config = pytest.importorskip(
        "edge.config",
        reason="edge.config (the edge agent's config loader) is not written yet",
        exc_type=ModuleNotFoundError,
    )
    assert config.load_config(EXAMPLES / "edge.toml") is not None


def _unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as {section: {key: [values]}}; keys may repeat, as systemd allows."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for number, line in enumerate((SYSTEMD / name).read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None and key.strip(), f"{name}:{number}: not key=value"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.mark.parametrize(
    ("unit", "command", "config", "state_key"),
    [
        ("michimori-edge.service", "edge run", EXAMPLES / "edge.toml", ("queue", "path")),
        ("michimori-ingest.service", "ingest run", EXAMPLES / "ingest.toml", ("deadletter", "dir")),
    ],
)
def test_systemd_unit_is_hardened_and_fits_the_example_config(
    unit: str, command: str, config: Path, state_key: tuple[str, str]
) -> None:
    sections = _unit(unit)
    assert set(sections) == {"Unit", "Service", "Install"}
    assert "network-online.target" in " ".join(sections["Unit"]["After"])
    assert "network-online.target" in " ".join(sections["Unit"]["Wants"])
    service = {key: values[-1] for key, values in sections["Service"].items()}
    for key, value in {
        "User": "michimori",
        "Restart": "on-failure",
        "KillSignal": "SIGTERM",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
    }.items():
        assert service.get(key) == value, f"{unit}: expected {key}={value}"
    assert int(service["TimeoutStopSec"]) >= 30, f"{unit}: TimeoutStopSec leaves no time to drain"
    expected_start = f"/opt/michimori/venv/bin/michimori {command} --config /etc/michimori/"
    assert service["ExecStart"].startswith(expected_start)
    assert sections["Install"]["WantedBy"] == ["multi-user.target"]
    # ProtectSystem=strict leaves only the StateDirectory writable: the state must be in it.
    state_dirs = [PurePosixPath("/var/lib", d) for d in service["StateDirectory"].split()]
    assert PurePosixPath("/var/lib/michimori") in state_dirs
    values = tomllib.loads(config.read_text(encoding="utf-8"))
    state_path = PurePosixPath(values[state_key[0]][state_key[1]])
    assert any(state_path.is_relative_to(d) for d in state_dirs), f"{state_path} not writable"


def test_edge_unit_gives_the_queue_time_to_drain() -> None:
    service = {k: v[-1] for k, v in _unit("michimori-edge.service")["Service"].items()}
    edge = tomllib.loads((EXAMPLES / "edge.toml").read_text(encoding="utf-8"))
    assert int(service["TimeoutStopSec"]) > edge["queue"]["confirm_timeout_s"]


def _queries(node: Any) -> list[tuple[str, str]]:
    """(query, datasource uid) of every target and template variable in a dashboard."""
    found = []
    if isinstance(node, dict):
        if isinstance(node.get("query"), str) and isinstance(node.get("datasource"), dict):
            found.append((node["query"], node["datasource"]["uid"]))
        for value in node.values():
            found += _queries(value)
    elif isinstance(node, list):
        for value in node:
            found += _queries(value)
    return found


def test_grafana_datasource_reaches_influxdb_with_a_secret_token(compose: dict[str, Any]) -> None:
    (datasource,) = _yaml(DATASOURCES)["datasources"]
    assert urlsplit(datasource["url"]).hostname in compose["services"]
    assert (
        datasource["jsonData"]["dbName"]
        == _env(_service(compose, "influxdb"))["DOCKER_INFLUXDB_INIT_BUCKET"]
    )
    header = datasource["secureJsonData"]["httpHeaderValue1"]
    variable = re.fullmatch(r"Token \$\{(GF_\w+)\}", header)
    assert variable is not None, "the token must come from the environment, not this file"
    grafana = _service(compose, "grafana")
    _secret_name(grafana, _env(grafana)[f"{variable[1]}__FILE"])


def test_grafana_dashboard_is_provisioned_and_queries_known_measurements(
    compose: dict[str, Any],
) -> None:
    (provider,) = _yaml(DASHBOARD_PROVIDERS)["providers"]
    assert _host_file(_service(compose, "grafana"), provider["options"]["path"]) == DASHBOARD.parent
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    uid = _yaml(DATASOURCES)["datasources"][0]["uid"]
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels), "panel ids must be unique"
    for panel in panels:
        if panel["type"] != "row":
            assert panel.get("targets"), f"panel {panel['title']!r} has no query"
    read = set()
    for query, query_uid in _queries(dashboard):
        assert query_uid == uid, f"{query!r} uses another datasource"
        names = set(re.findall(r'\bFROM\s+"([^"]+)"', query))
        assert names and names <= MEASUREMENTS, f"{query!r} reads no known measurement"
        read |= names
    assert MEASUREMENTS - {"gnss"} <= read, f"no panel shows {MEASUREMENTS - {'gnss'} - read}"


def test_operations_doc_covers_the_deployment() -> None:
    doc = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for needle in ("michimori-edge.service", "docker compose", "queue.sqlite", "journalctl"):
        assert needle in doc, f"docs/operations.md does not mention {needle}"
