"""The one seam between the edge agent and the broker: MQTT 5 over paho-mqtt 2.x.

The link connects with ``clean_start=False`` and a session expiry (so confirms addressed to us
wait at the broker while we are away), sets the retained offline Status as last will, publishes
at QoS 1 and reports every PUBACK with its reason code, because paho counts a refused publish
as published. It reconnects on its own with jittered exponential backoff. Each connection gets
a fresh paho client and an ``epoch`` number: events of a dead connection are recognisable and
paho's in-memory resend queue never outlives it (the agent re-sends from its disk queue).
Everything the agent learns arrives as a ``LinkEvent`` through one callback. The link only
needs a host and a port, so a fault-injecting TCP proxy can sit in between.
"""

from __future__ import annotations

import contextlib
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from .errors import LinkError

__all__ = [
    "Connected",
    "Disconnected",
    "Incoming",
    "Link",
    "LinkEvent",
    "LinkFailed",
    "LinkSettings",
    "MqttLink",
    "PubAck",
    "backoff_delay_s",
    "read_password",
]

log = logging.getLogger(__name__)

# MQTT 5: reason codes below 0x80 are successes (0x10 "no matching subscribers" included).
FAILURE_THRESHOLD = 0x80


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkSettings:
    host: str
    port: int
    client_id: str
    keepalive_s: int = 30
    session_expiry_s: int = 7 * 86_400
    receive_maximum: int = 32
    connect_timeout_s: float = 10.0
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    username: str = ""
    password_file: Path | None = None
    tls: bool = False
    ca_file: Path | None = None  # None with tls: the system's trusted CAs
    cert_file: Path | None = None
    key_file: Path | None = None
    subscriptions: tuple[str, ...] = ()  # QoS 1, renewed on every connect
    # Start the first session clean (a new queue file: old confirms would name reused seqs).
    clean_first: bool = False
    seed: int | None = None  # jitter; fixed in tests

    def __post_init__(self) -> None:
        if not 0 < self.reconnect_min_s <= self.reconnect_max_s:
            raise ValueError("need 0 < reconnect_min_s <= reconnect_max_s")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        if not self.tls and (self.ca_file or self.cert_file):
            raise ValueError("ca_file and cert_file need tls=True")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}{' (TLS)' if self.tls else ''}"


# -- what the link reports --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connected:
    epoch: int
    session_present: bool
    receive_maximum: int  # the broker's limit on our unacked QoS 1 publishes


@dataclass(frozen=True, slots=True)
class Disconnected:
    epoch: int
    reason: str


@dataclass(frozen=True, slots=True)
class LinkFailed:
    """The link's own thread died of a bug; the agent must stop (systemd restarts it)."""

    error: str


@dataclass(frozen=True, slots=True)
class PubAck:
    epoch: int
    mid: int
    reason_code: int
    reason: str

    @property
    def ok(self) -> bool:
        return self.reason_code < FAILURE_THRESHOLD


@dataclass(frozen=True, slots=True)
class Incoming:
    epoch: int
    mid: int
    qos: int
    topic: str
    payload: bytes
    content_type: str | None


LinkEvent = Connected | Disconnected | PubAck | Incoming | LinkFailed


class Link(Protocol):
    """What the agent needs from a broker link (MqttLink is the real one)."""

    def start(self) -> None: ...

    def publish(
        self, epoch: int, topic: str, payload: bytes, *, content_type: str, retain: bool = False
    ) -> int | None: ...

    def ack(self, epoch: int, mid: int, qos: int) -> None: ...

    def stop(self, *, last: tuple[str, bytes, str] | None, timeout_s: float) -> None: ...


def backoff_delay_s(attempt: int, *, min_s: float, max_s: float, rng: random.Random) -> float:
    """Exponential backoff with equal jitter: 500 devices that lost the broker together do not
    all come back in the same second."""
    cap = min(max_s, min_s * 2 ** min(attempt, 30))
    return rng.uniform(cap / 2, cap)


def read_password(path: Path) -> str:
    """The broker password from its file (first line). The value is never logged."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LinkError(f"cannot read the password file {path}: {exc.strerror}") from exc
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise LinkError(f"the password file {path} is empty")
    return lines[0]


class MqttLink:
    """A broker connection kept alive by its own thread; see the module docstring."""

    def __init__(
        self,
        settings: LinkSettings,
        *,
        will: Callable[[], tuple[str, bytes, str]],
        on_event: Callable[[LinkEvent], None],
    ) -> None:
        self.settings = settings
        self._will = will
        self._on_event = on_event
        self._rng = random.Random(settings.seed)
        self._lock = threading.Lock()
        self._client: mqtt.Client | None = None
        self._epoch = 0
        self._connected = False
        self._stopping = threading.Event()
        self._conn_over = threading.Event()
        self._thread: threading.Thread | None = None
        self._props: dict[str, Properties] = {}
        self._fail_logged = 0
        self._up_since = 0.0
        self._refusal: str | None = None
        self._last_failure = ""
        self._clean_next = settings.clean_first
        self._check_files()

    def _check_files(self) -> None:
        s = self.settings
        if s.password_file is not None:
            read_password(s.password_file)
        for what, p in (("CA", s.ca_file), ("certificate", s.cert_file), ("key", s.key_file)):
            if p is not None and not p.is_file():
                raise LinkError(f"the TLS {what} file {p} does not exist")

    # -- the agent's side -------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._supervise, name=f"link-{self.settings.client_id}", daemon=True
        )
        self._thread.start()

    def publish(
        self, epoch: int, topic: str, payload: bytes, *, content_type: str, retain: bool = False
    ) -> int | None:
        """QoS 1 publish on connection ``epoch``; None if that connection is gone."""
        with self._lock:
            client = self._client if (self._connected and self._epoch == epoch) else None
        if client is None:
            return None
        info = client.publish(
            topic, payload, qos=1, retain=retain, properties=self._publish_props(content_type)
        )
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return None  # the connection just dropped; a Disconnected event follows
        return int(info.mid)

    def ack(self, epoch: int, mid: int, qos: int) -> None:
        """Acknowledge an incoming message once it is handled (manual acks)."""
        with self._lock:
            client = self._client if (self._connected and self._epoch == epoch) else None
        if client is not None:
            client.ack(mid, qos)

    def stop(self, *, last: tuple[str, bytes, str] | None = None, timeout_s: float = 5.0) -> None:
        """Publish ``last`` (topic, payload, content type; retained) if connected, wait up to
        ``timeout_s`` for its PUBACK, then disconnect cleanly (the broker then drops our will)."""
        self._stopping.set()
        with self._lock:
            client = self._client if self._connected else None
        if client is not None and last is not None:
            topic, payload, ctype = last
            info = client.publish(
                topic, payload, qos=1, retain=True, properties=self._publish_props(ctype)
            )
            if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                # paho raises RuntimeError when the connection is gone meanwhile: same outcome.
                with contextlib.suppress(RuntimeError):
                    info.wait_for_publish(timeout_s)
            if not info.is_published():
                log.warning("the broker did not acknowledge our offline status in time")
        if client is not None:
            client.disconnect()
        self._conn_over.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s + 5)
            self._thread = None

    def _publish_props(self, content_type: str) -> Properties:
        props = self._props.get(content_type)
        if props is None:
            props = Properties(PacketTypes.PUBLISH)
            props.ContentType = content_type
            self._props[content_type] = props
        return props

    # -- the link's own thread --------------------------------------------------------------

    def _supervise(self) -> None:
        try:
            self._supervise_loop()
        except Exception as exc:
            log.exception("the broker link failed unexpectedly; the agent stops")
            self._on_event(LinkFailed(f"{type(exc).__name__}: {exc}"))
            raise

    def _supervise_loop(self) -> None:
        s = self.settings
        attempt = 0
        while not self._stopping.is_set():
            with self._lock:
                self._epoch += 1
                epoch = self._epoch
            self._conn_over.clear()
            up_since: float | None = None
            try:
                # a password file that became unreadable is a failed attempt, retried
                client = self._make_client(epoch)
                client.connect(
                    s.host,
                    s.port,
                    keepalive=s.keepalive_s,
                    clean_start=self._clean_next,
                    properties=self._connect_props(),
                )
            except (OSError, ssl.SSLError, LinkError) as exc:
                self._last_failure = f"{type(exc).__name__}: {exc}"
            else:
                with self._lock:
                    self._client = client
                client.loop_start()
                self._conn_over.wait()
                if self._stopping.is_set():
                    client.disconnect()  # stop() may have raced with this connect
                client.loop_stop()
                with self._lock:
                    was_up = self._connected
                    self._connected = False
                    self._client = None
                up_since = self._up_since if was_up else None
                if not was_up:
                    self._last_failure = self._refusal or "the broker closed before CONNACK"
            if self._stopping.is_set():
                return
            # A connection that stayed up a while resets the backoff; a flapping one does not.
            if up_since is not None and time.monotonic() - up_since > 10 * s.reconnect_min_s:
                attempt = 0
            delay = backoff_delay_s(
                attempt, min_s=s.reconnect_min_s, max_s=s.reconnect_max_s, rng=self._rng
            )
            attempt += 1
            if up_since is not None:
                log.info("reconnecting to %s in %.1f s", s.address, delay)
            else:
                self._log_failure(delay)
            if self._stopping.wait(delay):
                return

    def _log_failure(self, delay: float) -> None:
        # First failure as a warning, then one line per ten, so a night offline stays readable.
        self._fail_logged += 1
        if self._fail_logged == 1 or self._fail_logged % 10 == 0:
            log.warning(
                "cannot connect to broker %s as %s (%s); attempt %d, retrying in %.1f s; "
                "samples stay queued on disk",
                self.settings.address,
                self.settings.client_id,
                self._last_failure,
                self._fail_logged,
                delay,
            )

    def _connect_props(self) -> Properties:
        p = Properties(PacketTypes.CONNECT)
        p.SessionExpiryInterval = self.settings.session_expiry_s
        p.ReceiveMaximum = self.settings.receive_maximum
        return p

    def _make_client(self, epoch: int) -> mqtt.Client:
        s = self.settings
        c = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,  # we reconnect, with jitter and a fresh client
            manual_ack=True,  # a confirm is acked only after its rows are deleted
        )
        c.connect_timeout = s.connect_timeout_s
        c.suppress_exceptions = False
        if s.username:
            password = read_password(s.password_file) if s.password_file else None
            c.username_pw_set(s.username, password)
        if s.tls:
            c.tls_set(
                ca_certs=str(s.ca_file) if s.ca_file else None,
                certfile=str(s.cert_file) if s.cert_file else None,
                keyfile=str(s.key_file) if s.key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        topic, payload, ctype = self._will()
        wp = Properties(PacketTypes.WILLMESSAGE)
        wp.ContentType = ctype
        c.will_set(topic, payload, qos=1, retain=True, properties=wp)
        c.on_connect = self._cb(epoch, self._on_connect)
        c.on_disconnect = self._cb(epoch, self._on_disconnect)
        c.on_publish = self._cb(epoch, self._on_publish)
        c.on_message = self._cb(epoch, self._on_message)
        c.on_subscribe = self._cb(epoch, self._on_subscribe)
        return c

    @staticmethod
    def _cb(epoch: int, fn: Callable[..., None]) -> Callable[..., None]:
        def call(client: mqtt.Client, userdata: Any, *args: Any) -> None:
            fn(epoch, client, *args)

        return call

    def _on_connect(
        self, epoch: int, client: mqtt.Client, flags: Any, rc: ReasonCode, props: Any
    ) -> None:
        if rc.is_failure:
            # Wrong credentials, not authorised, server busy: say which, then back off.
            self._refusal = f"broker refused the connection: {rc.getName()} (0x{rc.value:02x})"
            return
        self._refusal = None
        self._fail_logged = 0
        self._clean_next = False
        rmax = getattr(props, "ReceiveMaximum", None) or 65535
        with self._lock:
            if epoch != self._epoch:
                return
            self._connected = True
            self._up_since = time.monotonic()
        if self.settings.subscriptions:
            client.subscribe([(t, SubscribeOptions(qos=1)) for t in self.settings.subscriptions])
        log.info(
            "connected to broker %s as %s (session %s)",
            self.settings.address,
            self.settings.client_id,
            "resumed" if flags.session_present else "new",
        )
        self._on_event(Connected(epoch, bool(flags.session_present), int(rmax)))

    def _on_disconnect(
        self, epoch: int, client: mqtt.Client, flags: Any, rc: ReasonCode, props: Any
    ) -> None:
        with self._lock:
            was_up = self._connected and epoch == self._epoch
        if was_up:
            if self._stopping.is_set():
                log.info("disconnected from broker %s", self.settings.address)
            else:
                log.warning(
                    "lost the broker %s (%s); samples stay queued on disk",
                    self.settings.address,
                    rc.getName() if isinstance(rc, ReasonCode) else rc,
                )
            self._on_event(Disconnected(epoch, str(rc)))
        self._conn_over.set()

    def _on_publish(
        self, epoch: int, client: mqtt.Client, mid: int, rc: ReasonCode, props: Any
    ) -> None:
        self._on_event(PubAck(epoch, mid, int(rc.value), rc.getName()))

    def _on_message(self, epoch: int, client: mqtt.Client, msg: mqtt.MQTTMessage) -> None:
        ctype = getattr(msg.properties, "ContentType", None) if msg.properties else None
        self._on_event(Incoming(epoch, msg.mid, msg.qos, msg.topic, bytes(msg.payload), ctype))

    def _on_subscribe(
        self, epoch: int, client: mqtt.Client, mid: int, codes: Sequence[ReasonCode], props: Any
    ) -> None:
        bad = [c for c in codes if c.is_failure]
        if bad:
            log.error(
                "broker refused the subscription to %s (%s): without confirms no sample is "
                "ever deleted; reconnecting to try again",
                ", ".join(self.settings.subscriptions),
                ", ".join(c.getName() for c in bad),
            )
            client.disconnect()
