"""InfluxDB 2.x adapter through ``influxdb-client`` (org, bucket, token).

Uses the client's *synchronous* write API on purpose: its batching WriteApi drops failed
batches after retries and its ``flush()`` does nothing, so nothing in it could be acked on.
Tested here against VictoriaMetrics' ``/api/v2/write`` (no InfluxDB 2.x package exists for
this machine); see docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._base import StorageRejected, StorageUnavailable


class Influx2Storage:
    name = "influx2"

    def __init__(
        self, url: str, *, org: str, bucket: str, token: str, timeout_s: float = 10.0
    ) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS
        from influxdb_client.domain.write_precision import WritePrecision

        self.url = url
        self.bucket = bucket
        self.org = org
        self._precision: Any = WritePrecision.NS
        # retries=0: the ingest owns retrying (it must know a batch failed to withhold acks)
        self._client = InfluxDBClient(
            url=url, token=token, org=org, timeout=int(timeout_s * 1000), retries=0
        )
        self._write = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, lines: Sequence[str]) -> None:
        if not lines:
            return
        from influxdb_client.rest import ApiException
        from urllib3.exceptions import HTTPError

        try:
            self._write.write(
                bucket=self.bucket,
                org=self.org,
                record="\n".join(lines),
                write_precision=self._precision,
            )
        except ApiException as exc:
            status = int(exc.status or 0)
            if status in (400, 413, 422):
                raise StorageRejected(
                    f"InfluxDB 2.x rejected the write ({status}): {_body(exc)}", status=status
                ) from exc
            raise StorageUnavailable(f"InfluxDB 2.x write failed ({status}): {_body(exc)}") from exc
        except (HTTPError, OSError) as exc:
            raise StorageUnavailable(f"InfluxDB 2.x at {self.url} unreachable: {exc!r}") from exc

    def ensure_ready(self) -> None:
        from urllib3.exceptions import HTTPError

        try:
            ok = self._client.ping()
        except (HTTPError, OSError) as exc:
            raise StorageUnavailable(f"InfluxDB 2.x at {self.url} unreachable: {exc!r}") from exc
        if not ok:
            raise StorageUnavailable(f"InfluxDB 2.x at {self.url} did not answer its ping")

    def close(self) -> None:
        self._write.close()
        self._client.close()


def _body(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    return str(body or exc.reason or exc).strip()
