"""Cellular link quality as the node's LTE/5G modem reports it, read from a small status source.

The source is text of `key=value` lines, either a file that a modem poller rewrites every few
seconds (for example a systemd timer around `mmcli -m any --signal-get` or `AT+QENG`) or any
callable returning that text (the emulator's modem is one). Example:

    # written by modem-status.timer
    registered=yes
    rat=LTE
    rsrp_dbm=-97
    sinr_db=11.5
    rssi_dbm=-67

`registered` is required (yes/no, true/false, 1/0); signal keys may be absent when the modem has
no service. Unknown keys are ignored so the poller can add fields without breaking old nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.drivers.errors import LinkStatusError

__all__ = ["LinkReader", "LinkStatus", "parse_link_status"]

_TRUE = frozenset({"1", "yes", "true", "on"})
_FALSE = frozenset({"0", "no", "false", "off"})
# 3GPP TS 36.133/38.133 report ranges, widened a little for vendors that clip differently.
_RANGES: dict[str, tuple[float, float]] = {
    "rsrp_dbm": (-160.0, -30.0),
    "sinr_db": (-30.0, 50.0),
    "rssi_dbm": (-130.0, 0.0),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkStatus:
    registered: bool
    rat: str | None = None  # radio access technology: LTE, NR5G-NSA, NR5G-SA...
    rsrp_dbm: float | None = None
    sinr_db: float | None = None
    rssi_dbm: float | None = None

    def __post_init__(self) -> None:
        for name, (low, high) in _RANGES.items():
            value = getattr(self, name)
            if value is not None and not low <= value <= high:
                raise ValueError(f"{name} {value} outside [{low}, {high}]")


def parse_link_status(text: str, *, source: str) -> LinkStatus:
    """Parse the key=value status; errors name the source and line."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise LinkStatusError(
                f"line {number}: expected key=value, got {line!r}", device="modem", where=source
            )
        values[key.strip()] = value.strip()
    registered_text = values.get("registered", "").lower()
    if registered_text not in _TRUE | _FALSE:
        raise LinkStatusError(
            f"'registered' must be yes/no, got {values.get('registered')!r}",
            device="modem",
            where=source,
        )
    numbers: dict[str, float | None] = {}
    for key in _RANGES:
        text_value = values.get(key, "")
        try:
            numbers[key] = float(text_value) if text_value else None
        except ValueError:
            raise LinkStatusError(
                f"{key} is not a number: {text_value!r}", device="modem", where=source
            ) from None
    try:
        return LinkStatus(
            registered=registered_text in _TRUE,
            rat=values.get("rat") or None,
            rsrp_dbm=numbers["rsrp_dbm"],
            sinr_db=numbers["sinr_db"],
            rssi_dbm=numbers["rssi_dbm"],
        )
    except ValueError as exc:
        raise LinkStatusError(str(exc), device="modem", where=source) from exc


class LinkReader:
    """Reads the modem status from a file path or a callable returning the text."""

    def __init__(self, source: str | Path | Callable[[], str], *, name: str | None = None) -> None:
        if isinstance(source, (str, Path)):
            path = Path(source)
            self._read: Callable[[], str] = lambda: path.read_text(encoding="utf-8")
            self.where: str = name or str(path)
        else:
            self._read = source
            self.where = name or str(getattr(source, "__qualname__", "status callable"))

    def read(self) -> LinkStatus:
        try:
            text = self._read()
        except OSError as exc:
            raise LinkStatusError(
                f"status unavailable: {exc}", device="modem", where=self.where
            ) from exc
        return parse_link_status(text, source=self.where)
