"""One gallery per evaluation: the images where the rows differ most, every row side by side.

Columns: the input, then each row's enhanced image with its ground truth (cyan, thin) and its detections
(score ≥ 0.25, green, with class and score) drawn at a size that stays readable; each picked image is a line,
labelled with its id and how many objects each row found. Images are picked by the per-image change in found
objects against ``none`` (a box is found when a detection of its class with score ≥ 0.25 overlaps it at IoU ≥ 0.5):
half the lines where some row gains most, half where some row loses most.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from lowlight_det.data.detection import ImageRecord
from lowlight_det.io import read_bgr8, write_image

MIN_SCORE = 0.25
CELL = (360, 270)  # width, height of every picture in the grid
HEADER = 34
GT_COLOUR, DET_COLOUR, INK, PAPER = (255, 220, 0), (40, 210, 40), (235, 235, 235), (40, 40, 40)  # BGR


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of (N,4) and (M,4) xyxy boxes."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)


def found_objects(rec: ImageRecord, predictions: Sequence[dict[str, Any]]) -> int:
    """Ground-truth boxes of ``rec`` that a confident detection of the same class overlaps at IoU ≥ 0.5.

    Example:
        >>> rec = ImageRecord(1, Path("x.png"), 10, 10, np.array([[0, 0, 4, 4]], np.float32), np.array([0]))
        >>> found_objects(rec, [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4], "score": 0.9}])
        1
    """
    found = 0
    for label in set(rec.labels.tolist()):
        gt = rec.boxes_xyxy[rec.labels == label]
        det = np.array([[x, y, x + w, y + h] for p in predictions if p["category_id"] == label + 1
                        and p["score"] >= MIN_SCORE for x, y, w, h in [p["bbox"]]], np.float32).reshape(-1, 4)
        if len(det):
            found += int((_iou(gt, det).max(axis=1) >= 0.5).sum())
    return found


def pick_images(records: Sequence[ImageRecord], by_row: dict[str, dict[int, list[dict[str, Any]]]], n: int,
                baseline: str = "none") -> list[tuple[ImageRecord, dict[str, int]]]:
    """``n`` images with boxes where the rows differ most from ``baseline`` (half gains, half losses), each with
    the number of objects every row found."""
    scored = []
    for rec in records:
        if not len(rec.labels):
            continue
        found = {name: found_objects(rec, preds.get(rec.image_id, [])) for name, preds in by_row.items()}
        deltas = [v - found.get(baseline, 0) for k, v in found.items() if k != baseline] or [0]
        scored.append((max(deltas), min(deltas), rec, found))
    gains = sorted(scored, key=lambda s: (-s[0], s[2].image_id))[: (n + 1) // 2]
    taken = {s[2].image_id for s in gains}
    losses = [s for s in sorted(scored, key=lambda s: (s[1], s[2].image_id)) if s[2].image_id not in taken][: n // 2]
    return [(rec, found) for _, _, rec, found in gains + losses]


def _fit(img: np.ndarray) -> tuple[np.ndarray, float, tuple[int, int]]:
    """``img`` scaled into a CELL on a neutral background; returns it, the scale and the offset."""
    w, h = CELL
    scale = min(w / img.shape[1], h / img.shape[0])
    resized = cv2.resize(img, (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale))),
                         interpolation=cv2.INTER_AREA)
    cell = np.full((h, w, 3), PAPER, np.uint8)
    y0, x0 = (h - resized.shape[0]) // 2, (w - resized.shape[1]) // 2
    cell[y0:y0 + resized.shape[0], x0:x0 + resized.shape[1]] = resized
    return cell, scale, (x0, y0)


def _text(img: np.ndarray, text: str, org: tuple[int, int], colour: tuple[int, int, int], scale: float = 0.55) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 2, cv2.LINE_AA)  # outline: readable
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def draw_cell(bgr: np.ndarray, rec: ImageRecord, predictions: Sequence[dict[str, Any]], class_names: Sequence[str],
              *, boxes: bool = True) -> np.ndarray:
    """One picture of the grid: ``bgr`` fitted into a cell, ground truth and confident detections drawn."""
    cell, s, (x0, y0) = _fit(bgr)
    if not boxes:
        return cell
    to_cell = lambda x, y: (int(x * s) + x0, int(y * s) + y0)  # noqa: E731
    for x1, y1, x2, y2 in rec.boxes_xyxy:
        cv2.rectangle(cell, to_cell(x1, y1), to_cell(x2, y2), GT_COLOUR, 1)
    for p in predictions:
        if p["score"] < MIN_SCORE:
            continue
        x, y, w, h = p["bbox"]
        cv2.rectangle(cell, to_cell(x, y), to_cell(x + w, y + h), DET_COLOUR, 2)
        px, py = to_cell(x, y)
        _text(cell, f"{class_names[p['category_id'] - 1]} {p['score']:.2f}", (px + 2, max(14, py - 4)), DET_COLOUR, 0.45)
    return cell


def save_gallery(path: Path, picks: Sequence[tuple[ImageRecord, dict[str, int]]], rows: Sequence[str],
                 predictions: dict[str, dict[int, list[dict[str, Any]]]], enhance: Callable[[str, np.ndarray], np.ndarray],
                 class_names: Sequence[str]) -> Path:
    """The grid as one PNG: a header line (input | row names), then one line per picked image."""
    w, h = CELL
    header = np.full((HEADER, w * (len(rows) + 1), 3), PAPER, np.uint8)
    for i, title in enumerate(["input", *rows]):
        _text(header, title, (i * w + 8, HEADER - 11), INK, 0.65)
    legend = np.full((22, header.shape[1], 3), PAPER, np.uint8)
    _text(legend, "ground truth", (8, 16), GT_COLOUR, 0.5)
    _text(legend, f"detections (score >= {MIN_SCORE}): class score", (130, 16), DET_COLOUR, 0.5)
    lines = [legend, header]
    for rec, found in picks:
        bgr = read_bgr8(rec.path)
        cells = [draw_cell(bgr, rec, [], class_names)]
        _text(cells[0], f"image {rec.image_id}: {len(rec.labels)} objects", (8, 20), INK)
        for name in rows:
            cell = draw_cell(enhance(name, bgr), rec, predictions[name].get(rec.image_id, []), class_names)
            _text(cell, f"found {found.get(name, 0)}/{len(rec.labels)}", (8, 20), INK)
            cells.append(cell)
        lines.append(np.hstack(cells))
    return write_image(path, np.vstack(lines))
