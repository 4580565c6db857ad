"""ExDark in its native layout (Loh & Chan, CVIU 2019).

``ExDark/<Class>/<image>``, ``ExDark_Annno/<Class>/<image name incl. extension>.txt`` in
``% bbGt version=3`` format (``Class l t w h`` + 7 unused fields per object) and
``Groundtruth/imageclasslist.txt`` (``Name | Class | Light | In/Out | Train/Val/Test``).
File names are matched case-insensitively (``x.JPG`` with ``x.jpg.txt``).
"""

from __future__ import annotations

from pathlib import Path

from lowlight_det.data.detection import DetectionDataset, ImageRecord, usable_image_size, valid_boxes

CLASSES = ["Bicycle", "Boat", "Bottle", "Bus", "Car", "Cat", "Chair", "Cup", "Dog", "Motorbike", "People", "Table"]
LIGHTING = ["Low", "Ambient", "Object", "Single", "Weak", "Strong", "Screen", "Window", "Shadow", "Twilight"]
SCENES = {1: "indoor", 2: "outdoor"}
SPLITS = {"train": 1, "val": 2, "test": 3}


def index_files(folder: Path) -> dict[str, Path]:
    """Files under ``folder`` by lower-case relative path ``class/name``."""
    if not folder.is_dir():
        return {}
    return {f"{f.parent.name}/{f.name}".lower(): f for f in folder.rglob("*") if f.is_file()}


def load_exdark(root: str | Path, split: str | None = "test") -> DetectionDataset:
    """Load ExDark's official ``split`` (train/val/test, or None for every listed image).

    Problems are counted in ``issues`` and warned about with their file: list rows whose image is
    absent (a partial download), unreadable images, missing or empty annotation files, malformed
    lines, unknown class names, zero-area boxes. Boxes are clipped to the image.

    Raises:
        FileNotFoundError: ``root`` lacks ``Groundtruth/imageclasslist.txt``.
        ValueError: unknown split.
    """
    root = Path(root)
    listing = root / "Groundtruth" / "imageclasslist.txt"
    if not listing.is_file():
        raise FileNotFoundError(f"{listing} not found: {root} is not an ExDark folder (ExDark/, ExDark_Annno/, "
                                "Groundtruth/imageclasslist.txt)")
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown ExDark split {split!r}; choose from {', '.join(SPLITS)}")
    ds = DetectionDataset("exdark", list(CLASSES), [], info={"root": str(root), "split": split})
    images, annos = index_files(root / "ExDark"), index_files(root / "ExDark_Annno")
    class_index = {c.lower(): i for i, c in enumerate(CLASSES)}
    listed: dict[str, int] = {}
    for n, line in enumerate(listing.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        parts = line.split()
        if not parts or "|" in line:
            continue
        try:
            name, cls, light, scene, row_split = parts[0], *map(int, parts[1:5])
        except ValueError:
            ds.note("malformed_list_rows", f"{listing}:{n}: malformed row {line.strip()!r}")
            continue
        if split is not None and row_split != SPLITS[split]:
            continue
        if not 1 <= cls <= len(CLASSES):
            ds.note("malformed_list_rows", f"{listing}:{n}: class {cls} out of range")
            continue
        key = f"{CLASSES[cls - 1]}/{name}".lower()
        if key in listed:
            ds.note("duplicate_list_rows", f"{listing}:{n}: {name} is already listed on line {listed[key]}; "
                                           "evaluated once")
            continue
        listed[key] = n
        img = images.get(key)
        if img is None:
            ds.issues["missing_images"] += 1  # a partial download: counted, summarised by the caller
            continue
        size = usable_image_size(ds, img)
        if size is None:
            continue
        width, height = size
        boxes, labels = _read_annotation(ds, annos.get(f"{key}.txt"), img, class_index)
        arr, kept = valid_boxes(ds, boxes, labels, width, height, img)
        attrs = {}  # an out-of-range code joins no slice (counted), never a made-up group
        if 1 <= light <= len(LIGHTING):
            attrs["light"] = LIGHTING[light - 1]
        else:
            ds.note("malformed_list_rows", f"{listing}:{n}: lighting code {light} is not 1..{len(LIGHTING)}; "
                                           f"{name} is left out of the per-lighting slices")
        if scene in SCENES:
            attrs["scene"] = SCENES[scene]
        else:
            ds.note("malformed_list_rows", f"{listing}:{n}: indoor/outdoor code {scene} is not 1 or 2; "
                                           f"{name} is left out of the indoor/outdoor slices")
        ds.records.append(ImageRecord(len(ds.records) + 1, img, width, height, arr, kept, attrs))
    if ds.issues["missing_images"]:
        ds.info["missing_images_note"] = (f"{ds.issues['missing_images']} listed images of split {split} are not on "
                                          f"disk under {root / 'ExDark'} (partial download?)")
    return ds


def _read_annotation(ds: DetectionDataset, path: Path | None, img: Path,
                     class_index: dict[str, int]) -> tuple[list[list[float]], list[int]]:
    if path is None:
        ds.note("missing_annotations", f"{img}: no annotation file under ExDark_Annno/{img.parent.name}/")
        return [], []
    boxes, labels = [], []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    body = [(n, ln) for n, ln in enumerate(lines, 1) if ln.strip() and not ln.lstrip().startswith("%")]
    if not body:
        ds.note("empty_annotations", f"{path}: no boxes")
    for n, line in body:
        parts = line.split()
        try:
            name, left, top, w, h = parts[0], *map(float, parts[1:5])
        except (ValueError, IndexError):
            ds.note("malformed_lines", f"{path}:{n}: malformed line {line.strip()!r}")
            continue
        if name.lower() not in class_index:
            ds.note("unknown_classes", f"{path}:{n}: unknown class {name!r}")
            continue
        boxes.append([left, top, left + w, top + h])
        labels.append(class_index[name.lower()])
    return boxes, labels
