"""lowlight_det: learned low-light enhancement in front of object detectors."""

from __future__ import annotations

from lowlight_det.enhancers import create_enhancer, list_enhancers

__version__ = "0.1.0"

__all__ = ["__version__", "create_enhancer", "list_enhancers"]
