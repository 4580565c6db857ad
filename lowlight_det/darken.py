"""``python -m lowlight_det.darken --data NAME_OR_YAML --out DIR``: a dark copy of a labelled dataset.

Images are darkened with the physically based synthesis (one seeded parameter draw per image);
labels are copied unchanged; a ``data.yaml`` is written so the copy can be evaluated or used for
fine-tuning right away.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import yaml
from tqdm import tqdm

from lowlight_det.cli import add_common_args, setup_logging
from lowlight_det.data.detection import _label_path, export_yolo
from lowlight_det.data.loaders import load_detection_dataset
from lowlight_det.data.synthesis import DarkenRanges, darken_array
from lowlight_det.io import ImageReadError, read_rgb8, write_image, write_text

logger = logging.getLogger("lowlight_det.darken")


def build_parser() -> argparse.ArgumentParser:
    """The CLI's arguments."""
    r = DarkenRanges()
    p = argparse.ArgumentParser(prog="python -m lowlight_det.darken", description=__doc__)
    p.add_argument("--data", required=True, help="a data.yaml (YOLO format), a COCO .json or a datasets.yaml name")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--splits", default="train,val", help="splits to copy (YOLO datasets), comma-separated")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-root", default=None)
    p.add_argument("--darkness", type=float, nargs=2, default=r.darkness, metavar=("MIN", "MAX"))
    p.add_argument("--gamma", type=float, nargs=2, default=r.gamma, metavar=("MIN", "MAX"))
    p.add_argument("--shot-noise", type=float, nargs=2, default=r.shot_noise, metavar=("MIN", "MAX"))
    add_common_args(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 on success, 1 if some images failed, 2 on bad arguments."""
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    ranges = DarkenRanges(darkness=tuple(args.darkness), gamma=tuple(args.gamma), shot_noise=tuple(args.shot_noise))
    out = Path(args.out)
    is_yolo = Path(args.data).suffix in (".yaml", ".yml")
    splits = [s for s in args.splits.split(",") if s] if is_yolo else [None]
    failures = 0
    names: list[str] = []
    written_splits = []
    for split in splits:
        try:
            ds, _ = load_detection_dataset(args.data, split=split, data_root=args.data_root)
        except ValueError as exc:
            if is_yolo and "no" in str(exc) and "split" in str(exc):
                logger.info("skipping split %s: %s", split, exc)
                continue
            logger.error("%s", exc)
            return 2
        except FileNotFoundError as exc:
            logger.error("%s", exc)
            return 2
        names = ds.class_names
        tag = split or "val"
        for rec in tqdm(ds.records, desc=f"darken {tag}", unit="img", disable=args.quiet, leave=False):
            try:
                dark = darken_array(read_rgb8(rec.path), seed=args.seed, index=rec.image_id, ranges=ranges)
            except ImageReadError as exc:
                logger.error("skipped %s", exc)
                failures += 1
                continue
            dst = out / "images" / tag / f"{rec.path.stem}.png"
            write_image(dst, dark[..., ::-1].copy())
            if is_yolo and _label_path(rec.path).is_file():
                (out / "labels" / tag).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(_label_path(rec.path), out / "labels" / tag / f"{rec.path.stem}.txt")
        if not is_yolo:  # COCO / catalogue input: YOLO labels from the records
            export_yolo(ds, out / "_labels_tmp", split=tag)
            stems = {f"{rec.image_id:06d}": rec.path.stem for rec in ds.records}
            for f in (out / "_labels_tmp" / "labels" / tag).glob("*.txt"):
                dst = out / "labels" / tag / (stems[f.stem] + ".txt")
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(f, dst)
            shutil.rmtree(out / "_labels_tmp")
        written_splits.append(tag)
    data = {"path": str(out.resolve()), **{s: f"images/{s}" for s in written_splits},
            "names": dict(enumerate(names)), "darkened": {"seed": args.seed, "source": args.data}}
    write_text(out / "data.yaml", yaml.safe_dump(data, sort_keys=False))
    print(f"wrote a dark copy of {args.data} ({', '.join(written_splits)}) to {out}; {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
