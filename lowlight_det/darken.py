"""``python -m lowlight_det.darken --data NAME_OR_YAML --out DIR``: a dark copy of a labelled dataset.

Images are darkened with the physically based synthesis (one seeded parameter draw per image);
labels are copied unchanged; a ``data.yaml`` is written so the copy can be evaluated or used for
fine-tuning right away.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import yaml
from tqdm import tqdm

from lowlight_det.cli import add_common_args, run_job, setup_logging
from lowlight_det.data.detection import DetectionDataset, label_path, unique_stems, yolo_label_text
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


def darken_split(ds: DetectionDataset, out: Path, tag: str, *, seed: int, ranges: DarkenRanges, copy_labels: bool,
                 progress: bool = True) -> int:
    """Write the dark copy of one split (``images/<tag>``, ``labels/<tag>``); returns the images that failed.

    Output names are the images' stems, made unique where two images share one (see ``unique_stems``).
    YOLO label files are copied byte for byte (``copy_labels``); otherwise labels are written from the records.
    """
    failed = 0
    names = unique_stems(ds.records)
    for name, rec in tqdm(list(zip(names, ds.records, strict=True)), desc=f"darken {tag}", unit="img",
                          disable=not progress, leave=False):
        if name != rec.path.stem:
            logger.info("%s: another image has the same name; written as %s", rec.path, name)
        try:
            dark = darken_array(read_rgb8(rec.path), seed=seed, index=rec.image_id, ranges=ranges)
        except ImageReadError as exc:
            logger.error("skipped %s", exc)
            failed += 1
            continue
        write_image(out / "images" / tag / f"{name}.png", dark[..., ::-1].copy())
        label = out / "labels" / tag / f"{name}.txt"
        source = label_path(rec.path)
        if copy_labels and source.is_file():
            label.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, label)
        else:
            write_text(label, yolo_label_text(rec))
    return failed


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 on success, 1 if some images failed or were skipped, 2 on bad arguments."""
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    ranges = DarkenRanges(darkness=tuple(args.darkness), gamma=tuple(args.gamma), shot_noise=tuple(args.shot_noise))
    out = Path(args.out)
    is_yolo = Path(args.data).suffix in (".yaml", ".yml")
    splits = [s for s in args.splits.split(",") if s] if is_yolo else [None]

    def job() -> tuple[int, Counter[str], list[str]]:
        failures, skipped = 0, Counter[str]()
        names: list[str] = []
        written_splits = []
        for split in splits:
            try:
                ds, _ = load_detection_dataset(args.data, split=split, data_root=args.data_root)
            except ValueError as exc:
                if is_yolo and "no" in str(exc) and "split" in str(exc):
                    logger.info("skipping split %s: %s", split, exc)
                    continue
                raise
            names = ds.class_names
            skipped.update(ds.issues)
            tag = split or "val"
            failures += darken_split(ds, out, tag, seed=args.seed, ranges=ranges, copy_labels=is_yolo,
                                     progress=not args.quiet)
            written_splits.append(tag)
        data = {"path": str(out.resolve()), **{s: f"images/{s}" for s in written_splits},
                "names": dict(enumerate(names)), "darkened": {"seed": args.seed, "source": args.data}}
        write_text(out / "data.yaml", yaml.safe_dump(data, sort_keys=False))
        return failures, skipped, written_splits

    code, result = run_job(job, log=logger)
    if result is None:
        return code
    failures, skipped, written_splits = result
    lost = skipped.get("unreadable_images", 0) + skipped.get("too_small_images", 0)
    issues = ", ".join(f"{k} {v}" for k, v in sorted(skipped.items()))
    print(f"wrote a dark copy of {args.data} ({', '.join(written_splits)}) to {out}; {failures + lost} failed"
          + (f" (data issues: {issues})" if issues else ""))
    return 1 if failures or lost else 0


if __name__ == "__main__":
    raise SystemExit(main())
