"""Labelled detection datasets in one form: records with boxes, per-image attributes and counted issues.

Loaders: :func:`load_yolo` (Ultralytics ``data.yaml``), :func:`load_coco` (COCO json); ExDark lives in
``exdark.py``. Exports: :func:`to_coco` (ground truth for the metric) and :func:`export_yolo`.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from lowlight_det.io import IMAGE_EXTENSIONS, write_json, write_text

logger = logging.getLogger(__name__)


@dataclass
class ImageRecord:
    """One image and its boxes.

    Attributes:
        image_id: unique integer id (COCO ``image_id``).
        path: image file.
        width, height: image size in pixels (as decoded, EXIF orientation applied).
        boxes_xyxy: (N, 4) float32 pixel boxes, clipped to the image.
        labels: (N,) int64 indices into the dataset's ``class_names``.
        attributes: per-image groups for sliced metrics, e.g. ``{"light": "Low", "scene": "indoor"}``.
    """

    image_id: int
    path: Path
    width: int
    height: int
    boxes_xyxy: np.ndarray
    labels: np.ndarray
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class DetectionDataset:
    """Records, class names and every data problem met while loading (counted, never silent)."""

    name: str
    class_names: list[str]
    records: list[ImageRecord]
    issues: Counter[str] = field(default_factory=Counter)
    info: dict[str, Any] = field(default_factory=dict)

    def note(self, kind: str, message: str) -> None:
        """Count a data problem and warn with its file and reason."""
        self.issues[kind] += 1
        logger.warning("%s", message)

    def subset(self, limit: int | None) -> DetectionDataset:
        """The first ``limit`` records (all when None)."""
        if limit is None or limit >= len(self.records):
            return self
        return DetectionDataset(self.name, self.class_names, self.records[:limit], self.issues, self.info)


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) as decoded, EXIF orientation applied.

    Raises:
        ValueError: not a readable image.
    """
    # a grey decode with OpenCV: the same EXIF handling as the detector's decode (PIL's Image.open is
    # patched by Ultralytics to try installing packages on unknown files)
    data = np.fromfile(path, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if img is None:
        raise ValueError("cannot decode image")
    return img.shape[1], img.shape[0]


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clip (N, 4) xyxy boxes to the image."""
    out = boxes.astype(np.float32).copy()
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
    return out


def to_coco(ds: DetectionDataset) -> dict[str, Any]:
    """COCO ground truth: categories are the dataset classes (id = index + 1); attributes kept on images."""
    images, annotations = [], []
    for rec in ds.records:
        images.append({"id": rec.image_id, "file_name": str(rec.path), "width": rec.width, "height": rec.height,
                       **rec.attributes})
        for box, label in zip(rec.boxes_xyxy, rec.labels, strict=True):
            x1, y1, x2, y2 = (float(v) for v in box)
            annotations.append({"id": len(annotations) + 1, "image_id": rec.image_id, "category_id": int(label) + 1,
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    categories = [{"id": i + 1, "name": n} for i, n in enumerate(ds.class_names)]
    return {"info": {"dataset": ds.name}, "images": images, "annotations": annotations, "categories": categories}


def export_yolo(ds: DetectionDataset, out_dir: str | Path, *, label_ids: Mapping[int, int] | None = None,
                names: list[str] | None = None, split: str = "val",
                image_writer: Callable[[ImageRecord, Path], Path] | None = None) -> Path:
    """Write ``images/<split>`` (links or copies), ``labels/<split>`` and ``data.yaml``; returns the yaml path.

    Files are named by ``image_id`` (``000042.jpg``), so Ultralytics reports that id. ``label_ids`` maps
    dataset class index -> written class id (e.g. COCO ids; classes missing from it are not written)
    and ``names`` gives the written names. ``image_writer(record, stem_path)`` may write a processed
    image instead of linking the original (it returns the path written).
    """
    out = Path(out_dir)
    img_dir, lbl_dir = out / "images" / split, out / "labels" / split
    img_dir.mkdir(parents=True, exist_ok=True)
    lbl_dir.mkdir(parents=True, exist_ok=True)
    for rec in ds.records:
        stem = f"{rec.image_id:06d}"
        dst = img_dir / f"{stem}{rec.path.suffix.lower()}"
        if image_writer is not None:
            image_writer(rec, img_dir / stem)
        elif not dst.exists():
            try:
                os.symlink(rec.path.resolve(), dst)
            except OSError:
                dst.write_bytes(rec.path.read_bytes())
        lines = []
        for box, label in zip(rec.boxes_xyxy, rec.labels, strict=True):
            if label_ids is not None and int(label) not in label_ids:
                continue
            cls = label_ids[int(label)] if label_ids is not None else int(label)
            x1, y1, x2, y2 = box
            cx, cy = (x1 + x2) / 2 / rec.width, (y1 + y2) / 2 / rec.height
            lines.append(f"{cls} {cx:.6f} {cy:.6f} {(x2 - x1) / rec.width:.6f} {(y2 - y1) / rec.height:.6f}")
        write_text(lbl_dir / f"{stem}.txt", "\n".join(lines) + ("\n" if lines else ""))
    names = names or ds.class_names
    # Ultralytics requires train and val keys: both point at the exported split unless it is one of them
    data = {"path": str(out.resolve()), "train": f"images/{split}", "val": f"images/{split}", split: f"images/{split}",
            "names": dict(enumerate(names))}
    write_text(out / "data.yaml", yaml.safe_dump(data, sort_keys=False))
    return out / "data.yaml"


def _yolo_split_images(data: Mapping[str, Any], root: Path, split: str, where: Path) -> list[Path]:
    if split not in data:
        raise ValueError(f"{where}: no {split!r} split (has {', '.join(k for k in ('train', 'val', 'test') if k in data)})")
    entries = data[split] if isinstance(data[split], list) else [data[split]]
    files: list[Path] = []
    for entry in entries:
        p = Path(entry)
        p = p if p.is_absolute() else root / p
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS))
        elif p.suffix == ".txt":
            files.extend((Path(line) if Path(line).is_absolute() else root / line)
                         for line in p.read_text().split() if line)
        else:
            raise FileNotFoundError(f"{where}: {split} path {p} does not exist")
    return files


def _label_path(img: Path) -> Path:
    parts = list(img.parts)
    idx = len(parts) - 1 - parts[::-1].index("images") if "images" in parts else None
    if idx is not None:
        parts[idx] = "labels"
    return Path(*parts).with_suffix(".txt")


def load_yolo(data_yaml: str | Path, split: str = "val") -> DetectionDataset:
    """An Ultralytics YOLO-format dataset (``data.yaml`` with ``path``, split folders and ``names``)."""
    data_yaml = Path(data_yaml)
    data = yaml.safe_load(data_yaml.read_text()) or {}
    root = Path(data.get("path") or data_yaml.parent)
    root = root if root.is_absolute() else (data_yaml.parent / root)
    names = data.get("names")
    if isinstance(names, Mapping):
        names = [names[k] for k in sorted(names)]
    if not names:
        raise ValueError(f"{data_yaml}: no 'names' list")
    ds = DetectionDataset(data_yaml.stem, list(names), [], info={"source": str(data_yaml), "split": split})
    for i, img in enumerate(_yolo_split_images(data, root, split, data_yaml)):
        try:
            w, h = image_size(img)
        except (OSError, ValueError) as exc:
            ds.note("unreadable_images", f"{img}: unreadable image, skipped ({exc})")
            continue
        boxes, labels = [], []
        lbl = _label_path(img)
        text = lbl.read_text() if lbl.is_file() else ""
        if not text.strip():
            ds.note("images_without_boxes", f"{lbl}: no labels for {img.name}")
        for n, line in enumerate(text.splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            try:
                cls, cx, cy, bw, bh = int(parts[0]), *map(float, parts[1:5])
            except (ValueError, IndexError):
                ds.note("malformed_lines", f"{lbl}:{n}: malformed label line {line!r}")
                continue
            if not 0 <= cls < len(names):
                ds.note("unknown_classes", f"{lbl}:{n}: class {cls} not in names (0..{len(names) - 1})")
                continue
            box = [(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h]
            boxes.append(box)
            labels.append(cls)
        arr = clip_boxes(np.array(boxes, np.float32).reshape(-1, 4), w, h)
        keep = (arr[:, 2] > arr[:, 0]) & (arr[:, 3] > arr[:, 1])
        for _ in range(int((~keep).sum())):
            ds.note("zero_area_boxes", f"{lbl}: zero-area box dropped")
        ds.records.append(ImageRecord(i + 1, img, w, h, arr[keep], np.array(labels, np.int64)[keep]))
    return ds


def load_coco(annotations: str | Path, images_dir: str | Path | None = None) -> DetectionDataset:
    """A COCO json dataset; ``images_dir`` defaults to the json's folder."""
    annotations = Path(annotations)
    data = json.loads(annotations.read_text())
    cats = sorted(data["categories"], key=lambda c: c["id"])
    cat_index = {c["id"]: i for i, c in enumerate(cats)}
    base = Path(images_dir) if images_dir else annotations.parent
    ds = DetectionDataset(annotations.stem, [c["name"] for c in cats], [], info={"source": str(annotations)})
    by_image: dict[int, list[dict[str, Any]]] = {}
    for ann in data.get("annotations", []):
        by_image.setdefault(ann["image_id"], []).append(ann)
    for im in data["images"]:
        path = Path(im["file_name"])
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            ds.note("missing_images", f"{path}: image listed in {annotations.name} is missing")
            continue
        boxes, labels = [], []
        for ann in by_image.get(im["id"], []):
            if ann.get("iscrowd"):
                continue
            if ann["category_id"] not in cat_index:
                ds.note("unknown_classes", f"{annotations}: annotation {ann.get('id')} has unknown category")
                continue
            x, y, w, h = ann["bbox"]
            boxes.append([x, y, x + w, y + h])
            labels.append(cat_index[ann["category_id"]])
        arr = clip_boxes(np.array(boxes, np.float32).reshape(-1, 4), im["width"], im["height"])
        attrs = {k: str(v) for k, v in im.items() if k in ("light", "scene")}
        ds.records.append(ImageRecord(int(im["id"]), path, int(im["width"]), int(im["height"]), arr,
                                      np.array(labels, np.int64), attrs))
    return ds


def save_coco(ds: DetectionDataset, path: str | Path) -> Path:
    """Write :func:`to_coco` atomically."""
    return write_json(path, to_coco(ds))
