"""Camera renderer of the synthetic road world: frames as a drone sees them, with YOLO labels
of the visible fixtures and defects, and the pose as sidecar JSON and EXIF GPS / XMP attitude.

Errors: RenderError (a pose that cannot be drawn), MetadataError (unreadable photo metadata);
world problems raise firmware_sim.world.WorldError.
"""

from firmware_sim.render._effects import DEFAULT_CONDITIONS, Conditions, sample_conditions
from firmware_sim.render._exif import MetadataError, jpeg_with_metadata, read_pose_from_jpeg
from firmware_sim.render._frame import FrameRenderer, RenderedFrame, RenderError, write_frame
from firmware_sim.render._labels import YoloLabel
from firmware_sim.render._sampling import sample_pose
from firmware_sim.world import load_world

__all__ = [
    "DEFAULT_CONDITIONS",
    "Conditions",
    "FrameRenderer",
    "MetadataError",
    "RenderError",
    "RenderedFrame",
    "YoloLabel",
    "jpeg_with_metadata",
    "load_world",
    "read_pose_from_jpeg",
    "sample_conditions",
    "sample_pose",
    "write_frame",
]
