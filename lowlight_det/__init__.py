"""lowlight_det: learned low-light enhancement in front of object detectors."""

from __future__ import annotations

from lowlight_det.enhancers import create_enhancer, list_enhancers
from lowlight_det.runinfo import package_version

__version__ = package_version()

__all__ = ["__version__", "create_enhancer", "list_enhancers"]
