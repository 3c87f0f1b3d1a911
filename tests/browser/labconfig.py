"""Settings of the browser test, from environment variables (defaults in brackets).

SCRATCHLIB_NOTEBOOKS         the notebook folder to test [notebooks/]
SCRATCHLIB_SCREENSHOTS       where the screenshots go [build/screenshots/]
SCRATCHLIB_CHROMIUM          the browser executable [chromium, chromium-browser or
                             google-chrome on PATH]
SCRATCHLIB_BROWSER_REQUIRED  1: fail instead of skipping when no Chromium is found
                             (make test-browser and CI set it) [unset]
SCRATCHLIB_BROWSER_TIMEOUT   seconds one notebook may take to run [900]
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = Path(os.environ.get("SCRATCHLIB_NOTEBOOKS", ROOT / "notebooks")).resolve()
SCREENSHOT_DIR = Path(os.environ.get("SCRATCHLIB_SCREENSHOTS", ROOT / "build" / "screenshots")).resolve()
RUN_TIMEOUT_S = float(os.environ.get("SCRATCHLIB_BROWSER_TIMEOUT", 900))
REQUIRED = os.environ.get("SCRATCHLIB_BROWSER_REQUIRED") == "1"
VIEWPORT = {"width": 1280, "height": 800}


def find_chromium() -> str | None:
    given = os.environ.get("SCRATCHLIB_CHROMIUM")
    if given:
        return shutil.which(given)
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if found := shutil.which(name):
            return found
    return None
