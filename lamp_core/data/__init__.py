"""A motion's data: built-in examples, ingest of raw videos, the manifest, captions and the frame cache."""

from lamp_core.data.captions import CAPTION_SOURCES, CaptionSpec, read_sidecar_captions
from lamp_core.data.examples import ExampleSpec, render_examples
from lamp_core.data.frame_cache import (
    CAPTIONS_FILE,
    CLIPS_FILE,
    INDEX_FILE,
    FrameCache,
    build_frame_cache,
    clip_key,
    load_frame_cache,
)
from lamp_core.data.ingest import (
    IngestReport,
    IngestSettings,
    ManifestRow,
    ingest_motion,
    list_sources,
    read_manifest,
    write_manifest,
)

__all__ = [
    "CAPTIONS_FILE",
    "CAPTION_SOURCES",
    "CLIPS_FILE",
    "INDEX_FILE",
    "CaptionSpec",
    "ExampleSpec",
    "FrameCache",
    "IngestReport",
    "IngestSettings",
    "ManifestRow",
    "build_frame_cache",
    "clip_key",
    "ingest_motion",
    "list_sources",
    "load_frame_cache",
    "read_manifest",
    "read_sidecar_captions",
    "render_examples",
    "write_manifest",
]
