"""Image and file I/O: robust decoding (grey, RGBA, 16-bit, EXIF rotation), atomic writes."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm"})


class ImageReadError(ValueError):
    """An image file could not be decoded; the message names the file."""


@dataclass
class DecodedImage:
    """An image as float RGB in [0, 1] plus what is needed to write it back the same way.

    Attributes:
        rgb: float32 array (H, W, 3), RGB, in [0, 1].
        alpha: the alpha channel (H, W) in the file's own dtype, or None.
        dtype: ``np.uint8`` or ``np.uint16``: the file's bit depth.
        grey: the file had a single channel.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    dtype: type
    grey: bool


def read_image(path: str | Path) -> DecodedImage:
    """Decode an image file (EXIF orientation applied) to float RGB.

    Raises:
        ImageReadError: the file is missing, empty, corrupt or not an image.
    """
    path = Path(path)
    data = np.fromfile(path, dtype=np.uint8) if path.is_file() else None
    if data is None or data.size == 0:
        raise ImageReadError(f"{path}: {'empty file' if data is not None else 'no such file'}")
    # ANYDEPTH keeps 16 bit, ANYCOLOR keeps grey/colour; unlike IMREAD_UNCHANGED these apply EXIF rotation
    arr = cv2.imdecode(data, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    if arr is None:
        raise ImageReadError(f"{path}: cannot decode image (corrupt or unsupported format)")
    alpha = None
    if arr.ndim == 3 and arr.shape[2] == 3:
        full = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if full is not None and full.ndim == 3 and full.shape[2] == 4 and full.shape[:2] == arr.shape[:2]:
            alpha = full[..., 3]
    grey = arr.ndim == 2
    if arr.dtype not in (np.uint8, np.uint16):
        raise ImageReadError(f"{path}: unsupported pixel type {arr.dtype}")
    scale = 255.0 if arr.dtype == np.uint8 else 65535.0
    rgb = cv2.cvtColor(arr, cv2.COLOR_GRAY2RGB) if grey else cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
    return DecodedImage(rgb.astype(np.float32) / scale, alpha, arr.dtype.type, grey)


def read_rgb8(path: str | Path) -> np.ndarray:
    """Decode any image file to uint8 RGB (H, W, 3). Raises :class:`ImageReadError`."""
    return to_uint8(read_image(path).rgb)


def read_bgr8(path: str | Path) -> np.ndarray:
    """Decode any image file to uint8 BGR (H, W, 3), OpenCV's layout. Raises :class:`ImageReadError`."""
    return np.ascontiguousarray(read_rgb8(path)[..., ::-1])


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float [0, 1] to uint8 with rounding."""
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def encode_like(rgb: np.ndarray, like: DecodedImage) -> np.ndarray:
    """Float RGB (H, W, 3) back to the layout and bit depth of ``like`` (BGR[A] / grey for OpenCV)."""
    maxval = 255 if like.dtype == np.uint8 else 65535
    out = (np.clip(rgb, 0, 1) * maxval + 0.5).astype(like.dtype)
    if like.grey:
        return cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
    bgr = cv2.cvtColor(out, cv2.COLOR_RGB2BGR)
    if like.alpha is not None:
        bgr = np.dstack([bgr, like.alpha.astype(like.dtype)])
    return bgr


def atomic_write(path: str | Path, write: Callable[[str], None], suffix: str = ".tmp") -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it to ``path``: readers never see
    a half-written file, and a failed write leaves the old file in place.

    Raises:
        OSError: the folder cannot be written (read-only, full); the error names ``path``, not the temporary file.
    """
    path = Path(path)
    tmp = str(path.parent / f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:12]}{suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))  # the usual permissions (umask applies)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_image(path: str | Path, encoded: np.ndarray) -> Path:
    """Write an OpenCV-layout array atomically; the format follows ``path``'s extension."""
    path = Path(path)

    def write(tmp: str) -> None:
        ok, buf = cv2.imencode(path.suffix.lower() or ".png", encoded)
        if not ok:
            raise OSError(f"{path}: OpenCV could not encode the image")
        Path(tmp).write_bytes(buf.tobytes())  # raises with the OS's reason (ENOSPC...), unlike ndarray.tofile

    return atomic_write(path, write)


def write_json(path: str | Path, obj: Any) -> Path:
    """Write JSON atomically (indented, UTF-8)."""
    path = Path(path)

    def write(tmp: str) -> None:
        Path(tmp).write_text(json.dumps(obj, indent=2, default=str) + "\n", encoding="utf-8")

    return atomic_write(path, write)


def write_text(path: str | Path, text: str) -> Path:
    """Write a text file atomically."""
    path = Path(path)

    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    return atomic_write(path, write)


def find_files(paths: Iterable[str | Path], extensions: frozenset[str]) -> list[Path]:
    """Files under ``paths`` (files or folders, recursive) whose extension, any case, is in ``extensions``."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in extensions))
        elif p.suffix.lower() in extensions:
            out.append(p)
    return out
