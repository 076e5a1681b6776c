"""Shared test helpers: an MQTT probe client and InfluxDB look-ups. No sleeps: waits on events."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.config import parse_config
from ingest.storage import Influx1Storage
from michimori.services import InfluxDB, Mosquitto


@dataclass
class Received:
    topic: str
    payload: bytes
    content_type: str | None
    retain: bool


@dataclass
class Probe:
    """A plain MQTT 5 client that records what it receives and can wait for a condition."""

    broker: Mosquitto
    client_id: str
    messages: list[Received] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
        )
        self.client.on_message = self._on_message
        connected = threading.Event()
        self.client.on_connect = lambda *a: connected.set()
        self.client.connect(self.broker.endpoint.host, self.broker.endpoint.port)
        self.client.loop_start()
        assert connected.wait(10), "probe could not connect"

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        ctype = getattr(msg.properties, "ContentType", None) if msg.properties else None
        with self._cond:
            self.messages.append(Received(msg.topic, bytes(msg.payload), ctype, msg.retain))
            self._cond.notify_all()

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe(topic, qos=1)
        assert done.wait(10), f"no SUBACK for {topic}"

    def publish(self, topic: str, payload: bytes, content_type: str | None = None) -> None:
        props = None
        if content_type:
            props = Properties(PacketTypes.PUBLISH)
            props.ContentType = content_type
        info = self.client.publish(topic, payload, qos=1, properties=props)
        info.wait_for_publish(10)

    def wait_for(self, pred: Callable[[list[Received]], bool], timeout_s: float = 20.0) -> None:
        with self._cond:
            ok = self._cond.wait_for(lambda: pred(self.messages), timeout=timeout_s)
        assert ok, f"condition not met within {timeout_s} s; got {len(self.messages)} messages"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def ingest_config(
    broker: Mosquitto,
    influx: InfluxDB,
    database: str,
    tmp: Path,
    *,
    topic_root: str = "michimori/v1",
    **storage: Any,
) -> Any:
    return parse_config(
        {
            "mqtt": {
                "host": broker.endpoint.host,
                "port": broker.endpoint.port,
                "client_id": f"ingest-{database}",
                "share_group": f"g{database}",
                "topic_root": topic_root,
            },
            "storage": {"url": influx.endpoint.url, "database": database, **storage},
            "deadletter": {"dir": str(tmp / "deadletter")},
            "metrics": {"http_listen": "127.0.0.1:0", "interval_s": 1.0},
        },
        source="test",
    )


def seqs_in_db(influx: InfluxDB, database: str, device: str) -> list[int]:
    """All seq values stored for ``device`` across every measurement (duplicates kept)."""
    st = Influx1Storage(influx.endpoint.url, database)
    try:
        res = st.query(f"SELECT seq FROM /.*/ WHERE device = '{device}'")
    finally:
        st.close()
    out: list[int] = []
    for series in res[0].get("series", []):
        idx = series["columns"].index("seq")
        out.extend(int(v[idx]) for v in series["values"] if v[idx] is not None)
    return sorted(out)


def wait_until(pred: Callable[[], bool], timeout_s: float, what: str) -> None:
    """For state we can only observe by asking (a database): ask with back-off until true."""
    deadline = time.monotonic() + timeout_s
    delay = 0.02
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
