"""Video files: probe (PyAV), normalise (ffmpeg), decode (decord) and write (ffmpeg).

`write_video` is the one place the project writes video files.
"""

from lamp_core.video.decode import read_video
from lamp_core.video.encode import (
    WRITABLE_EXTENSIONS,
    NormaliseResult,
    NormaliseSpec,
    Segment,
    normalise_video,
    plan_segments,
    write_video,
)
from lamp_core.video.probe import (
    VIDEO_EXTENSIONS,
    VideoInfo,
    count_frames,
    ffmpeg_exe,
    ffmpeg_version,
    is_video_name,
    probe_video,
    seconds_to_frames,
)

__all__ = [
    "VIDEO_EXTENSIONS",
    "WRITABLE_EXTENSIONS",
    "NormaliseResult",
    "NormaliseSpec",
    "Segment",
    "VideoInfo",
    "count_frames",
    "ffmpeg_exe",
    "ffmpeg_version",
    "is_video_name",
    "normalise_video",
    "plan_segments",
    "probe_video",
    "read_video",
    "seconds_to_frames",
    "write_video",
]
