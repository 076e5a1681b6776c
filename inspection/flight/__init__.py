"""Flying an inspection plan: a dronekit vehicle link behind one seam (`VehicleLink`), the
flight procedure with a timeout on every wait, and the flight folder later steps read.

    summary = fly(FlightOptions(plan_path=..., connection="udp:127.0.0.1:14550", out_dir=...))

Importing this package does not import dronekit; `fly` does, when it connects.
"""

# Exports load on first use (PEP 562) so that the CLI module in this package, which argparse
# imports for --help, does not pull in numpy.
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._exceptions import FlightError, FlightTimeout, LinkLost, VehicleRejected
    from ._fly import fly
    from ._folder import POSE_COLUMNS, FlightFolder
    from ._link import VehicleLink, VehicleSnapshot
    from ._options import FlightOptions, FlightTimeouts
    from ._progress import NullProgress, Progress, TerminalProgress
    from ._records import PhotoRecord, find_photo_files, match_to_plan, record_from_feedback
    from ._upload import MissionUpload, Outgoing

_EXPORTS = {
    "FlightError": "._exceptions",
    "FlightFolder": "._folder",
    "FlightOptions": "._options",
    "FlightTimeout": "._exceptions",
    "FlightTimeouts": "._options",
    "LinkLost": "._exceptions",
    "MissionUpload": "._upload",
    "NullProgress": "._progress",
    "Outgoing": "._upload",
    "POSE_COLUMNS": "._folder",
    "PhotoRecord": "._records",
    "Progress": "._progress",
    "TerminalProgress": "._progress",
    "VehicleLink": "._link",
    "VehicleRejected": "._exceptions",
    "VehicleSnapshot": "._link",
    "find_photo_files": "._records",
    "fly": "._fly",
    "match_to_plan": "._records",
    "record_from_feedback": "._records",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "POSE_COLUMNS",
    "FlightError",
    "FlightFolder",
    "FlightOptions",
    "FlightTimeout",
    "FlightTimeouts",
    "LinkLost",
    "MissionUpload",
    "NullProgress",
    "Outgoing",
    "PhotoRecord",
    "Progress",
    "TerminalProgress",
    "VehicleLink",
    "VehicleRejected",
    "VehicleSnapshot",
    "find_photo_files",
    "fly",
    "match_to_plan",
    "record_from_feedback",
]
