"""The built-in demo: deterministic labelled scenes and the bare ``python -m lowlight_det.eval`` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lowlight_det.demo import CLASSES, SIZE, demo_detector, demo_metadata, make_scene


def test_scenes_are_deterministic_labelled_and_varied() -> None:
    a, la = make_scene(1, 3)
    b, lb = make_scene(1, 3)
    assert np.array_equal(a, b) and la == lb
    assert not np.array_equal(a, make_scene(1, 4)[0])
    labels = [lab for i in range(40) for lab in make_scene(2, i)[1]]
    assert {c for c, *_ in labels} == set(range(len(CLASSES)))
    sizes = [max(x2 - x1, y2 - y1) for _, x1, y1, x2, y2 in labels]
    assert min(sizes) < 30 and max(sizes) > 90  # scale variety
    assert all(0 <= x1 < x2 <= SIZE and 0 <= y1 < y2 <= SIZE for _, x1, y1, x2, y2 in labels)


def test_shipped_demo_detector_has_metadata() -> None:
    path = demo_detector()
    meta = demo_metadata()
    assert path.stat().st_size < 8_000_000
    assert meta["file"] == path.name and meta["classes"] == CLASSES
    assert "train" in meta["trained_on"] and meta["well_lit_val_ultralytics"]["map50"] > 50


@pytest.mark.integration
def test_bare_eval_runs_the_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    from lowlight_det.eval.__main__ import main

    monkeypatch.setenv("LOWLIGHT_DET_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    assert main(["--enhance", "zerodce", "--limit", "16", "--gallery", "1", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "built-in demo" in printed and "recovers" in printed
    metrics = json.loads((tmp_path / "runs/eval/demo/metrics.json").read_text())
    assert list(metrics["results"]) == ["well-lit", "none", "zerodce"]
    assert metrics["results"]["well-lit"]["metrics"]["map50"] > metrics["results"]["none"]["metrics"]["map50"]
    assert metrics["config"]["imgsz"] == 320 and metrics["images"] == 16


@pytest.mark.integration
def test_evaluator_reproduces_the_demo_detectors_recorded_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real trained detector with a known score: on the 100 well-lit validation scenes, our pycocotools mAP50
    must match the Ultralytics mAP50 recorded when the detector was trained (metadata), and darkness must cost a
    large part of it. A broken letterbox, class map, box conversion or metric would move these numbers."""
    from lowlight_det.config import EvalConfig
    from lowlight_det.eval.api import demo_config, evaluate

    monkeypatch.setenv("LOWLIGHT_DET_CACHE", str(tmp_path / "cache"))
    cfg = demo_config(EvalConfig(enhance=("none",), out=str(tmp_path / "out"), plots=False, threads=2))
    rows = {r.name: r.metrics for r in evaluate(cfg, progress=False).results}
    recorded = demo_metadata()["well_lit_val_ultralytics"]
    assert abs(rows["well-lit"]["map50"] - recorded["map50"]) <= 1.0, (rows["well-lit"], recorded)
    assert abs(rows["well-lit"]["map50_95"] - recorded["map50_95"]) <= 2.0
    assert rows["none"]["map50"] < rows["well-lit"]["map50"] - 30  # the synthetic darkness costs detections


@pytest.mark.integration
def test_demo_sweep_darkens_the_well_lit_scenes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lowlight_det.eval.__main__ import main

    monkeypatch.setenv("LOWLIGHT_DET_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "o"
    assert main(["--enhance", "gamma", "--limit", "8", "--darken-ev", "4", "--no-plots", "--out", str(out), "-q"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["results"]) == ["well-lit", "none", "gamma", "none@ev0", "gamma@ev0", "none@ev4", "gamma@ev4"]
    results = metrics["results"]
    assert results["none@ev0"]["metrics"] == results["well-lit"]["metrics"]  # level 0 of the demo sweep: well-lit
    assert metrics["darkness"]["rows"]["none"]["levels"]["4"]["map50"] < results["well-lit"]["metrics"]["map50"]
    assert not any("@ev" in line for line in metrics["recovery"])
