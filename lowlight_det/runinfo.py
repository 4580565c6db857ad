"""What a result needs to be reproduced: package versions and the source commit (no torch-side state)."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent


def package_version() -> str:
    """lowlight_det's version from the installed package metadata ("unknown" when run from a bare source tree).

    Read from metadata, not ``lowlight_det.__version__``: run from the folder above a clone, ``lowlight_det``
    can resolve to a namespace package that has no attributes.
    """
    try:
        return metadata.version("lowlight_det")
    except metadata.PackageNotFoundError:
        return "unknown"


def git_commit() -> str | None:
    """The commit of the lowlight_det source tree, if it is a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PACKAGE_DIR, capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def versions() -> dict[str, Any]:
    """Versions that matter for reproducing a result."""
    info: dict[str, Any] = {"lowlight_det": package_version(), "python": platform.python_version()}
    for package in ("torch", "torchvision", "ultralytics", "opencv-python", "opencv-python-headless", "pycocotools"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return info
