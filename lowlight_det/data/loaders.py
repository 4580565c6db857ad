"""Load any catalogued or user dataset as a :class:`DetectionDataset`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lowlight_det.data.catalog import load_catalog, resolve_dataset
from lowlight_det.data.detection import DetectionDataset, ImageRecord, load_coco, load_yolo
from lowlight_det.data.exdark import load_exdark
from lowlight_det.io import IMAGE_EXTENSIONS, ImageReadError, find_files, read_image


def exdark_root(root: Path) -> Path:
    """The folder holding ``Groundtruth/imageclasslist.txt``: ``root`` itself, or its parent when the authors'
    folders (``ExDark/``, ``ExDark_Annno/``, ``Groundtruth/``) were unpacked side by side one level up."""
    if not (root / "Groundtruth").is_dir() and (root.parent / "Groundtruth" / "imageclasslist.txt").is_file() \
            and root.name == "ExDark":
        return root.parent
    return root


def load_detection_dataset(name: str, *, split: str | None = None, data_root: str | Path | None = None,
                           catalog: dict[str, Any] | None = None) -> tuple[DetectionDataset, dict[str, Any]]:
    """(dataset, its catalogue entry info incl. ``class_maps``) for a catalogue key, a ``data.yaml``,
    a COCO ``.json`` or an ExDark folder.

    Raises:
        FileNotFoundError / ValueError: with where it looked and how to get the data.
    """
    path = Path(name)
    if path.suffix == ".json" and path.is_file():
        return load_coco(path), {}
    catalog = catalog or load_catalog()
    entry = resolve_dataset(name, data_root=data_root, catalog=catalog)
    info = dict(entry.info)
    if not info and (entry.root / "Groundtruth").is_dir():  # an ExDark folder given by path
        info = next((dict(v) for v in catalog["datasets"].values() if v.get("kind") == "exdark"), {})
    split = split or info.get("default_split")
    if entry.kind == "exdark" or (entry.root.is_dir() and (entry.root / "Groundtruth").is_dir()):
        return load_exdark(exdark_root(entry.root), split), info
    if entry.kind in ("yolo", "yaml"):
        yaml_path = entry.root if entry.root.is_file() else entry.root / info.get("yaml", "data.yaml")
        return load_yolo(yaml_path, split or "val"), info
    if entry.kind == "coco":
        return load_coco(entry.root / info["annotations"], entry.root / info.get("images", "")), info
    raise ValueError(f"dataset {name!r} (kind {entry.kind!r}) is not a labelled detection dataset")


def load_unlabelled(name: str, *, data_root: str | Path | None = None) -> tuple[DetectionDataset, dict[str, Any]]:
    """Images without labels (a folder, or a catalogue entry of kind ``images`` such as ``sice_part1``) as a
    detection dataset with no boxes: footage for label-free (teacher) tuning. Unreadable files are counted.

    Raises:
        FileNotFoundError: no images there.
    """
    entry = resolve_dataset(name, data_root=data_root)
    files = find_files([entry.root], IMAGE_EXTENSIONS)
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) under {entry.root}")
    ds = DetectionDataset(entry.name, [], [])
    for i, path in enumerate(files):
        try:
            rgb = read_image(path).rgb
        except ImageReadError as exc:
            ds.note("unreadable_images", f"{path}: skipped ({exc})")
            continue
        ds.records.append(ImageRecord(i, path, rgb.shape[1], rgb.shape[0], np.zeros((0, 4), np.float32),
                                      np.zeros(0, np.int64)))
    return ds, dict(entry.info)
