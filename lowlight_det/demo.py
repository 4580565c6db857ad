"""The built-in offline demo: procedural well-lit scenes with labelled objects, darkened by the synthesis.

Scenes are generated deterministically at run time (cached under ``$LOWLIGHT_DET_CACHE`` or
``~/.cache/lowlight_det``) in YOLO format: a well-lit copy and a dark copy of the same scenes with
the same labels. The demo detector shipped in ``lowlight_det/weights/`` was trained on the well-lit
``train`` scenes by ``benchmarks/train_demo_detector.py``.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import cv2
import numpy as np

from lowlight_det.data.detection import DetectionDataset, load_yolo
from lowlight_det.data.synthesis import darken_array
from lowlight_det.io import write_image, write_text

logger = logging.getLogger(__name__)

CLASSES = ["disc", "checker", "triangle", "ring"]
VERSION = 1
SIZE = 320
SPLITS = {"train": (600, 1000), "val": (100, 2000)}  # images, seed offset
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEMO_IMGSZ = 320


def cache_dir() -> Path:
    """Where generated demo data lives."""
    base = Path(os.environ.get("LOWLIGHT_DET_CACHE") or Path.home() / ".cache" / "lowlight_det")
    return base / f"demo-v{VERSION}-val{SPLITS['val'][0]}"


def _background(rng: np.random.Generator) -> np.ndarray:
    """Cluttered, textured, well-lit background (uint8 BGR)."""
    c0, c1 = rng.uniform(90, 230, 3), rng.uniform(90, 230, 3)
    t = np.linspace(0, 1, SIZE)[None, :, None] if rng.random() < 0.5 else np.linspace(0, 1, SIZE)[:, None, None]
    img = c0 * (1 - t) + c1 * t + np.zeros((SIZE, SIZE, 3))
    blobs = cv2.resize(rng.uniform(-40, 40, (6, 6, 3)), (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
    img = np.clip(img + blobs + rng.normal(0, 6, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)
    for _ in range(rng.integers(8, 20)):  # unlabelled clutter: lines, small blobs, rectangles outlines
        colour = tuple(int(v) for v in rng.uniform(40, 240, 3))
        p1, p2 = tuple(int(v) for v in rng.integers(0, SIZE, 2)), tuple(int(v) for v in rng.integers(0, SIZE, 2))
        kind = rng.integers(3)
        if kind == 0:
            cv2.line(img, p1, p2, colour, int(rng.integers(1, 4)))
        elif kind == 1:
            cv2.ellipse(img, p1, (int(rng.integers(3, 14)), int(rng.integers(3, 8))), float(rng.uniform(0, 180)),
                        0, 360, colour, -1)
        else:
            cv2.rectangle(img, p1, (p1[0] + int(rng.integers(5, 40)), p1[1] + int(rng.integers(5, 40))), colour, 1)
    return img


def _object_mask_and_paint(cls: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(mask (s,s) bool, paint (s,s,3) uint8) of one object with its class's shape and texture."""
    s = size
    mask = np.zeros((s, s), np.uint8)
    base = rng.uniform(30, 255, 3)
    yy, xx = np.mgrid[0:s, 0:s] / max(s - 1, 1)
    if cls == 0:  # disc with radial shading
        cv2.circle(mask, (s // 2, s // 2), s // 2 - 1, 1, -1)
        r = np.sqrt((xx - 0.4) ** 2 + (yy - 0.4) ** 2)
        paint = base * (1.2 - 0.8 * r)[..., None]
    elif cls == 1:  # square with checkerboard texture
        m = max(1, s // 12)
        mask[m:s - m, m:s - m] = 1
        n = int(rng.integers(3, 6))
        check = ((np.floor(xx * n) + np.floor(yy * n)) % 2)[..., None]
        paint = base * (0.45 + 0.55 * check)
    elif cls == 2:  # triangle with stripes
        pts = np.array([[s // 2, 1], [1, s - 2], [s - 2, s - 2]], np.int32)
        cv2.fillPoly(mask, [pts], 1)
        stripes = (np.sin((xx + yy) * np.pi * rng.uniform(4, 8)) > 0)[..., None]
        paint = base * (0.5 + 0.5 * stripes)
    else:  # thick ring
        cv2.circle(mask, (s // 2, s // 2), s // 2 - 1, 1, -1)
        cv2.circle(mask, (s // 2, s // 2), max(1, int(s * 0.25)), 0, -1)
        paint = base * (0.8 + 0.2 * rng.random((s, s, 1)))
    return mask.astype(bool), np.clip(paint, 0, 255).astype(np.uint8)


def make_scene(seed: int, index: int) -> tuple[np.ndarray, list[tuple[int, float, float, float, float]]]:
    """One well-lit scene (uint8 BGR, SIZE x SIZE) and its labels ``(class, x1, y1, x2, y2)``.

    2-8 objects of 4 classes at sizes 20-130 px; later objects occlude earlier ones, and an object
    less than 40% visible is not labelled; boxes are the tight box of the visible pixels.
    """
    rng = np.random.default_rng([seed, index])
    img = _background(rng)
    owner = np.full((SIZE, SIZE), -1, np.int32)
    placed = []
    for k in range(int(rng.integers(2, 9))):
        cls = int(rng.integers(len(CLASSES)))
        size = int(np.exp(rng.uniform(np.log(20), np.log(130))))
        x, y = (int(v) for v in rng.integers(-size // 4, SIZE - 3 * size // 4, 2))
        mask, paint = _object_mask_and_paint(cls, size, rng)
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + size, SIZE), min(y + size, SIZE)
        sub = mask[y0 - y:y1 - y, x0 - x:x1 - x]
        img[y0:y1, x0:x1][sub] = paint[y0 - y:y1 - y, x0 - x:x1 - x][sub]
        owner[y0:y1, x0:x1][sub] = k
        placed.append((k, cls, int(mask.sum())))
    labels = []
    for k, cls, area in placed:
        ys, xs = np.nonzero(owner == k)
        if len(xs) < 0.4 * area or len(xs) < 30:
            continue
        labels.append((cls, float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)))
    return img, labels


def _yolo_line(cls: int, x1: float, y1: float, x2: float, y2: float) -> str:
    return f"{cls} {(x1 + x2) / 2 / SIZE:.6f} {(y1 + y2) / 2 / SIZE:.6f} {(x2 - x1) / SIZE:.6f} {(y2 - y1) / SIZE:.6f}"


def ensure_demo_data(root: Path | None = None, *, splits: tuple[str, ...] = ("val",)) -> Path:
    """Generate (once) the well-lit and dark copies of the demo ``splits``; returns the cache root."""
    root = root or cache_dir()
    for split in splits:
        n, offset = SPLITS[split]
        marker = root / f".{split}.done"
        if marker.is_file():
            continue
        logger.info("generating %d demo scenes (%s) under %s", n, split, root)
        for i in range(n):
            img, labels = make_scene(VERSION * 7919 + offset, i)
            text = "".join(_yolo_line(*lab) + "\n" for lab in labels)
            dark = darken_array(img[..., ::-1], seed=offset, index=i)[..., ::-1]
            for variant, pixels in (("light", img), ("dark", np.ascontiguousarray(dark))):
                write_image(root / variant / "images" / split / f"{i:05d}.png", pixels)
                write_text(root / variant / "labels" / split / f"{i:05d}.txt", text)
        for variant in ("light", "dark"):
            names = "\n".join(f"  {i}: {n}" for i, n in enumerate(CLASSES))
            text = f"path: {(root / variant).resolve()}\n" + "".join(
                f"{s}: images/{s}\n" for s in SPLITS) + f"names:\n{names}\n"
            write_text(root / variant / "data.yaml", text)
        write_text(marker, "ok\n")
    return root


def load_demo(root: Path | None = None) -> tuple[DetectionDataset, DetectionDataset]:
    """(dark, well-lit) validation scenes, same ids and labels."""
    root = ensure_demo_data(root)
    dark = load_yolo(root / "dark" / "data.yaml", "val")
    light = load_yolo(root / "light" / "data.yaml", "val")
    dark.name, light.name = "demo (dark)", "demo (well-lit)"
    dark.info["note"] = "built-in demo: synthetic scenes, synthetic darkening"
    return dark, light


def demo_detector() -> Path:
    """The shipped demo detector (trained on well-lit demo scenes)."""
    files = sorted(WEIGHTS_DIR.glob("demo-yolo-*.pt"))
    if not files:
        raise FileNotFoundError(f"no demo detector under {WEIGHTS_DIR}; run benchmarks/train_demo_detector.py")
    return files[-1]


def demo_metadata() -> dict:
    """Metadata of the demo detector (how it was trained)."""
    path = demo_detector().with_suffix(".json")
    return json.loads(path.read_text()) if path.is_file() else {}
