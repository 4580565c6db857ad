"""Load any catalogued or user dataset as a :class:`DetectionDataset`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lowlight_det.data.catalog import load_catalog, resolve_dataset
from lowlight_det.data.detection import DetectionDataset, load_coco, load_yolo
from lowlight_det.data.exdark import load_exdark


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
