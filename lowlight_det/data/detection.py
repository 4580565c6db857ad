"""Labelled detection datasets in one form: records with boxes, per-image attributes and counted issues.

Loaders: :func:`load_yolo` (Ultralytics ``data.yaml``), :func:`load_coco` (COCO json); ExDark lives in
``exdark.py``. Exports: :func:`to_coco` (ground truth for the metric) and :func:`export_yolo`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
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

    def subset(self, limit: int | None, *, sample: str = "first", seed: int = 0) -> DetectionDataset:
        """``limit`` records (all when None): the first ones (``sample="first"``), or a seeded sample stratified by
        each image's main class and, where the dataset has it, its lighting type (``"stratified"``), so a quick
        run sees every kind of image in proportion. Records keep their order and ids."""
        if limit is None or limit >= len(self.records):
            return self
        if sample == "first":
            picked = self.records[:limit]
        elif sample == "stratified":
            keep = set(stratified_indices([_stratum(r) for r in self.records], limit, seed))
            picked = [r for i, r in enumerate(self.records) if i in keep]
        else:
            raise ValueError(f"unknown sample {sample!r}; choose first or stratified")
        return DetectionDataset(self.name, self.class_names, picked, self.issues, self.info)

    def with_ids(self, ids: set[int]) -> DetectionDataset:
        """The records whose ``image_id`` is in ``ids`` (a paired copy, e.g. the demo's well-lit scenes)."""
        return DetectionDataset(self.name, self.class_names, [r for r in self.records if r.image_id in ids],
                                self.issues, self.info)


def _stratum(rec: ImageRecord) -> tuple[int, str]:
    labels = rec.labels.tolist()
    main = max(set(labels), key=labels.count) if labels else -1
    return main, rec.attributes.get("light", "")


def stratified_indices(strata: list[Any], n: int, seed: int) -> list[int]:
    """``n`` indices drawn without replacement, each stratum getting its proportional share (largest remainders
    first), seeded; sorted.

    Example:
        >>> picks = stratified_indices(["a"] * 8 + ["b"] * 2, 5, seed=0)
        >>> sum(i >= 8 for i in picks)  # stratum b: 2 of 10 images -> 1 of 5
        1
    """
    groups: dict[Any, list[int]] = {}
    for i, s in enumerate(strata):
        groups.setdefault(s, []).append(i)
    total = len(strata)
    quotas = {k: n * len(v) / total for k, v in groups.items()}
    counts = {k: int(q) for k, q in quotas.items()}
    by_remainder = sorted(groups, key=lambda k: (-(quotas[k] - counts[k]), str(k)))
    for k in by_remainder[: n - sum(counts.values())]:
        counts[k] += 1
    rng = np.random.default_rng(seed)
    picked: list[int] = []
    for k in sorted(groups, key=str):
        members = groups[k]
        picked += rng.choice(members, size=min(counts[k], len(members)), replace=False).tolist()
    return sorted(picked)


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


MIN_IMAGE_SIDE = 10
"""Ultralytics' loader drops images smaller than this on a side; the loaders skip them (and their boxes) too."""


def usable_image_size(ds: DetectionDataset, path: Path) -> tuple[int, int] | None:
    """(width, height) of an image the detector will see, or None (counted in ``ds.issues``, warned) when it
    cannot be decoded or is too small for Ultralytics, so its boxes never count as missed objects."""
    try:
        width, height = image_size(path)
    except (OSError, ValueError) as exc:
        ds.note("unreadable_images", f"{path}: unreadable image, skipped ({exc})")
        return None
    if min(width, height) < MIN_IMAGE_SIDE:
        ds.note("too_small_images", f"{path}: {width}x{height} pixels, below the detector's minimum of "
                                    f"{MIN_IMAGE_SIDE} px per side; skipped with its boxes")
        return None
    return width, height


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clip (N, 4) xyxy boxes to the image."""
    out = boxes.astype(np.float32).copy()
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
    return out


def valid_boxes(ds: DetectionDataset, boxes: list[list[float]], labels: list[int], width: int, height: int,
                where: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """Boxes clipped to the image, without those of zero area inside it (degenerate or fully outside), each
    dropped box counted as ``zero_area_boxes`` and warned about with ``where``; returns (boxes_xyxy, labels)."""
    raw = np.array(boxes, np.float32).reshape(-1, 4)
    arr = clip_boxes(raw, width, height)
    keep = (arr[:, 2] > arr[:, 0]) & (arr[:, 3] > arr[:, 1])
    for box in raw[~keep]:
        ds.note("zero_area_boxes", f"{where}: box {[round(float(v), 1) for v in box]} has no area inside the "
                                   f"{width}x{height} image; dropped")
    return arr[keep], np.array(labels, np.int64).reshape(-1)[keep]


def to_coco(ds: DetectionDataset) -> dict[str, Any]:
    """COCO ground truth: categories are the dataset classes (id = index + 1); attributes kept on images."""
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for rec in ds.records:
        images.append({"id": rec.image_id, "file_name": str(rec.path), "width": rec.width, "height": rec.height,
                       **rec.attributes})
        for box, label in zip(rec.boxes_xyxy, rec.labels, strict=True):
            x1, y1, x2, y2 = (float(v) for v in box)
            annotations.append({"id": len(annotations) + 1, "image_id": rec.image_id, "category_id": int(label) + 1,
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    categories = [{"id": i + 1, "name": n} for i, n in enumerate(ds.class_names)]
    return {"info": {"dataset": ds.name}, "images": images, "annotations": annotations, "categories": categories}


def yolo_label_text(rec: ImageRecord, label_ids: Mapping[int, int] | None = None) -> str:
    """The record's boxes as a YOLO label file (``class cx cy w h``, normalised); ``label_ids`` maps dataset
    class index -> written id (classes missing from it are left out)."""
    lines = []
    for box, label in zip(rec.boxes_xyxy, rec.labels, strict=True):
        if label_ids is not None and int(label) not in label_ids:
            continue
        cls = label_ids[int(label)] if label_ids is not None else int(label)
        x1, y1, x2, y2 = box
        cx, cy = (x1 + x2) / 2 / rec.width, (y1 + y2) / 2 / rec.height
        lines.append(f"{cls} {cx:.6f} {cy:.6f} {(x2 - x1) / rec.width:.6f} {(y2 - y1) / rec.height:.6f}")
    return "\n".join(lines) + ("\n" if lines else "")


def unique_stems(records: list[ImageRecord]) -> list[str]:
    """One output file stem per record: the image's own stem, or ``<stem>_<image_id>`` where two records
    share a stem (``a/img.jpg`` and ``b/img.jpg``, or ``img.jpg`` and ``img.png``).

    Example:
        >>> recs = [ImageRecord(i, Path(p), 1, 1, np.zeros((0, 4)), np.zeros(0)) for i, p in
        ...         enumerate(["a/img.jpg", "b/img.jpg", "c/x.png"], 1)]
        >>> unique_stems(recs)
        ['img_1', 'img_2', 'x']
    """
    counts = Counter(r.path.stem for r in records)
    return [r.path.stem if counts[r.path.stem] == 1 else f"{r.path.stem}_{r.image_id}" for r in records]


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
    stale = [out / "images", out / "labels"]  # an earlier export (another dataset?) and Ultralytics' label caches
    inside = [r.path for r in ds.records if any(r.path.resolve().is_relative_to(d.resolve()) for d in stale)]
    if inside:
        raise ValueError(f"cannot export into {out}: it holds the dataset's own images ({inside[0]}); choose an "
                         "empty output folder")
    for folder in stale:  # must never be read as this export
        shutil.rmtree(folder, ignore_errors=True)
    img_dir.mkdir(parents=True, exist_ok=True)
    lbl_dir.mkdir(parents=True, exist_ok=True)
    for rec in ds.records:
        stem = f"{rec.image_id:06d}"
        dst = img_dir / f"{stem}{rec.path.suffix.lower()}"
        if image_writer is not None:
            image_writer(rec, img_dir / stem)
        else:
            try:
                os.symlink(rec.path.resolve(), dst)
            except OSError:
                shutil.copyfile(rec.path, dst)
        write_text(lbl_dir / f"{stem}.txt", yolo_label_text(rec, label_ids))
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


def label_path(img: Path) -> Path:
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
        size = usable_image_size(ds, img)
        if size is None:
            continue
        w, h = size
        boxes, labels = [], []
        lbl = label_path(img)
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
        arr, kept = valid_boxes(ds, boxes, labels, w, h, lbl)
        ds.records.append(ImageRecord(i + 1, img, w, h, arr, kept))
    return ds


def load_coco(annotations: str | Path, images_dir: str | Path | None = None) -> DetectionDataset:
    """A COCO json dataset; ``images_dir`` defaults to the json's folder.

    Image sizes come from the files themselves (a ``width``/``height`` in the json that disagrees is counted
    as ``size_mismatch`` and warned about); boxes are clipped, and boxes with no area inside the image are
    dropped and counted, as are unreadable or too small images.

    Raises:
        ValueError: the json is not valid or lacks ``images`` / ``categories``; an entry lacks its fields.
    """
    annotations = Path(annotations)
    try:
        data = json.loads(annotations.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{annotations}: not a valid COCO json ({exc})") from None
    missing = [k for k in ("images", "categories") if not isinstance(data, dict) or not isinstance(data.get(k), list)]
    if missing:
        raise ValueError(f"{annotations}: not a COCO detection json: no {' or '.join(repr(k) for k in missing)} list")
    try:
        cats = sorted(data["categories"], key=lambda c: c["id"])
        names = [str(c["name"]) for c in cats]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{annotations}: every category needs an 'id' and a 'name' ({exc!r} missing)") from None
    cat_index = {c["id"]: i for i, c in enumerate(cats)}
    base = Path(images_dir) if images_dir else annotations.parent
    ds = DetectionDataset(annotations.stem, names, [], info={"source": str(annotations)})
    by_image: dict[Any, list[dict[str, Any]]] = {}
    for ann in data.get("annotations") or []:
        by_image.setdefault(ann.get("image_id"), []).append(ann)
    seen: set[int] = set()
    for n, im in enumerate(data["images"]):
        if not isinstance(im, dict) or "id" not in im or "file_name" not in im:
            raise ValueError(f"{annotations}: images[{n}] needs an 'id' and a 'file_name'")
        if im["id"] in seen:
            ds.note("duplicate_images", f"{annotations}: image id {im['id']} listed twice; the first entry is used")
            continue
        seen.add(im["id"])
        path = Path(im["file_name"])
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            ds.note("missing_images", f"{path}: image listed in {annotations.name} is missing")
            continue
        size = usable_image_size(ds, path)
        if size is None:
            continue
        width, height = size
        if (im.get("width"), im.get("height")) not in ((None, None), (width, height)):
            ds.note("size_mismatch", f"{annotations}: image {im['id']} ({path.name}) is {width}x{height} on disk but "
                                     f"{im.get('width')}x{im.get('height')} in the json; the file's size is used")
        boxes, labels = [], []
        for ann in by_image.get(im["id"], []):
            if ann.get("iscrowd"):
                continue
            if ann.get("category_id") not in cat_index:
                ds.note("unknown_classes", f"{annotations}: annotation {ann.get('id')} has unknown category "
                                           f"{ann.get('category_id')!r}")
                continue
            try:
                x, y, w, h = (float(v) for v in ann["bbox"])
            except (KeyError, TypeError, ValueError):
                ds.note("malformed_lines", f"{annotations}: annotation {ann.get('id')} has no valid bbox [x, y, w, h]")
                continue
            boxes.append([x, y, x + w, y + h])
            labels.append(cat_index[ann["category_id"]])
        arr, kept = valid_boxes(ds, boxes, labels, width, height, f"{annotations} (image {im['id']})")
        attrs = {k: str(v) for k, v in im.items() if k in ("light", "scene")}
        ds.records.append(ImageRecord(int(im["id"]), path, width, height, arr, kept, attrs))
    return ds


def save_coco(ds: DetectionDataset, path: str | Path) -> Path:
    """Write :func:`to_coco` atomically."""
    return write_json(path, to_coco(ds))
