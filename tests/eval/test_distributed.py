"""``torchrun -m lowlight_det.eval``: images sharded over processes, predictions gathered, scored once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lowlight_det.distributed import DistInfo, shard
from lowlight_det.eval.runner import RowRun, merge_shards, shard_batches


def test_shards_cover_every_item_once_and_merge_keeps_one_order() -> None:
    items = list(range(11))
    parts = [shard(items, DistInfo(rank, 3)) for rank in range(3)]
    assert sorted(sum(parts, [])) == items and [len(p) for p in parts] == [4, 4, 3]
    assert shard(items, DistInfo()) == items
    runs = [RowRun([{"image_id": i, "score": s} for i in part for s in (0.9, 0.5)],
                   {"decode": 1.0 + rank, "total": 2.0 + rank, "images_per_s": 9.0}, 50.0, len(part), 2.0 + rank)
            for rank, part in enumerate(parts)]
    merged = merge_shards(runs)
    assert [p["image_id"] for p in merged.predictions] == sorted(i for i in items for _ in (0, 1))
    assert [p["score"] for p in merged.predictions[:2]] == [0.9, 0.5]  # each image's own order kept
    assert merged.images == 11 and merged.wall_s == 4.0 and merged.ultralytics_map50 is None
    assert merged.timing_ms["images_per_s"] == pytest.approx(11 / 4.0, abs=0.01)
    assert merged.timing_ms["decode"] == pytest.approx((1 * 4 + 2 * 4 + 3 * 3) / 11, abs=0.01)  # per image
    assert merged.timing_ms["processes"] == 3


def test_each_process_gets_whole_batches_in_aspect_ratio_order() -> None:
    from lowlight_det.data.detection import ImageRecord

    shapes = [(640, 480), (480, 640), (500, 500), (640, 360), (300, 400)] * 4  # 20 images, width x height
    records = [ImageRecord(i, Path(f"{i}.jpg"), w, h, np.zeros((0, 4)), np.zeros(0)) for i, (w, h) in enumerate(shapes)]
    parts = [shard_batches(records, DistInfo(rank, 2), 4) for rank in range(2)]
    assert sorted(r.image_id for p in parts for r in p) == list(range(20))
    assert [len(p) for p in parts] == [8, 12]  # 5 batches of 4: whole batches per process
    ratios = [r.height / r.width for p in parts for r in p]
    assert ratios == sorted(ratios)  # contiguous runs of the aspect-ratio order: the batches one process makes


def _eval(out: Path, *, processes: int) -> dict:
    args = ["--limit", "12", "--enhance", "zerodce++", "--darken-ev", "3", "--no-plots", "--batch-size", "4",
            "--threads", "1", "--out", str(out), "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)] if processes > 1 \
        else []
    done = subprocess.run([sys.executable, *launcher, "-m", "lowlight_det.eval", *args], env=env, timeout=600,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("wrote ") == 1, done.stdout  # one report, from the first process
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.integration
def test_two_cpu_processes_give_the_single_process_results(tmp_path: Path) -> None:
    one, two = _eval(tmp_path / "one", processes=1), _eval(tmp_path / "two", processes=2)
    assert two["processes"] == 2 and one["processes"] == 1
    assert list(two["results"]) == list(one["results"])
    assert {"none", "zerodce++", "none@ev3", "zerodce++@ev3"} <= set(one["results"])
    for name, row in one["results"].items():
        assert two["results"][name]["metrics"] | {"ultralytics_map50_secondary": None} == \
            row["metrics"] | {"ultralytics_map50_secondary": None}, name
        assert two["results"][name]["timing_ms"]["processes"] == 2 and two["results"][name]["images"] == 12
        a = json.loads((tmp_path / "one" / f"predictions_{name}.json").read_text())
        b = json.loads((tmp_path / "two" / f"predictions_{name}.json").read_text())
        assert a == b, name  # the same boxes and scores, in the same order
    assert two["delta_vs_none"] == one["delta_vs_none"] and two["darkness"] == one["darkness"]
    assert len(list((tmp_path / "two" / "darkened" / "ev3").glob("*.png"))) == 12  # darkened once, shared
