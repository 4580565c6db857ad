"""``python -m lowlight_det.enhance INPUT... --out DIR``: enhance images, folders and videos."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from lowlight_det.cli import add_common_args, positive_int, resolve_device, run_job, setup_cpu, setup_logging
from lowlight_det.enhancers import create_enhancer, list_enhancers
from lowlight_det.enhancers.apply import enhance_tensor
from lowlight_det.io import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    DecodedImage,
    ImageReadError,
    encode_like,
    find_files,
    read_image,
    write_image,
)

logger = logging.getLogger("lowlight_det.enhance")


def build_parser() -> argparse.ArgumentParser:
    """The CLI's arguments."""
    p = argparse.ArgumentParser(prog="python -m lowlight_det.enhance", description=__doc__)
    p.add_argument("inputs", nargs="+", help="image files, folders (recursive) or videos")
    p.add_argument("--out", required=True, help="output folder; file names and sizes are kept")
    p.add_argument("--enhancer", default="zerodce", choices=list_enhancers())
    p.add_argument("--weights", default=None, help="weights id or checkpoint path (default: shipped weights)")
    p.add_argument("--batch-size", type=positive_int, default=4, help="images of equal size / video frames per batch")
    add_common_args(p)
    return p


def _enhance_batch(enhancer: nn.Module, images: list[np.ndarray], device: torch.device) -> list[np.ndarray]:
    batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).to(device)
    with torch.inference_mode():
        out = enhance_tensor(enhancer, batch)
    return list(out.permute(0, 2, 3, 1).cpu().numpy())


def _output_path(path: Path, root: Path | None, out_dir: Path) -> Path:
    return out_dir / (path.relative_to(root) if root is not None else path.name)


def _image_jobs(inputs: Sequence[str]) -> Iterator[tuple[Path, Path | None]]:
    for item in map(Path, inputs):
        if item.is_dir():
            for f in find_files([item], IMAGE_EXTENSIONS | VIDEO_EXTENSIONS):
                yield f, item
        else:
            yield item, None


def enhance_video(enhancer: nn.Module, src: Path, dst: Path, device: torch.device, batch_size: int) -> int:
    """Enhance a video frame by frame into ``dst`` (same size and frame rate); returns frames written."""
    cap = cv2.VideoCapture(str(src))
    if not cap.isOpened():
        raise ImageReadError(f"{src}: cannot open video")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    fourcc = cv2.VideoWriter.fourcc(*("MJPG" if dst.suffix.lower() == ".avi" else "mp4v"))
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.stem}.partial{dst.suffix}")
    writer = cv2.VideoWriter(str(tmp), fourcc, fps, (w, h))
    if not writer.isOpened():
        cap.release()
        raise OSError(f"cannot write the video {dst} (OpenCV could not open {tmp.name} for writing)")
    frames = 0
    try:
        while True:
            batch = []
            for _ in range(batch_size):
                ok, frame = cap.read()
                if not ok:
                    break
                batch.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            if not batch:
                break
            for rgb in _enhance_batch(enhancer, batch, device):
                writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
                frames += 1
    finally:
        cap.release()
        writer.release()
    if frames == 0:
        tmp.unlink(missing_ok=True)
        raise ImageReadError(f"{src}: no decodable frames")
    tmp.replace(dst)
    return frames


def plan_outputs(inputs: Sequence[str], out_dir: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs; output names keep the file name (relative path for folders).

    Raises:
        ValueError: two inputs would write the same output, an output would overwrite an input, or ``out_dir``
            lies inside an input folder (a second run would enhance the outputs again).
    """
    out_res = out_dir.resolve()
    for item in map(Path, inputs):
        if item.is_dir() and out_res.is_relative_to(item.resolve()):
            raise ValueError(f"--out {out_dir} is inside the input folder {item}: outputs could overwrite or be "
                             "mixed with the originals; choose a folder outside it")
    pairs = [(src, _output_path(src, root, out_dir)) for src, root in _image_jobs(inputs)]
    sources = {src.resolve() for src, _ in pairs}
    seen: dict[Path, Path] = {}
    for src, dst in pairs:
        key = dst.resolve()
        if key in sources:
            raise ValueError(f"{dst} would overwrite the input {src}; choose another --out")
        if key in seen and seen[key].resolve() != src.resolve():
            raise ValueError(f"{seen[key]} and {src} would both be written to {dst}; enhance them in separate runs "
                             "(or separate --out folders)")
        seen[key] = src
    return list({dst.resolve(): (src, dst) for src, dst in pairs}.values())  # the same file given twice: once


def run(enhancer: nn.Module, inputs: Sequence[str], out_dir: Path, *, device: torch.device,
        batch_size: int = 4, progress: bool = True) -> tuple[int, list[str]]:
    """Enhance every input; returns (files written, failures as 'path: reason').

    A file that cannot be read is reported and skipped; an output that cannot be written (read-only or full
    disk) stops the run with an ``OSError`` naming that output.
    """
    jobs = plan_outputs(inputs, out_dir)
    written, failures = 0, []
    pending: list[tuple[Path, DecodedImage]] = []

    def flush() -> None:
        nonlocal written
        if not pending:
            return
        floats = [d.rgb for _, d in pending]
        results = _enhance_batch(enhancer, floats, device)
        for (dst, decoded), rgb in zip(pending, results, strict=True):
            write_image(dst, encode_like(rgb, decoded))
            written += 1
        pending.clear()

    for src, dst in tqdm(jobs, desc="enhance", unit="file", disable=not progress, leave=False):
        if src.suffix.lower() in VIDEO_EXTENSIONS:
            flush()
            try:
                frames = enhance_video(enhancer, src, dst, device, batch_size)
            except ImageReadError as exc:
                logger.error("skipped %s", exc)
                failures.append(str(exc))
                continue
            logger.info("%s: %d frames -> %s", src, frames, dst)
            written += 1
            continue
        try:
            if src.suffix.lower() not in IMAGE_EXTENSIONS:
                raise ImageReadError(f"{src}: not an image or video file (extension {src.suffix or 'none'})")
            decoded = read_image(src)
        except ImageReadError as exc:
            logger.error("skipped %s", exc)
            failures.append(str(exc))
            continue
        if pending and (len(pending) >= batch_size or pending[0][1].rgb.shape != decoded.rgb.shape):
            flush()
        pending.append((dst, decoded))
    flush()
    return written, failures


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 when every input was written, 1 when some failed, 2 on bad arguments."""
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    setup_cpu(args.threads)

    def job() -> tuple[int, list[str]]:
        device = resolve_device(args.device)
        kwargs = {} if args.weights is None else {"weights": args.weights}
        enhancer = create_enhancer(args.enhancer, **kwargs).eval().to(device)
        return run(enhancer, args.inputs, Path(args.out), device=device, batch_size=args.batch_size,
                   progress=not args.quiet)

    code, result = run_job(job, log=logger)
    if result is None:
        return code
    written, failures = result
    print(f"enhanced {written} file(s) with {args.enhancer} into {args.out}; {len(failures)} failed")
    for failure in failures:
        print(f"  failed: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
