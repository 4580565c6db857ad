"""Detectors (Ultralytics YOLO) with an enhancer in front."""
