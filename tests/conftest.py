"""Test harness: real Mosquitto / InfluxDB / VictoriaMetrics on 127.0.0.1 in temp dirs."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from michimori.services import InfluxDB, Mosquitto, VictoriaMetrics

# ultralytics and friends must never reach for the network in tests.
os.environ.setdefault("YOLO_OFFLINE", "1")


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """One Mosquitto for the whole session; tests use unique topics/sites to stay apart."""
    m = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    m.start()
    yield m
    m.stop()


@pytest.fixture(scope="session")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB]:
    """One InfluxDB 1.x for the session; tests use unique databases."""
    i = InfluxDB(tmp_path_factory.mktemp("influxdb"))
    i.start()
    yield i
    i.stop()


@pytest.fixture(scope="session")
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    v = VictoriaMetrics(tmp_path_factory.mktemp("victoria"))
    v.start()
    yield v
    v.stop()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    """A factory for brokers a test may kill and restart (same port, same state dir)."""
    made: list[Mosquitto] = []

    def make(**kwargs: object) -> Mosquitto:
        m = Mosquitto(tmp_path / f"mosquitto-{len(made)}", **kwargs)  # type: ignore[arg-type]
        m.start()
        made.append(m)
        return m

    yield make
    for m in made:
        m.kill()


@pytest.fixture
def own_influx(tmp_path: Path) -> Iterator[Callable[[], InfluxDB]]:
    made: list[InfluxDB] = []

    def make() -> InfluxDB:
        i = InfluxDB(tmp_path / f"influxdb-{len(made)}")
        i.start()
        made.append(i)
        return i

    yield make
    for i in made:
        i.stop()


@pytest.fixture
def unique_id() -> str:
    """A site/database/topic id no other test uses (ids are [a-z0-9-])."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture(autouse=True)
def _fail_on_thread_exceptions() -> Iterator[None]:
    """A callback that raised in a background thread fails the test instead of vanishing."""
    errors: list[threading.ExceptHookArgs] = []
    previous = threading.excepthook
    threading.excepthook = errors.append
    yield
    threading.excepthook = previous
    if errors:
        first = errors[0]
        raise AssertionError(
            f"{len(errors)} exception(s) in background threads; first in "
            f"{first.thread.name if first.thread else '?'}: {first.exc_type.__name__}: "
            f"{first.exc_value}"
        )
