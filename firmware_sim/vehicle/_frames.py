"""Camera "SD card" of the simulated vehicle: renders a frame of the synthetic world for every
photo and writes it as IMG_0001.jpg (+ sidecars) in a worker thread, so that rendering never
stalls the MAVLink loop. The renderer and world are imported lazily (they pull numpy/OpenCV).
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from firmware_sim.vehicle._errors import VehicleConfigError, VehicleServerError
from firmware_sim.vehicle._events import PhotoTaken

__all__ = ["FrameWriter", "load_world_file"]

logger = logging.getLogger(__name__)


def load_world_file(world_path: Path) -> Any:
    """Load a world GeoJSON with the world package, translating its errors to ours."""
    try:
        from firmware_sim.world import WorldError, load_world
    except ImportError as exc:
        raise VehicleServerError(f"--world needs the firmware_sim.world package: {exc}") from exc
    try:
        return load_world(world_path)
    except (OSError, WorldError) as exc:
        raise VehicleConfigError("--world", f"cannot load {world_path}: {exc}") from exc


class FrameWriter:
    """Renders and saves one frame per photo on a worker thread; `close()` finishes the queue."""

    def __init__(self, world: Any, frames_dir: Path, *, seed: int = 0) -> None:
        try:
            from firmware_sim.render import FrameRenderer, RenderError, write_frame
            from inspection.camera import DEFAULT_INTRINSICS
        except ImportError as exc:
            raise VehicleServerError(
                f"--frames-out needs the renderer (firmware_sim.render): {exc}"
            ) from exc
        try:
            frames_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise VehicleServerError(f"cannot create frames folder {frames_dir}: {exc}") from exc
        self._renderer = FrameRenderer(world, DEFAULT_INTRINSICS, seed=seed)
        self._write_frame = write_frame
        self._render_error: type[Exception] = RenderError
        self.frames_dir = frames_dir
        self.written = 0
        self.failed = 0
        self._queue: queue.Queue[PhotoTaken | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="vehicle-frames", daemon=True)
        self._thread.start()

    def submit(self, photo: PhotoTaken) -> None:
        self._queue.put(photo)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        """Render every queued photo, then stop the worker."""
        self._queue.put(None)
        self._thread.join()

    def _work(self) -> None:
        while (photo := self._queue.get()) is not None:
            name = f"IMG_{photo.index:04d}"
            try:
                frame = self._renderer.render(photo.to_camera_pose())
                self._write_frame(
                    frame,
                    self.frames_dir,
                    name,
                    captured_at=datetime.fromtimestamp(photo.time_unix_s, tz=UTC),
                    home_alt_m=photo.alt_msl_m - photo.alt_rel_m,
                )
            except self._render_error as exc:
                # A pose the renderer cannot draw (e.g. a photo taken on the ground).
                logger.warning("no frame for photo %s: %s", name, exc)
                self.failed += 1
            except Exception:
                # One bad frame must not end the flight: log it with its traceback, count it,
                # and report the count when the server closes.
                logger.exception("could not render or save photo %s in %s", name, self.frames_dir)
                self.failed += 1
            else:
                self.written += 1
