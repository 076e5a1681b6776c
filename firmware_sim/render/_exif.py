"""Photo metadata as a drone writes it: EXIF GPS (position, altitude, time) through piexif, and
an XMP packet with DJI's drone-dji attitude tags (GimbalPitchDegree, GimbalYawDegree, ...).
Also reads the pose back from such a JPEG."""

from __future__ import annotations

import io
import math
import re
from datetime import UTC, datetime
from pathlib import Path

import piexif

from inspection.camera import CameraIntrinsics, CameraPose

__all__ = ["MetadataError", "jpeg_with_metadata", "read_pose_from_jpeg"]

XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"


class MetadataError(ValueError):
    """A JPEG without readable pose metadata."""


def _dms(value: float) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    v = abs(value)
    d = int(v)
    m = int((v - d) * 60)
    s = (v - d - m / 60) * 3600
    return (d, 1), (m, 1), (round(s * 10000), 10000)


def _signed(v: float) -> str:
    return f"{v:+.2f}"


def _xmp(pose: CameraPose, k: CameraIntrinsics, abs_alt_m: float) -> bytes:
    yaw = (pose.heading_deg + 180.0) % 360.0 - 180.0  # DJI: -180..180, 0 = north, clockwise
    attrs = {
        "tiff:Make": "Michimori",
        "tiff:Model": "michimori-sim",
        "drone-dji:GpsLatitude": f"{pose.lat_deg:.9f}",
        "drone-dji:GpsLongitude": f"{pose.lon_deg:.9f}",
        # Older DJI firmware spells it this way; some tools only read this spelling.
        "drone-dji:GpsLongtitude": f"{pose.lon_deg:.9f}",
        "drone-dji:AbsoluteAltitude": _signed(abs_alt_m),
        "drone-dji:RelativeAltitude": _signed(pose.alt_m),
        "drone-dji:GimbalRollDegree": _signed(pose.roll_deg),
        "drone-dji:GimbalYawDegree": _signed(yaw),
        "drone-dji:GimbalPitchDegree": _signed(pose.pitch_deg),
        "drone-dji:FlightRollDegree": "+0.00",
        "drone-dji:FlightYawDegree": _signed(yaw),
        "drone-dji:FlightPitchDegree": "+0.00",
        "drone-dji:CalibratedFocalLength": f"{k.fx_px:.4f}",
        "drone-dji:CalibratedOpticalCenterX": f"{k.cx_px:.4f}",
        "drone-dji:CalibratedOpticalCenterY": f"{k.cy_px:.4f}",
    }
    body = "\n   ".join(f'{key}="{value}"' for key, value in attrs.items())
    text = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '   xmlns:tiff="http://ns.adobe.com/tiff/1.0/"\n'
        '   xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"\n'
        f"   {body}/>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    return text.encode("utf-8")


def _insert_xmp(jpeg: bytes, xmp: bytes) -> bytes:
    """Insert an XMP APP1 segment after the leading APPn segments (EXIF stays first)."""
    if jpeg[:2] != b"\xff\xd8":
        raise MetadataError("not a JPEG (no SOI marker)")
    pos = 2
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF and 0xE0 <= jpeg[pos + 1] <= 0xEF:
        pos += 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
    payload = XMP_HEADER + xmp
    if len(payload) + 2 > 0xFFFF:
        raise MetadataError("XMP packet too large for one APP1 segment")
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return jpeg[:pos] + segment + jpeg[pos:]


def jpeg_with_metadata(
    jpeg: bytes,
    pose: CameraPose,
    intrinsics: CameraIntrinsics,
    *,
    home_alt_m: float = 0.0,
    captured_at: datetime | None = None,
) -> bytes:
    """Add EXIF (GPS, time, camera) and DJI-style XMP attitude to encoded JPEG bytes."""
    when = (captured_at or datetime.now(UTC)).strftime("%Y:%m:%d %H:%M:%S")
    abs_alt = home_alt_m + pose.alt_m
    # 35 mm equivalent from the horizontal field of view (36 mm wide film).
    f35 = round(18.0 / math.tan(math.radians(intrinsics.hfov_deg) / 2))
    exif = {
        "0th": {
            piexif.ImageIFD.Make: b"Michimori",
            piexif.ImageIFD.Model: b"michimori-sim",
            piexif.ImageIFD.Software: b"firmware_sim.render",
            piexif.ImageIFD.DateTime: when.encode(),
        },
        "Exif": {
            piexif.ExifIFD.DateTimeOriginal: when.encode(),
            piexif.ExifIFD.FocalLengthIn35mmFilm: int(f35),
            piexif.ExifIFD.PixelXDimension: intrinsics.width_px,
            piexif.ExifIFD.PixelYDimension: intrinsics.height_px,
        },
        "GPS": {
            piexif.GPSIFD.GPSVersionID: (2, 3, 0, 0),
            piexif.GPSIFD.GPSLatitudeRef: b"N" if pose.lat_deg >= 0 else b"S",
            piexif.GPSIFD.GPSLatitude: _dms(pose.lat_deg),
            piexif.GPSIFD.GPSLongitudeRef: b"E" if pose.lon_deg >= 0 else b"W",
            piexif.GPSIFD.GPSLongitude: _dms(pose.lon_deg),
            piexif.GPSIFD.GPSAltitudeRef: 0 if abs_alt >= 0 else 1,
            piexif.GPSIFD.GPSAltitude: (round(abs(abs_alt) * 1000), 1000),
            piexif.GPSIFD.GPSMapDatum: b"WGS-84",
        },
    }
    out = io.BytesIO()
    piexif.insert(piexif.dump(exif), jpeg, out)
    return _insert_xmp(out.getvalue(), _xmp(pose, intrinsics, abs_alt))


_ATTR = re.compile(rb'drone-dji:(\w+)="([^"]*)"')


def read_pose_from_jpeg(path: Path) -> CameraPose:
    """Pose from a drone JPEG: position from XMP (or EXIF GPS), altitude relative to home,
    gimbal yaw/pitch/roll from drone-dji XMP tags."""
    data = path.read_bytes()
    attrs = {k.decode(): v.decode() for k, v in _ATTR.findall(data[:200_000])}
    try:
        lat = float(attrs["GpsLatitude"])
        lon = float(attrs.get("GpsLongitude") or attrs["GpsLongtitude"])
        return CameraPose(
            lat_deg=lat,
            lon_deg=lon,
            alt_m=float(attrs["RelativeAltitude"]),
            heading_deg=float(attrs["GimbalYawDegree"]) % 360.0,
            pitch_deg=float(attrs["GimbalPitchDegree"]),
            roll_deg=float(attrs.get("GimbalRollDegree", "0")),
        )
    except KeyError as exc:
        raise MetadataError(f"{path}: no drone-dji:{exc.args[0]} XMP tag") from exc
    except ValueError as exc:
        raise MetadataError(f"{path}: bad pose metadata: {exc}") from exc
