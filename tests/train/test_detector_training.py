"""``finetune --train detector|joint``: a real Ultralytics detector trained with Ultralytics' loop (tiny run)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from lowlight_det import create_enhancer
from lowlight_det.enhancers import ZeroDCE
from lowlight_det.enhancers.weights import atomic_save, make_checkpoint, read_checkpoint
from lowlight_det.finetune import main as finetune_main


@pytest.fixture
def setup(tmp_path: Path, write_scenes) -> dict[str, Path]:  # noqa: ANN001
    data = write_scenes(tmp_path / "ds", splits=("train",), n=10, size=96, seed=11, gain=0.25, ext=".png",
                        names=["0", "1", "2", "3"])
    from lowlight_det.demo import demo_detector

    detector = tmp_path / "det.pt"  # a trained detector (the demo's)
    detector.write_bytes(demo_detector().read_bytes())
    init = atomic_save(make_checkpoint(ZeroDCE(), arch="zerodce", arch_kwargs={}, meta={}), tmp_path / "init.pt")
    return {"data": data, "detector": detector, "init": init}


def _args(s: dict[str, Path], out: Path, mode: str, epochs: int, *extra: str) -> list[str]:
    return ["--train", mode, "--detector", str(s["detector"]), "--data", str(s["data"]), "--val-split", "none",
            "--val-fraction", "0.3", "--imgsz", "64", "--batch-size", "4", "--epochs", str(epochs), "--out", str(out),
            "--device", "cpu", "--threads", "1", "-q", *extra]


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from lowlight_det.detection.ultralytics import build_detector

    return {k: v.float().clone() for k, v in build_detector(path).model.state_dict().items()}


@pytest.mark.integration
def test_detector_mode_trains_the_detector_behind_a_frozen_enhancer(setup: dict[str, Path], tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "polars", None)  # Ultralytics' optional reader is absent on some GPU images
    out = tmp_path / "det"
    assert finetune_main(_args(setup, out, "detector", 2, "--enhancer", "gamma", "--detector-lr", "1e-2")) == 0
    printed = capsys.readouterr().out
    best = out / "detector" / "weights" / "best.pt"
    assert best.is_file() and "fine-tuned" in printed
    before, after = _weights(setup["detector"]), _weights(best)
    assert any(not torch.allclose(before[k], after[k]) for k in before if k in after)  # the detector learned
    history = json.loads((out / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2] and all(r["val_map50"] is not None for r in history)
    holdout = json.loads((out / "holdout.json").read_text())
    assert holdout["holdout_images"] == 3 and holdout["tuning_images"] == 7
    assert holdout["tuned"]["enhancer"] == "gamma" and not (out / "enhancer_best.pt").exists()
    low, high = holdout["ci95"]
    assert low <= holdout["delta_map50_vs_zero_shot"] <= high
    # the detector file is what the evaluator takes
    from lowlight_det.eval.__main__ import main as eval_main

    assert eval_main(["--data", str(setup["data"]), "--split", "train", "--weights", str(best), "--enhance", "gamma",
                      "--imgsz", "64", "--no-plots", "--out", str(tmp_path / "eval"), "-q"]) == 0


@pytest.mark.integration
def test_joint_mode_trains_both_and_the_enhancer_loads_anywhere(setup: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "joint"  # one epoch: in longer runs Ultralytics' warm-up holds every lr at 0 for the first steps
    assert finetune_main(_args(setup, out, "joint", 1, "--enhancer", "zerodce", "--init-weights", str(setup["init"]),
                               "--lr", "1e-3")) == 0
    tuned = read_checkpoint(out / "enhancer_best.pt")
    init = read_checkpoint(setup["init"])["state_dict"]
    assert any(not torch.equal(init[k], v) for k, v in tuned["state_dict"].items())  # the enhancer learned
    assert create_enhancer("zerodce", weights=out / "enhancer_best.pt") is not None
    before, after = _weights(setup["detector"]), _weights(out / "detector" / "weights" / "best.pt")
    assert any(not torch.allclose(before[k], after[k]) for k in before if k in after)  # and the detector
    history = json.loads((out / "history.json").read_text())
    assert all(r["aux"] is not None and r["aux"] > 0 for r in history)  # the zero-reference terms were on


@pytest.mark.integration
def test_an_interrupted_detector_run_resumes_from_last_pt(setup: dict[str, Path], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from lowlight_det.detection.ultralytics import EnhancedDetectionTrainer

    out = tmp_path / "run"
    save = EnhancedDetectionTrainer.save_model

    def save_then_stop(self: EnhancedDetectionTrainer) -> object:  # the machine goes down after epoch 1's save
        save(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(EnhancedDetectionTrainer, "save_model", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        finetune_main(_args(setup, out, "detector", 2, "--enhancer", "none"))
    monkeypatch.setattr(EnhancedDetectionTrainer, "save_model", save)
    assert read_checkpoint(out / "last.pt")["epoch"] == 1
    assert finetune_main(["--resume", str(out / "last.pt"), "-q"]) == 0
    assert [r["epoch"] for r in json.loads((out / "history.json").read_text())] == [1, 2]
    assert (out / "detector" / "weights" / "best.pt").is_file()


@pytest.mark.integration
def test_the_warm_up_does_not_wreck_a_pretrained_detector(setup: dict[str, Path], tmp_path: Path) -> None:
    # Ultralytics' default warm-up starts the biases at 0.1: right for SGD at lr0 0.01, but with AdamW it moves every
    # bias by ~0.1 per step (a COCO YOLO11n fell from 55.7 to 5.5 mAP50 in its first epoch on ExDark). Here the
    # whole run is in the warm-up (2 steps of the 100 it lasts at least): biases move no faster than lr0 allows.
    out = tmp_path / "det"  # batch 64 (Ultralytics' nominal batch): one optimizer step per epoch, no accumulation
    args = _args(setup, out, "detector", 2, "--enhancer", "none", "--detector-lr", "1e-3")
    args[args.index("--batch-size") + 1] = "64"
    assert finetune_main(args) == 0
    before, after = _weights(setup["detector"]), _weights(out / "detector" / "weights" / "best.pt")
    biases = [k for k in before if k.endswith(".bias") and k in after]
    assert biases
    moved = max((after[k] - before[k]).abs().max().item() for k in biases)
    assert moved < 3e-3  # two AdamW steps of at most lr0 each, saved in fp16 (the bug: 0.1)


@pytest.mark.integration
def test_a_new_head_learns_classes_the_detector_never_knew(tmp_path: Path, write_scenes,  # noqa: ANN001
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from lowlight_det.demo import demo_detector
    from lowlight_det.detection.ultralytics import build_detector

    names = ["lamp", "sign", "cart", "kite", "boat"]  # none of them the demo detector's, and one class more
    data = write_scenes(tmp_path / "ds", splits=("train",), n=10, size=96, seed=11, gain=0.25, ext=".png", names=names)
    detector = tmp_path / "det.pt"
    detector.write_bytes(demo_detector().read_bytes())
    setup = {"data": data, "detector": detector}
    assert finetune_main(_args(setup, tmp_path / "kept", "detector", 1, "--enhancer", "none")) == 2
    assert "--new-head" in capsys.readouterr().err  # the detector's classes cannot be mapped: says what to do
    out = tmp_path / "new"
    assert finetune_main(_args(setup, out, "detector", 1, "--enhancer", "none", "--new-head")) == 0
    best = out / "detector" / "weights" / "best.pt"
    assert dict(build_detector(best).names) == dict(enumerate(names))
    holdout = json.loads((out / "holdout.json").read_text())
    assert holdout["zero_shot_none"] is None and holdout["tuned"]["map50"] >= 0 and "ci95" not in holdout
    assert "did not know these classes" in capsys.readouterr().out
    from lowlight_det.eval.__main__ import main as eval_main  # the evaluator maps the new head by name

    assert eval_main(["--data", str(data), "--split", "train", "--weights", str(best), "--enhance", "none",
                      "--imgsz", "64", "--no-plots", "--out", str(tmp_path / "eval"), "-q"]) == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["class_map"] == "by name"


def test_a_new_head_needs_a_detector_that_learns() -> None:
    from lowlight_det.config import FinetuneConfig

    with pytest.raises(ValueError, match="new_head trains the detector's head"):
        FinetuneConfig(new_head=True)  # --train enhancer: the detector is frozen
    assert FinetuneConfig(new_head=True, train="joint", enhancer="zerodce++").new_head


def test_results_csv_reads_as_ultralytics_reads_it_without_polars(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from ultralytics.models.yolo.detect import DetectionTrainer

    from lowlight_det.detection.ultralytics import EnhancedDetectionTrainer

    results = tmp_path / "results.csv"
    results.write_text("epoch,time,train/box_loss,metrics/mAP50(B),lr/pg0\n1,3.5,1.25,0.5,0.001\n2,7,1.125,0.625,1e-05\n")
    holder = SimpleNamespace(csv=results)
    expected = DetectionTrainer.read_results_csv(holder)  # Ultralytics' own reading, with polars
    assert expected["epoch"] == [1, 2] and expected["lr/pg0"] == [0.001, 1e-05]
    monkeypatch.setitem(sys.modules, "polars", None)
    with pytest.raises(ImportError):
        DetectionTrainer.read_results_csv(holder)
    assert EnhancedDetectionTrainer.read_results_csv(holder) == expected
    assert EnhancedDetectionTrainer.read_results_csv(SimpleNamespace(csv=tmp_path / "missing.csv")) == {}


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["detector", "joint"])
def test_torchrun_trains_with_two_cpu_processes(setup: dict[str, Path], tmp_path: Path, mode: str) -> None:
    out = tmp_path / mode
    extra = ["--enhancer", "zerodce", "--init-weights", str(setup["init"]), "--lr", "1e-3"] if mode == "joint" \
        else ["--enhancer", "gamma", "--detector-lr", "1e-2"]
    args = _args(setup, out, mode, 2, *extra)
    # batch 64 (Ultralytics' nominal batch, 32 per process): no accumulation, so after epoch 1 (the warm-up, lr 0)
    # epoch 2 makes one optimizer step with the gradients of both processes
    args[args.index("--batch-size") + 1] = "64"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "lowlight_det.finetune", *args],
                          env=env, timeout=900, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.count("fine-tuned") == 1, done.stdout  # one result, from the first process
    last = read_checkpoint(out / "last.pt")
    assert last["meta"]["processes"] == 2 and last["epoch"] == 2
    history = json.loads((out / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2] and all(r["val_map50"] is not None for r in history)
    holdout = json.loads((out / "holdout.json").read_text())  # the hold-out scored once, on all of its images
    assert holdout["holdout_images"] == 3 and holdout["tuning_images"] == 7 and "ci95" in holdout
    assert (out / "detector" / "weights" / "best.pt").is_file()
    before, after = _weights(setup["detector"]), _weights(out / "detector" / "weights" / "last.pt")
    learned = [k for k in before if k in after and k.endswith(".weight") and not torch.allclose(before[k], after[k])]
    assert learned  # the detector's weights (not only BatchNorm's running statistics) moved
    if mode == "joint":
        init = read_checkpoint(setup["init"])["state_dict"]
        assert any(not torch.equal(init[k], v) for k, v in last["state_dict"].items())  # and the enhancer's


def test_torchrun_needs_a_batch_the_processes_can_share(setup: dict[str, Path], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")  # checked before the process group is joined
    args = _args(setup, tmp_path / "odd", "detector", 1, "--enhancer", "none")
    args[args.index("--batch-size") + 1] = "5"
    assert finetune_main(args) == 2
    assert "multiple of their number" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.integration
def test_a_torchrun_run_stopped_mid_way_resumes_under_torchrun(setup: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "run"
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
              "lowlight_det.finetune"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.Popen([*launch, *_args(setup, out, "detector", 30, "--enhancer", "none", "--patience", "100")],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 600
    while not (out / "last.pt").is_file() and run.poll() is None and time.time() < deadline:
        time.sleep(0.5)
    os.killpg(run.pid, signal.SIGINT)  # the machine goes down after the first saved epoch
    run.wait(timeout=120)
    stopped = read_checkpoint(out / "last.pt")["epoch"]
    assert 1 <= stopped < 30
    done = subprocess.run([*launch, "--resume", str(out / "last.pt"), "-q"], env=env, timeout=900,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    assert [r["epoch"] for r in json.loads((out / "history.json").read_text())] == list(range(1, 31))
    assert read_checkpoint(out / "last.pt")["meta"]["processes"] == 2
