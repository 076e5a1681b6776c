"""InfluxDB 1.x HTTP API adapter: ``POST /write`` with line protocol, ``/query`` for InfluxQL.

The same endpoints are served by InfluxDB 2.x (v1 compatibility, with a DBRP mapping and a
token as password) and by InfluxDB 3.x, so this is the default adapter.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import threading
import urllib.parse
from collections.abc import Sequence
from typing import Any

from ._base import StorageRejected, StorageUnavailable


class Influx1Storage:
    name = "influx1"

    def __init__(
        self,
        url: str,
        database: str,
        *,
        retention_policy: str = "",
        username: str = "",
        password: str | None = None,
        timeout_s: float = 10.0,
        use_gzip: bool = False,
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"storage url {url!r}: expected http(s)://host:port")
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname
        self._port = parsed.port or (443 if self._https else 8086)
        self._base = parsed.path.rstrip("/")
        self.url = url
        self.database = database
        self._timeout_s = timeout_s
        self._gzip = use_gzip
        params = {"db": database, "precision": "ns"}
        if retention_policy:
            params["rp"] = retention_policy
        self._write_path = f"{self._base}/write?{urllib.parse.urlencode(params)}"
        self._headers = {"Content-Type": "text/plain; charset=utf-8"}
        if username:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        if use_gzip:
            self._headers["Content-Encoding"] = "gzip"
        self._conn: http.client.HTTPConnection | None = None
        # the writer and the metrics thread share one keep-alive connection
        self._lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._timeout_s)
        return self._conn

    def _request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        with self._lock:
            for attempt in (1, 2):
                conn = self._connection()
                try:
                    conn.request(method, path, body=body, headers=headers)
                    resp = conn.getresponse()
                    return resp.status, resp.read()
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    self._conn = None
                    # a keep-alive connection the server closed fails once; retry that once
                    if attempt == 2 or isinstance(exc, (ConnectionRefusedError, TimeoutError)):
                        raise StorageUnavailable(
                            f"InfluxDB at {self.url} unreachable: {exc!r}"
                        ) from exc
        raise AssertionError("unreachable")

    def write(self, lines: Sequence[str]) -> None:
        if not lines:
            return
        body = ("\n".join(lines) + "\n").encode()
        if self._gzip:
            body = gzip.compress(body, compresslevel=1)
        status, text = self._request("POST", self._write_path, body, self._headers)
        if status == 204:
            return
        msg = _error_text(text)
        if status in (400, 413):
            raise StorageRejected(f"InfluxDB rejected the write ({status}): {msg}", status=status)
        if status == 404 and "database not found" in msg:
            # someone dropped the database under us: not the data's fault, retry after create
            raise StorageUnavailable(f"InfluxDB: {msg}")
        raise StorageUnavailable(f"InfluxDB write failed ({status}): {msg}")

    def query(self, q: str, *, database: str | None = None) -> list[dict[str, Any]]:
        """Run InfluxQL; returns the ``results`` list. Raises StorageUnavailable/Rejected."""
        params = urllib.parse.urlencode({"q": q, "db": database or self.database})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if "Authorization" in self._headers:
            headers["Authorization"] = self._headers["Authorization"]
        status, text = self._request("POST", f"{self._base}/query", params.encode(), headers)
        if status != 200:
            raise StorageRejected(
                f"InfluxQL {q!r} failed ({status}): {_error_text(text)}", status=status
            )
        results: list[dict[str, Any]] = json.loads(text).get("results", [])
        for r in results:
            if "error" in r:
                raise StorageRejected(f"InfluxQL {q!r}: {r['error']}", status=status)
        return results

    def ensure_ready(self) -> None:
        # CREATE DATABASE is idempotent in 1.x
        self.query(f'CREATE DATABASE "{self.database}"')

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _error_text(body: bytes) -> str:
    try:
        data = json.loads(body)
        return str(data.get("error", body.decode(errors="replace")))
    except (ValueError, AttributeError):
        return body.decode(errors="replace").strip()
