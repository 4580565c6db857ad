"""The evaluator end to end with real Ultralytics models and real pycocotools."""

from __future__ import annotations

import hashlib
import json
import os
from functools import partial
from pathlib import Path

import cv2
import pytest

from lowlight_det.eval.__main__ import main as eval_main
from lowlight_det.eval.coco import coco_map

REPO = Path(__file__).resolve().parents[2]
TINY_YOLO = REPO / "benchmarks" / "demo_yolo.yaml"


@pytest.fixture
def yolo_dataset(tmp_path: Path, write_scenes) -> Path:  # noqa: ANN001
    """Six demo scenes (64 px) in YOLO format, one broken image and one malformed label line."""
    data = write_scenes(tmp_path / "ds")
    with (tmp_path / "ds" / "labels" / "val" / "0.txt").open("a") as fh:
        fh.write("not a label\n")
    (tmp_path / "ds" / "images" / "val" / "broken.jpg").write_bytes(b"not an image")
    return data


@pytest.mark.integration
def test_eval_writes_outputs_counts_bad_input_and_resumes(yolo_dataset: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "eval"
    args = ["--data", str(yolo_dataset), "--weights", str(TINY_YOLO), "--enhance", "gamma,clahe", "--imgsz", "64",
            "--batch-size", "4", "--out", str(out), "--gallery", "2", "-q"]
    assert eval_main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("row "))
    assert [line.split()[0] for line in lines[header + 1:header + 4]] == ["none", "gamma", "clahe"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["results"]) == ["none", "gamma", "clahe"]
    assert metrics["data_issues"] == {"unreadable_images": 1, "malformed_lines": 1}
    none = metrics["results"]["none"]
    assert set(none["metrics"]) >= {"map50_95", "map50", "ap_small", "ap_medium", "ap_large", "per_class_ap50"}
    timing = none["timing_ms"]
    assert set(timing) == {"decode", "enhance", "detect", "total", "inference", "nms", "metric", "images_per_s"}
    assert timing["detect"] >= timing["inference"] + timing["nms"] - 0.02 and timing["images_per_s"] > 0
    assert metrics["delta_vs_none"]["none"] == {"map50_95": 0.0, "map50": 0.0}
    assert metrics["config"]["conf"] == 0.001 and metrics["config"]["iou"] == 0.7 and metrics["config"]["max_det"] == 300
    assert {"torch", "ultralytics"} <= set(metrics["versions"])
    assert metrics["detector_sha256"] == hashlib.sha256(TINY_YOLO.read_bytes()).hexdigest()
    for name in ("none", "gamma", "clahe"):
        preds = json.loads((out / f"predictions_{name}.json").read_text())
        assert len(preds) == metrics["results"][name]["predictions"]
        if preds:
            assert set(preds[0]) == {"image_id", "category_id", "bbox", "score"}
    gallery = cv2.imread(str(out / "gallery.png"))  # one figure: a header line, then one line per picked image
    assert gallery.shape[1] == 360 * 4 and gallery.shape[0] == 22 + 34 + 2 * 270  # input + 3 rows; 2 images
    assert "| none |" in (out / "report.md").read_text()
    # resume: finished rows are read back, a changed setting is recomputed
    stamp = (out / "results" / "gamma.json").stat().st_mtime_ns
    assert eval_main([*args, "--resume"]) == 0
    assert (out / "results" / "gamma.json").stat().st_mtime_ns == stamp
    resumed = json.loads((out / "metrics.json").read_text())
    assert resumed["rows_reused"] == ["none", "gamma", "clahe"]  # wall time of this run vs time of every row
    assert resumed["rows_time_s"] == round(sum(r["wall_s"] for r in metrics["results"].values()), 1) > 0
    assert "reused 3 finished row(s)" in (out / "report.md").read_text()
    assert "| gamma | gamma | – |" in (out / "report.md").read_text()  # the weights column: none for gamma
    assert eval_main([*args[:-1], "--resume", "--conf", "0.01", "-q"]) == 0
    assert (out / "results" / "gamma.json").stat().st_mtime_ns != stamp


@pytest.mark.integration
def test_detection_tuned_enhancer_is_a_row_of_its_own(yolo_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    args = ["--data", str(yolo_dataset), "--weights", str(TINY_YOLO), "--enhance", "zerodce,zerodce-det,zerodce++-det",
            "--imgsz", "64", "--batch-size", "4", "--out", str(out), "--gallery", "0", "--no-plots", "--delta-ci", "10",
            "-q"]
    assert eval_main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    results = metrics["results"]
    assert list(results) == ["none", "zerodce", "zerodce-det", "zerodce++-det"]
    assert Path(results["zerodce"]["weights"]["source"]).name.startswith("zerodce-sice-")
    assert Path(results["zerodce-det"]["weights"]["source"]).name.startswith("zerodce-det-yolo11n-")
    assert Path(results["zerodce++-det"]["weights"]["source"]).name.startswith("zerodce++-det-yolo11n-")
    for name in ("zerodce", "zerodce-det", "zerodce++-det"):  # paired intervals around each row's Δ mAP50
        d = metrics["delta_vs_none"][name]
        low, high = d["map50_ci95"]
        assert low <= d["map50"] <= high and d["ci_resamples"] == 10
    assert "map50_ci95" not in metrics["delta_vs_none"]["none"]
    assert "[95% interval]" in (out / "report.md").read_text()


def test_missing_detector_is_a_clear_error(yolo_dataset: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code = eval_main(["--data", str(yolo_dataset), "--weights", "yolo11n.pt", "--out", str(tmp_path), "-q"])
    assert code == 2
    assert "'yolo11n.pt' not found" in capsys.readouterr().err


def test_unknown_enhancer_is_exit_2(yolo_dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert eval_main(["--data", str(yolo_dataset), "--enhance", "magic", "--weights", str(TINY_YOLO), "-q"]) == 2
    assert "unknown enhancer(s) magic" in capsys.readouterr().err


def test_coco_map_hand_checked() -> None:
    gt = {"images": [{"id": 1, "width": 100, "height": 100}, {"id": 2, "width": 100, "height": 100}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 50], "area": 2500,
                           "iscrowd": 0},
                          {"id": 2, "image_id": 2, "category_id": 2, "bbox": [0, 0, 40, 40], "area": 1600,
                           "iscrowd": 0}],
          "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c"}]}
    perfect = [{"image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 50], "score": 0.9},
               {"image_id": 2, "category_id": 2, "bbox": [0, 0, 40, 40], "score": 0.8}]
    m = coco_map(gt, perfect)
    assert m.map50 == pytest.approx(100) and m.map50_95 == pytest.approx(100)
    assert m.per_class_ap50 == {"a": 100.0, "b": 100.0, "c": None}
    half = coco_map(gt, perfect[:1])
    assert half.map50 == pytest.approx(50) and half.per_class_ap50["b"] == 0.0
    assert coco_map(gt, []).map50 == 0.0
    # a box at IoU 0.6 counts at 0.5 but not at 0.75
    shifted = [{"image_id": 1, "category_id": 1, "bbox": [22, 10, 50, 50], "score": 0.9}]
    assert coco_map(gt, shifted, image_ids=[1]).map50 == pytest.approx(100)
    assert coco_map(gt, shifted, image_ids=[1]).map50_95 < 60


@pytest.mark.integration
def test_map50_agrees_with_ultralytics_val_on_real_exdark(shared_dir: Path, tmp_path: Path) -> None:
    """Independent cross-check: our pycocotools mAP50 vs Ultralytics' model.val() on real ExDark images."""
    from ultralytics import YOLO

    from lowlight_det.config import EvalConfig
    from lowlight_det.data.detection import export_yolo
    from lowlight_det.data.exdark import load_exdark
    from lowlight_det.eval.api import evaluate

    weights = shared_dir / "models" / "yolo11n-coco.pt"
    ds = load_exdark(shared_dir / "data" / "exdark-mini", "test").subset(80)
    coco_ids = {0: 1, 1: 8, 2: 39, 3: 5, 4: 2, 5: 15, 6: 56, 7: 41, 8: 16, 9: 3, 10: 0, 11: 60}
    names = list(YOLO(str(weights)).names.values())
    data_yaml = export_yolo(ds, tmp_path / "yolo", label_ids=coco_ids, names=names)
    ours = evaluate(EvalConfig(data=str(data_yaml), split="val", weights=str(weights), enhance=("none",), imgsz=320,
                               device="cpu", batch_size=8, out=str(tmp_path / "ours"), plots=False, threads=os.cpu_count()),
                    progress=False)
    theirs = YOLO(str(weights)).val(data=str(data_yaml), imgsz=320, batch=8, conf=0.001, iou=0.7, device="cpu",
                                    plots=False, verbose=False)
    ours_map50 = ours.results[0].metrics["map50"]
    assert abs(ours_map50 - 100 * theirs.box.map50) <= 1.0, (ours_map50, 100 * theirs.box.map50)


@pytest.mark.integration
def test_enhanced_validator_plugs_into_model_val(yolo_dataset: Path) -> None:
    from ultralytics import YOLO

    from lowlight_det import create_enhancer
    from lowlight_det.detection.ultralytics import EnhancedDetectionValidator

    seen = []

    class Spy(EnhancedDetectionValidator):
        def preprocess(self, batch):  # noqa: ANN001, ANN202
            raw = batch["img"].float().mean().item()
            out = super().preprocess(batch)
            seen.append((raw / 255, out["img"].float().mean().item()))
            return out

    YOLO(str(TINY_YOLO)).val(validator=partial(Spy, enhancer=create_enhancer("gamma", gamma=0.5)),
                             data=str(yolo_dataset), imgsz=64, batch=4, plots=False, verbose=False, device="cpu")
    assert seen and all(after > before for before, after in seen)


@pytest.mark.integration
def test_darkness_sweep_rows_table_plot_and_cache(write_scenes, tmp_path: Path) -> None:  # noqa: ANN001
    from lowlight_det.demo import demo_detector

    data = write_scenes(tmp_path / "ds", n=6, size=320, gain=1.0, seed=5)
    out = tmp_path / "sweep"
    args = ["--data", str(data), "--weights", str(demo_detector()), "--imgsz", "320", "--class-map", "identity",
            "--enhance", "gamma", "--darken-ev", "3,1", "--delta-ci", "10", "--gallery", "1", "--out", str(out), "-q"]
    assert eval_main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["results"]) == ["none", "gamma", "none@ev1", "gamma@ev1", "none@ev3", "gamma@ev3"]
    assert [metrics["results"][n]["darken_ev"] for n in ("none", "gamma@ev3")] == [0.0, 3.0]
    dark = metrics["darkness"]
    assert dark["levels"] == [0.0, 1.0, 3.0]
    none = {k: v["map50"] for k, v in dark["rows"]["none"]["levels"].items()}
    assert none["0"] > 30 and none["3"] < none["0"]  # 3 stops darker costs this detector
    gamma3 = dark["rows"]["gamma"]["levels"]["3"]
    res = metrics["results"]
    assert gamma3["delta_map50"] == pytest.approx(res["gamma@ev3"]["metrics"]["map50"] - res["none@ev3"]["metrics"]["map50"],
                                                  abs=1e-3)  # Δ against none at the same darkness
    assert metrics["delta_vs_none"]["gamma@ev3"]["map50"] == pytest.approx(gamma3["delta_map50"], abs=1e-3)
    assert "delta_map50_ci95" in gamma3
    report = (out / "report.md").read_text()
    assert "### mAP50 by darkness" in report and "| gamma |" in report and "shot noise 0.001" in report
    assert (out / "map50_by_darkness.png").is_file() and (out / "gallery.png").is_file()
    cached = sorted((out / "darkened" / "ev3").glob("*.png"))
    assert len(cached) == 6
    # darkened copies: same size (boxes stay valid), darker, deterministic and reused on resume
    src = cv2.imread(str(sorted((tmp_path / "ds" / "images" / "val").glob("*.jpg"))[0]))
    first = cv2.imread(str(cached[0]))
    assert first.shape == src.shape and first.mean() < src.mean() / 3
    stamps = [p.stat().st_mtime_ns for p in cached]
    assert eval_main([*args, "--resume"]) == 0
    assert [p.stat().st_mtime_ns for p in sorted((out / "darkened" / "ev3").glob("*.png"))] == stamps


def test_darkness_levels_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    assert eval_main(["--darken-ev", "1,x", "-q"]) == 2
    assert "--darken-ev takes comma-separated stops" in capsys.readouterr().err


def test_eval_settings_from_a_yaml_file_and_flags_on_top(tmp_path: Path) -> None:
    from lowlight_det.eval.__main__ import build_parser, resolve_config

    (tmp_path / "eval.yaml").write_text("data: my.yaml\nenhance: [gamma, clahe]\nconf: 0.01\ndarken_ev: [3, 1]\n")
    cfg = resolve_config(build_parser().parse_args(["--config", str(tmp_path / "eval.yaml"), "--conf", "0.05"]))
    assert cfg.enhance == ("none", "gamma", "clahe") and cfg.conf == 0.05 and cfg.darken_ev == (0.0, 1.0, 3.0)
    assert cfg.out == "runs/eval/my" and cfg.batch_size == 8


def test_limit_takes_a_seeded_stratified_sample_or_the_first_n(tmp_path: Path) -> None:
    import numpy as np

    from lowlight_det.data.detection import DetectionDataset, ImageRecord

    # 40 images of class 0 first, then 10 of class 1: the first 10 would all be class 0
    recs = [ImageRecord(i + 1, tmp_path / f"{i}.jpg", 64, 64, np.zeros((1, 4), np.float32),
                        np.array([0 if i < 40 else 1]), {"light": "Low" if i % 2 else "Strong"}) for i in range(50)]
    ds = DetectionDataset("t", ["a", "b"], recs)
    first = ds.subset(10, sample="first")
    assert {int(r.labels[0]) for r in first.records} == {0}
    sample = ds.subset(10, sample="stratified", seed=0)
    labels = [int(r.labels[0]) for r in sample.records]
    assert len(labels) == 10 and labels.count(1) == 2  # 10 of 50 images are class 1 -> 2 of 10
    assert {r.attributes["light"] for r in sample.records} == {"Low", "Strong"}
    assert [r.image_id for r in sample.records] == [r.image_id for r in ds.subset(10, sample="stratified", seed=0).records]
    assert [r.image_id for r in sample.records] != [r.image_id for r in ds.subset(10, sample="stratified", seed=1).records]


@pytest.mark.integration
def test_limited_eval_records_its_sample(write_scenes, tmp_path: Path) -> None:  # noqa: ANN001
    data = write_scenes(tmp_path / "ds", n=8)
    out = tmp_path / "o"
    assert eval_main(["--data", str(data), "--weights", str(TINY_YOLO), "--imgsz", "64", "--enhance", "none",
                      "--limit", "3", "--out", str(out), "--no-plots", "-q"]) == 0
    sample = json.loads((out / "metrics.json").read_text())["sample"]
    assert sample["how"] == "stratified" and sample["limit"] == 3 and len(sample["image_ids"]) == 3


def test_gallery_picks_where_rows_differ_most(tmp_path: Path) -> None:
    import numpy as np

    from lowlight_det.data.detection import ImageRecord
    from lowlight_det.eval.gallery import pick_images

    box = np.array([[10, 10, 40, 40]], np.float32)
    recs = [ImageRecord(i, tmp_path / f"{i}.png", 64, 64, box, np.array([0])) for i in (1, 2, 3)]
    hit = {"category_id": 1, "bbox": [10, 10, 30, 30], "score": 0.9}
    # image 1: both rows find it; image 2: only gamma (a gain); image 3: only none (a loss)
    preds = {"none": {1: [{**hit, "image_id": 1}], 3: [{**hit, "image_id": 3}]},
             "gamma": {1: [{**hit, "image_id": 1}], 2: [{**hit, "image_id": 2}]}}
    picks = pick_images(recs, preds, 2)
    assert [rec.image_id for rec, _ in picks] == [2, 3]
    assert picks[0][1] == {"none": 0, "gamma": 1}


@pytest.mark.integration
def test_fuse_adds_fused_rows_and_the_mirrored_control(write_scenes, tmp_path: Path) -> None:  # noqa: ANN001
    from lowlight_det.demo import demo_detector

    data = write_scenes(tmp_path / "ds", n=6, size=320, gain=1.0, seed=5)
    out = tmp_path / "fuse"
    assert eval_main(["--data", str(data), "--weights", str(demo_detector()), "--imgsz", "320", "--class-map", "identity",
                      "--enhance", "gamma", "--fuse", "--no-plots", "--out", str(out), "-q"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    rows = metrics["results"]
    assert list(rows) == ["none", "gamma", "flip", "fused-gamma", "fused-flip"]
    none, flip = rows["none"]["metrics"]["map50"], rows["flip"]["metrics"]["map50"]
    assert none > 30 and abs(flip - none) < 15  # mirrored boxes are mirrored back (else the control collapses)
    fused = metrics["fusion"]["fused-gamma"]
    assert fused["control"] == "fused-flip" and fused["ci95"][0] <= fused["delta_map50_vs_control"] <= fused["ci95"][1]
    assert fused["delta_map50_vs_control"] == pytest.approx(
        rows["fused-gamma"]["metrics"]["map50"] - rows["fused-flip"]["metrics"]["map50"], abs=1e-3)
    assert (out / "predictions_fused-gamma.json").is_file() and "### Fusion with the raw view" in (out / "report.md").read_text()


@pytest.mark.integration
def test_bfloat16_enhancer_precision_is_close_and_recorded(tmp_path: Path) -> None:
    base = ["--enhance", "zerodce", "--limit", "8", "--no-plots", "-q"]
    assert eval_main([*base, "--out", str(tmp_path / "fp32")]) == 0
    assert eval_main([*base, "--enhancer-precision", "bfloat16", "--out", str(tmp_path / "bf16")]) == 0
    fp32, bf16 = (json.loads((tmp_path / run / "metrics.json").read_text())["results"]["zerodce"]
                  for run in ("fp32", "bf16"))
    assert bf16["weights"]["precision"] == "bfloat16" and "precision" not in fp32["weights"]
    assert bf16["fingerprint"] != fp32["fingerprint"]  # --resume never mixes the two
    assert abs(bf16["metrics"]["map50"] - fp32["metrics"]["map50"]) < 1.0
    with pytest.raises(SystemExit, match="2"):  # argparse names the choices
        eval_main([*base, "--enhancer-precision", "float16", "--out", str(tmp_path / "bad")])
