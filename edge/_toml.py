"""Typed reading of one TOML table for edge.toml: getters that consume keys, errors that say where.

Every error names the file, the ``[section] key`` and the value that was expected.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Final

from .errors import ConfigError

__all__ = ["MISSING", "Table"]

MISSING: Final = object()


class Table:
    """A TOML table being read: typed getters consume keys, then ``done()`` rejects the rest."""

    def __init__(self, raw: dict[str, Any], name: str, source: Path | None, base: Path) -> None:
        self.raw = dict(raw)
        self.name = name
        self.source = source
        self.base = base

    def error(self, key: str, message: str) -> ConfigError:
        where = f"[{self.name}] {key}".strip() if self.name else key
        return ConfigError(message, source=self.source, key=where or None)

    def _take(self, key: str, default: Any) -> Any:
        if key in self.raw:
            return self.raw.pop(key)
        if default is MISSING:
            raise self.error(key, "missing (required)")
        return default

    def table(self, key: str, *, required: bool = False) -> Table:
        name = f"{self.name}.{key}" if self.name else key
        if required and key not in self.raw:
            raise ConfigError(f"missing the [{name}] section (required)", source=self.source)
        value = self._take(key, {})
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table [{name}], got {type(value).__name__}")
        return Table(value, name, self.source, self.base)

    def string(
        self,
        key: str,
        default: Any = MISSING,
        *,
        pattern: re.Pattern[str] | None = None,
        expect: str = "",
    ) -> str:
        value = self._take(key, default)
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {value!r}")
        if pattern is not None and value and not pattern.fullmatch(value):
            raise self.error(key, f"expected {expect or pattern.pattern}, got {value!r}")
        if pattern is not None and not value and default is MISSING:
            raise self.error(key, f"expected {expect}, got an empty string")
        return value

    def choice(self, key: str, options: tuple[str, ...], default: str) -> str:
        value = self._take(key, default)
        if value not in options:
            raise self.error(key, f"expected one of {', '.join(map(repr, options))}, got {value!r}")
        return str(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self._take(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value

    def integer(
        self, key: str, default: Any = MISSING, *, lo: int | None = None, hi: int | None = None
    ) -> int:
        value = self._take(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer{_range(lo, hi)}, got {value!r}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise self.error(key, f"expected an integer{_range(lo, hi)}, got {value}")
        return value

    def number(
        self,
        key: str,
        default: Any = MISSING,
        *,
        lo: float | None = None,
        hi: float | None = None,
    ) -> float:
        value = self.optional_number(key, default, lo=lo, hi=hi)
        if value is None:
            raise self.error(key, f"expected a number{_range(lo, hi)}")
        return value

    def optional_number(
        self, key: str, default: Any = None, *, lo: float | None = None, hi: float | None = None
    ) -> float | None:
        value = self._take(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"expected a number{_range(lo, hi)}, got {value!r}")
        value = float(value)
        if (
            not math.isfinite(value)
            or (lo is not None and value < lo)
            or (hi is not None and value > hi)
        ):
            raise self.error(key, f"expected a number{_range(lo, hi)}, got {value}")
        return value

    def optional_path(self, key: str) -> Path | None:
        """A file path, relative to the config file's folder; missing or "" is None."""
        value = self._take(key, "")
        if not isinstance(value, str):
            raise self.error(key, f"expected a file path, got {value!r}")
        if not value:
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base / p

    def done(self) -> None:
        if self.raw:
            keys = ", ".join(sorted(self.raw))
            raise self.error(keys, "unknown key(s); check the spelling against docs/edge-agent.md")


def _range(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f" from {lo:g} to {hi:g}"
    if lo is not None:
        return f" >= {lo:g}"
    if hi is not None:
        return f" <= {hi:g}"
    return ""
