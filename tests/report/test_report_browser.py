"""reports/index.html in a real headless browser (Debian's chromium): it renders, and its videos load.

Needs /usr/bin/chromium, which `make test` installs; without it the test fails, it never skips.
"""

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from lamp_core.report import load_motion_samples

CHROMIUM = "/usr/bin/chromium"
WINDOW = (1280, 2400)
VIDEO_CSS_PX = 160  # img.video width in the page's stylesheet


def _chromium() -> str:
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    pytest.fail(f"{CHROMIUM} is not installed: `make test` installs it (apt-get install -y chromium)")


def screenshot(page: Path, out: Path, profile: Path) -> np.ndarray:
    """Open `page` in headless chromium and return its screenshot as RGB uint8 (H, W, 3)."""
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        f"--screenshot={out}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        page.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and out.is_file(), f"chromium failed: {done.stderr[-2000:]}"
    with Image.open(out) as image:
        return np.asarray(image.convert("RGB"))


def test_the_page_shows_the_generated_videos_at_their_size(project, tmp_path):
    shot = screenshot(project / "reports" / "index.html", tmp_path / "index.png", tmp_path / "profile")
    assert shot.shape[:2] == (WINDOW[1], WINDOW[0])
    assert len(np.unique(shot.reshape(-1, 3), axis=0)) > 500  # text, tables and images, not a blank page
    # The untuned videos of these samples are still: their GIF shows the first frame whenever the shot is
    # taken. Each must appear in the page, scaled up without smoothing to the stylesheet's width.
    untuned = load_motion_samples(project / "data" / "samples" / "slide_right")["untuned"]
    gray_shot = cv2.cvtColor(shot, cv2.COLOR_RGB2GRAY)
    for video in untuned.videos:
        first = video.frames[0]
        scale = VIDEO_CSS_PX // first.shape[1]
        template = cv2.resize(first, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        match = cv2.matchTemplate(gray_shot, cv2.cvtColor(template, cv2.COLOR_RGB2GRAY), cv2.TM_CCOEFF_NORMED)
        assert match.max() > 0.9, f"{video.video_id}: its video is not shown on the page"
