"""Detectors (Ultralytics YOLO) with an enhancer in front.

Every contact with Ultralytics is in :mod:`lowlight_det.detection.ultralytics`, except what must happen before
Ultralytics is imported, which is here (importing this package does not import Ultralytics).
"""

from __future__ import annotations

import os


def run_ultralytics_single_process() -> dict[str, str]:
    """Make Ultralytics treat this process (or one it starts) as a single-process run, inside lowlight_det's own DDP.

    Ultralytics reads ``RANK`` / ``LOCAL_RANK`` when it is imported and then assumes its own CUDA DDP trainer (its
    validator asks for the current CUDA device); call this after joining the process group and before
    Ultralytics is imported. Returns the variables it removed (to put back with ``os.environ.update``).
    """
    return {k: os.environ.pop(k) for k in ("RANK", "LOCAL_RANK") if k in os.environ}
