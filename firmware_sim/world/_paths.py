"""Where the shipped corridor lives (kept import-cheap for the CLI)."""

from pathlib import Path

DEFAULT_CORRIDOR = Path(__file__).resolve().parent / "data" / "utsunomiya_corridor.geojson"
