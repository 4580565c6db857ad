"""Datasets in the form a detector reads them: YOLO exports in the detector's own class ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lowlight_det.data.class_map import ClassMap
from lowlight_det.data.detection import DetectionDataset, ImageRecord, export_yolo


def export_for_detector(records: list[ImageRecord], class_map: ClassMap, detector_names: dict[int, str],
                        out_dir: Path, *, image_writer: Any = None) -> Path:
    """Records as a YOLO dataset in *detector* class ids (what Ultralytics' loaders read); returns data.yaml."""
    ds_to_det = {ds: det for det, ds in class_map.det_to_ds.items()}
    names = [detector_names[i] for i in range(len(detector_names))]
    return export_yolo(DetectionDataset(out_dir.name, [], records), out_dir, label_ids=ds_to_det, names=names,
                       image_writer=image_writer)
