"""edge.toml: the typed config, its defaults, and errors that name the file, key and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import default_config, load_config, parse_config
from edge.errors import ConfigError
from michimori.wire import Encoding

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """
[device]
id = "pole-0001"
site = "utsunomiya-01"

[mqtt]
host = "127.0.0.1"

[queue]
path = "state/queue.sqlite"
"""


def test_minimal_file_gets_the_documented_defaults(tmp_path: Path) -> None:
    f = tmp_path / "edge.toml"
    f.write_text(MINIMAL)
    cfg = load_config(f)
    assert cfg.device.device == "pole-0001"
    assert cfg.device.encoding is Encoding.MSGPACK
    assert cfg.mqtt.port == 1883 and cfg.mqtt.tls is None
    assert cfg.client_id == "edge-utsunomiya-01-pole-0001"
    # relative paths are taken from the config file's folder
    assert cfg.queue.path == tmp_path.resolve() / "state" / "queue.sqlite"
    assert cfg.hardware.kind == "real"
    assert [s.name for s in cfg.sensors] == ["tilt", "vibration", "environment", "gnss", "link"]
    assert cfg.alerts == ()
    assert cfg.agent.status_interval_s == 60.0


def test_example_config_loads() -> None:
    cfg = load_config(ROOT / "examples" / "edge.toml")
    assert cfg.mqtt.tls is not None and cfg.mqtt.port == 8883
    assert cfg.mqtt.username == cfg.device.device
    assert {r.name for r in cfg.alerts} == {"pole_tilt", "vibration_high"}
    assert cfg.agent.status_interval_s == 30


def test_emulated_hardware_and_custom_rules() -> None:
    cfg = parse_config(
        MINIMAL
        + """
[hardware]
kind = "emulated"
seed = 7
lat = 36.55
lon = 139.88

[sensors.tilt]
interval_s = 0.5
[sensors.gnss]
interval_s = 5
enabled = false

[alerts]
tilt_deg_max = 3.0
hysteresis_pct = 20

[[alerts.rules]]
name = "tilt_x_far"
sensor = "tilt"
field = "tilt_x_deg"
above = 5.0
absolute = true
severity = "critical"
"""
    )
    assert cfg.hardware.kind == "emulated" and cfg.hardware.seed == 7
    assert [(s.name, s.interval_s) for s in cfg.sensors] == [("tilt", 0.5)]
    tilt, custom = cfg.alerts
    assert tilt.name == "pole_tilt" and tilt.hysteresis == pytest.approx(0.6)
    assert custom.fields == ("tilt_x_deg",) and custom.absolute and custom.severity == "critical"


def test_redacted_view_never_holds_the_password(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("hunter2-very-secret\n")
    cfg = parse_config(
        MINIMAL.replace('host = "127.0.0.1"', f'username = "pole-0001"\npassword_file = "{secret}"')
    )
    text = repr(cfg.redacted())
    assert str(secret) in text and "hunter2" not in text


def test_default_config_is_an_emulated_node(tmp_path: Path) -> None:
    cfg = default_config(site="s1", device="d1", queue_path=tmp_path / "q.db", port=1999)
    assert cfg.hardware.kind == "emulated" and cfg.mqtt.port == 1999
    with pytest.raises(ConfigError, match="expected ids"):
        default_config(site="S 1", device="d1", queue_path=tmp_path / "q.db")


@pytest.mark.parametrize(
    ("change", "where", "expected"),
    [
        (("[device]", "[devices]"), "[device] section", "required"),
        (('id = "pole-0001"', 'id = "Pole_1"'), "[device] id", "a device id"),
        (("[queue]", "[queue]\nmax_bytes = -1"), "[queue] max_bytes", "integer >= 65536"),
        (("[queue]", "[queue]\nbatch_max_samples = 5000"), "batch_max_samples", "from 1 to 1000"),
        (("[queue]", "[queue]\nlinger_s = 'soon'"), "[queue] linger_s", "a number"),
        (('path = "state/queue.sqlite"', ""), "[queue] path", "queue file's path"),
        (("[mqtt]", "[mqtt]\nport = 70000"), "[mqtt] port", "from 1 to 65535"),
        (("[mqtt]", "[mqtt]\npasword_file = 'x'"), "[mqtt] pasword_file", "unknown key"),
        (("[mqtt]", "[mqtt]\nca_file = 'ca.pem'"), "[mqtt] tls", "need tls = true"),
        (("[mqtt]", "[mqtt]\npassword_file = 'pw'"), "password_file", "needs a username"),
        (("[mqtt]", "[mqtt]\ntls = 'yes'"), "[mqtt] tls", "true or false"),
        (("[queue]", "[sensors.radar]\ninterval_s = 1\n[queue]"), "radar", "unknown sensor"),
        (("[queue]", "[sensors.tilt]\ninterval_s = 0\n[queue]"), "interval_s", ">= 0.001"),
        (("[queue]", "[alerts]\ntilt_deg_max = 100\n[queue]"), "tilt_deg_max", "from 0.01 to 90"),
        (
            ("[queue]", "[sensors.gnss]\ninterval_s = 1\n[alerts]\ntilt_deg_max = 2\n[queue]"),
            "tilt_deg_max",
            "tilt sensor enabled",
        ),
        (("[queue]", "[hardware]\nkind = 'virtual'\n[queue]"), "[hardware] kind", "'emulated'"),
        (("[queue]", "[hardware]\nbme280_address = 0x53\n[queue]"), "bme280_address", "share"),
        (("[queue]", "[status]\ninterval_s = 0\n[queue]"), "[status] interval_s", ">= 1"),
        (("[queue]", "[surprise]\nx = 1\n[queue]"), "surprise", "unknown key"),
        (("[device]", "[device\n"), "edge.toml", "not valid TOML"),
    ],
)
def test_errors_name_file_key_and_expectation(
    tmp_path: Path, change: tuple[str, str], where: str, expected: str
) -> None:
    f = tmp_path / "edge.toml"
    f.write_text(MINIMAL.replace(*change, 1))
    with pytest.raises(ConfigError) as info:
        load_config(f)
    text = str(info.value)
    assert text.startswith(str(f)), text
    assert where in text and expected in text, text


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ('name = "x"\nsensor = "tilt"\nfield = "tilt_x_deg"', "needs `above` or `below`"),
        ('name = "x"\nsensor = "tilt"\nabove = 1', "either `field` or `fields`"),
        ('name = "x"\nsensor = "radar"\nfield = "a"\nabove = 1', "not an enabled sensor"),
        ('name = "pole_tilt"\nsensor = "tilt"\nfield = "a"\nabove = 1', "must be unique"),
        ('name = "x"\nsensor = "tilt"\nfield = "a"\nabove = 1\nbelow = 2', "less than"),
        ('name = "X"\nsensor = "tilt"\nfield = "a"\nabove = 1', "a name of a-z"),
    ],
)
def test_alert_rule_errors(rule: str, expected: str) -> None:
    text = MINIMAL + "[alerts]\ntilt_deg_max = 2\n[[alerts.rules]]\n" + rule + "\n"
    with pytest.raises(ConfigError, match="alerts") as info:
        parse_config(text)
    assert expected in str(info.value)


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
