"""Flight modes, severities and command outcomes shared by the simulated vehicle's modules."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "ARMABLE_MODES",
    "OK",
    "POSITION_MODES",
    "SEV_CRITICAL",
    "SEV_INFO",
    "SEV_WARNING",
    "Mode",
    "Outcome",
]


class Mode(enum.IntEnum):
    """ArduCopter flight modes (HEARTBEAT custom_mode numbers) that the simulator implements."""

    STABILIZE = 0
    ALT_HOLD = 2
    AUTO = 3
    GUIDED = 4
    LOITER = 5
    RTL = 6
    LAND = 9
    BRAKE = 17


POSITION_MODES = frozenset({Mode.AUTO, Mode.GUIDED, Mode.LOITER, Mode.RTL, Mode.BRAKE})
ARMABLE_MODES = frozenset({Mode.STABILIZE, Mode.ALT_HOLD, Mode.GUIDED, Mode.LOITER})

# MAV_SEVERITY values used for STATUSTEXT.
SEV_CRITICAL = 2
SEV_WARNING = 4
SEV_INFO = 6


@dataclass(frozen=True, slots=True)
class Outcome:
    """Result of a command: accepted, or refused with the reason sent as STATUSTEXT."""

    accepted: bool
    reason: str = ""


OK = Outcome(True)
