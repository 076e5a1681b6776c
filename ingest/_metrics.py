"""The ingest's own numbers: counters, Prometheus text, a /healthz endpoint, a line for InfluxDB."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(slots=True)
class Metrics:
    received: int = 0  # messages taken from the broker
    written: int = 0  # points the database accepted
    deadlettered: int = 0  # messages sent to the dead-letter store
    confirmed: int = 0  # sequence numbers confirmed back to devices
    storage_errors: int = 0  # failed write attempts (each retried)
    batches: int = 0
    batch_latency_ms_last: float = 0.0
    batch_latency_ms_sum: float = 0.0
    lag_s: float = 0.0  # age of the oldest sample in the last written batch
    inbox_depth: int = 0
    mqtt_connected: bool = False
    storage_up: bool = True
    started_monotonic: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "received": self.received,
                "written": self.written,
                "deadlettered": self.deadlettered,
                "confirmed": self.confirmed,
                "storage_errors": self.storage_errors,
                "batches": self.batches,
                "batch_latency_ms": self.batch_latency_ms_last,
                "batch_latency_ms_avg": (
                    self.batch_latency_ms_sum / self.batches if self.batches else 0.0
                ),
                "lag_s": self.lag_s,
                "inbox_depth": self.inbox_depth,
                "mqtt_connected": self.mqtt_connected,
                "storage_up": self.storage_up,
                "uptime_s": time.monotonic() - self.started_monotonic,
            }

    def prometheus(self, worker: str) -> str:
        snap = self.snapshot()
        kinds = {
            "received": ("counter", "MQTT messages received"),
            "written": ("counter", "points written to the database"),
            "deadlettered": ("counter", "messages sent to the dead-letter store"),
            "confirmed": ("counter", "sequence numbers confirmed back to devices"),
            "storage_errors": ("counter", "failed storage write attempts"),
            "batches": ("counter", "batches written"),
            "batch_latency_ms": ("gauge", "latency of the last batch write in ms"),
            "lag_s": ("gauge", "age of the oldest sample in the last batch"),
            "inbox_depth": ("gauge", "messages received but not yet written"),
            "mqtt_connected": ("gauge", "1 when connected to the broker"),
            "storage_up": ("gauge", "1 when the last storage write succeeded"),
            "uptime_s": ("gauge", "seconds since start"),
        }
        out = []
        for key, (kind, help_text) in kinds.items():
            name = f"michimori_ingest_{key}" + ("_total" if kind == "counter" else "")
            value = float(snap[key])
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")
            out.append(f'{name}{{worker="{worker}"}} {value:g}')
        return "\n".join(out) + "\n"

    def healthy(self) -> bool:
        with self.lock:
            return self.mqtt_connected and self.storage_up


class MetricsServer:
    """GET /metrics (Prometheus text) and /healthz (JSON; 503 when unhealthy)."""

    def __init__(self, metrics: Metrics, worker: str, listen: str) -> None:
        host, port = listen.rsplit(":", 1)
        metrics_ref, worker_ref = metrics, worker

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    body = metrics_ref.prometheus(worker_ref).encode()
                    self._send(200, body, "text/plain; version=0.0.4")
                elif self.path == "/healthz":
                    ok = metrics_ref.healthy()
                    body = json.dumps({"ok": ok, **metrics_ref.snapshot()}).encode()
                    self._send(200 if ok else 503, body, "application/json")
                else:
                    self._send(404, b"not found\n", "text/plain")

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # scrapes every few seconds would drown the log

        self._server = ThreadingHTTPServer((host, int(port)), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ingest-metrics-http", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
