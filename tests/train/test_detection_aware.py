"""Detection-aware fine-tuning through a frozen real Ultralytics detector (tiny sizes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from lowlight_det import create_enhancer
from lowlight_det.config import FinetuneConfig
from lowlight_det.data.class_map import resolve_class_map
from lowlight_det.data.detection import DetectionDataset, to_coco
from lowlight_det.detection.pipeline import EnhancedDetector
from lowlight_det.enhancers import ZeroDCE
from lowlight_det.enhancers.denoise import binomial_blur
from lowlight_det.enhancers.weights import atomic_save, make_checkpoint, read_checkpoint
from lowlight_det.eval.coco import sliced_map50
from lowlight_det.finetune import main as finetune_main
from lowlight_det.train.detection_aware import self_labelled_holdout, tuning_data

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def setup(tmp_path: Path, write_scenes) -> dict[str, Path]:  # noqa: ANN001
    data = write_scenes(tmp_path / "ds", splits=("train",), n=10, size=96, seed=11, gain=0.25, ext=".png",
                        names=["0", "1", "2", "3"])
    from lowlight_det.demo import demo_detector

    detector = tmp_path / "det.pt"  # a trained detector (the demo's): its loss depends on what it sees
    detector.write_bytes(demo_detector().read_bytes())
    init = atomic_save(make_checkpoint(ZeroDCE(), arch="zerodce", arch_kwargs={}, meta={}), tmp_path / "init.pt")
    return {"data": data, "detector": detector, "init": init}


def _args(s: dict[str, Path], out: Path, epochs: int) -> list[str]:
    return ["--detector", str(s["detector"]), "--data", str(s["data"]), "--val-split", "none", "--val-fraction",
            "0.3", "--imgsz", "64", "--batch-size", "4", "--epochs", str(epochs), "--init-weights", str(s["init"]),
            "--lr", "1e-3", "--out", str(out), "--device", "cpu", "-q"]


@pytest.mark.integration
def test_finetune_trains_enhancer_only_keeps_best_and_resumes_exactly(setup: dict[str, Path], tmp_path: Path) -> None:
    det_before = (setup["detector"]).read_bytes()
    assert finetune_main(_args(setup, tmp_path / "full", 2)) == 0
    full = read_checkpoint(tmp_path / "full" / "last.pt")
    assert [r["epoch"] for r in full["history"]] == [1, 2]
    assert {"det", "ref", "val_map50", "val_map50_95"} <= set(full["history"][0])
    assert full["meta"]["dataset"]["val_images"] == 3 and full["meta"]["dataset"]["train_images"] == 7
    assert setup["detector"].read_bytes() == det_before
    init = read_checkpoint(setup["init"])["state_dict"]
    assert any(not torch.equal(init[k], v) for k, v in full["state_dict"].items())  # the enhancer learned
    best = create_enhancer("zerodce", weights=tmp_path / "full" / "best.pt")  # loads like any enhancer
    assert read_checkpoint(tmp_path / "full" / "best.pt")["meta"]["tuned_for"].startswith("detection")
    assert best is not None
    # resume: 1 epoch, then continue to 2 -> same weights as 2 straight epochs
    assert finetune_main(_args(setup, tmp_path / "part", 1)) == 0
    assert finetune_main([*_args(setup, tmp_path / "part", 2), "--resume", str(tmp_path / "part" / "last.pt")]) == 0
    part = read_checkpoint(tmp_path / "part" / "last.pt")
    assert all(torch.equal(full["state_dict"][k], part["state_dict"][k]) for k in full["state_dict"])


@pytest.mark.integration
def test_finetune_adaptive_learns_a_strength_gate(setup: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "gated"
    assert finetune_main([*_args(setup, out, 1), "--adaptive", "--gate-lr", "0.05"]) == 0
    last = read_checkpoint(out / "last.pt")
    assert last["arch_kwargs"]["adaptive"] is True
    assert 0 < last["history"][0]["strength"] < 1
    assert last["optimizer"]["param_groups"][1]["lr"] == 0.05  # the gate has its own learning rate
    init = read_checkpoint(setup["init"])["state_dict"]
    assert any(not torch.equal(init[k], v) for k, v in last["state_dict"].items() if k in init)
    fresh = ZeroDCE(adaptive=True).state_dict()  # the gate's init: zero last layer, bias logit(0.9)
    assert not torch.equal(last["state_dict"]["gate.fc2.weight"], fresh["gate.fc2.weight"])
    tuned = create_enhancer("zerodce", weights=out / "best.pt")
    assert tuned.adaptive  # loads gated everywhere an enhancer does


@pytest.mark.integration
def test_finetune_learns_a_spatial_strength_map(setup: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "spatial"
    assert finetune_main([*_args(setup, out, 1), "--adaptive", "--gate", "spatial", "--gate-lr", "0.05"]) == 0
    last = read_checkpoint(out / "last.pt")
    assert last["arch_kwargs"]["adaptive"] == "spatial" and 0 < last["history"][0]["strength"] < 1
    fresh = ZeroDCE(adaptive="spatial").state_dict()
    assert not torch.equal(last["state_dict"]["gate.fc2.weight"], fresh["gate.fc2.weight"])  # the map learned
    assert create_enhancer("zerodce", weights=out / "best.pt").adaptive == "spatial"


def test_pseudo_targets_are_the_detectors_own_confident_boxes() -> None:
    from lowlight_det.demo import SIZE, demo_detector, make_scene
    from lowlight_det.detection.ultralytics import build_detector, detector_module, pseudo_targets
    from lowlight_det.losses.detection import detection_loss, freeze

    detector = freeze(detector_module(build_detector(demo_detector())))
    scenes = [make_scene(3, i) for i in range(2)]  # well-lit demo scenes and their true boxes
    img = torch.stack([torch.from_numpy(s[0][..., ::-1].copy()).permute(2, 0, 1).float() / 255 for s in scenes])
    t = pseudo_targets(detector, img, conf=0.5)
    assert t["bboxes"].shape[1] == 4 and len(t["cls"]) == len(t["batch_idx"]) == len(t["bboxes"]) > 0
    assert ((t["bboxes"] >= 0) & (t["bboxes"] <= 1.01)).all() and set(t["batch_idx"].tolist()) == {0.0, 1.0}
    assert abs(len(t["cls"]) - sum(len(s[1]) for s in scenes)) <= 2  # about the scenes' true objects
    assert img.shape[-1] == SIZE
    own = detection_loss(detector, img, t)[0]
    darker = detection_loss(detector, img * 0.05, t)[0]
    assert darker > own  # what the teacher saw is harder to find in the dark: the signal an enhancer learns from


@pytest.mark.integration
def test_teacher_tunes_on_unlabelled_footage(setup: dict[str, Path], tmp_path: Path) -> None:
    """Label-free: a folder of images without labels, the detector's own detections on each image as the targets
    of its darker copy; the labelled data only holds the hold-out."""
    footage = setup["data"].parent / "images" / "train"  # the images alone: no labels are read from here
    out = tmp_path / "teacher"
    args = ["--detector", str(setup["detector"]), "--data", str(footage), "--val-data", str(setup["data"]),
            "--val-split", "train", "--w-det", "0", "--teacher", "1", "--teacher-conf", "0.05", "--darken-ev", "1",
            "3", "--imgsz", "64", "--batch-size", "4", "--epochs", "1", "--init-weights", str(setup["init"]),
            "--lr", "1e-3", "--out", str(out), "--device", "cpu", "-q"]
    assert finetune_main(args) == 0
    last = read_checkpoint(out / "last.pt")
    assert last["history"][0]["teacher"] > 0 and last["history"][0]["det"] == 0
    assert last["meta"]["dataset"]["train_images"] == 10 and last["meta"]["dataset"]["val_images"] == 10
    init = read_checkpoint(setup["init"])["state_dict"]
    assert any(not torch.equal(init[k], v) for k, v in last["state_dict"].items())  # it learned from no labels
    # without labels and without the teacher there is nothing to learn from: a clear error
    assert finetune_main([*args[:-1], "--teacher", "0", "-q"]) == 2


@pytest.mark.integration
def test_teacher_without_any_label_validates_on_footage_the_detector_labels(setup: dict[str, Path],
                                                                         tmp_path: Path) -> None:
    """No label anywhere: the hold-out is more of the same footage, labelled by the frozen detector itself, as it is
    and darker; the weights carry the footage's terms, not a labelled dataset's."""
    from lowlight_det.demo import SIZE, make_scene
    from lowlight_det.io import write_image

    footage = tmp_path / "footage"  # the demo's scenes, which its detector knows, as a folder of images
    for i in range(10):
        write_image(footage / f"{i:02d}.png", make_scene(5, i)[0])
    out = tmp_path / "self"
    args = ["--detector", str(setup["detector"]), "--data", str(footage), "--w-det", "0", "--teacher", "1",
            "--teacher-conf", "0.25", "--darken-ev", "3", "5", "--limit", "6", "--val-fraction", "0.5", "--imgsz",
            str(SIZE), "--batch-size", "4", "--epochs", "1", "--init-weights", str(setup["init"]), "--lr", "1e-3",
            "--out", str(out), "--device", "cpu", "-q"]
    assert finetune_main(args) == 0
    meta = read_checkpoint(out / "last.pt")["meta"]
    assert meta["dataset"]["train_images"] == 6 and meta["dataset"]["val_images"] == 6  # 3 others, as is and darker
    assert "labelled by the detector itself" in meta["dataset"]["val"] and meta["data_terms"] is None
    holdout = json.loads((out / "holdout.json").read_text())
    assert holdout["holdout_images"] == 6 and "best" in holdout and "ci95" in holdout
    history = read_checkpoint(out / "last.pt")["history"]
    assert set(history[0]["val_map50_by_light"]) == set(holdout["best"]["map50_by_light"]) == {"as is", "4 EV darker"}
    # the same hold-out again: what `none` finds with confidence >= 0.25 on 3 other images of the footage, as their
    # boxes, and the same boxes on copies 4 stops darker (the middle of 3..5) with ids after the originals'
    cfg = FinetuneConfig(detector=str(setup["detector"]), data=str(footage), w_det=0, teacher=1, limit=6,
                         val_fraction=0.5, darken_ev_min=3, darken_ev_max=5, imgsz=SIZE, batch_size=4, device="cpu")
    data = tuning_data(cfg)
    assert data.self_labelled and {r.image_id for r in data.val}.isdisjoint(r.image_id for r in data.train)
    det = EnhancedDetector(str(setup["detector"]), "none", device=torch.device("cpu"), imgsz=SIZE, threads=1)
    names = [str(det.names[i]) for i in sorted(det.names)]
    val = self_labelled_holdout(det, data.val, resolve_class_map("identity", names, det.names), cfg, tmp_path / "h")
    assert [r.attributes["light"] for r in val] == ["as is"] * 3 + ["4 EV darker"] * 3
    assert all((a.boxes_xyxy == b.boxes_xyxy).all() for a, b in zip(val[:3], val[3:], strict=True))
    assert sum(len(r.labels) for r in val[:3]) > 0 and len({r.image_id for r in val}) == 6
    # the run validated `none` on exactly that: 100 on the originals by construction, less in the dark
    none = json.loads((out / "holdout_none.json").read_text())
    by_light = sliced_map50(to_coco(DetectionDataset("val", names, val)), none, "light")
    assert by_light["as is"] == pytest.approx(100.0, abs=0.5) and by_light["4 EV darker"] < by_light["as is"]
    assert holdout["none"]["map50_by_light"] == pytest.approx(by_light)  # and says so, half by half
    # the detector itself cannot be trained on footage without labels
    assert finetune_main([*args[:-1], "--train", "detector", "-q"]) == 2


def test_finetune_needs_a_detector(capsys: pytest.CaptureFixture[str]) -> None:
    assert finetune_main(["--data", "x", "-q"]) == 2
    assert "--detector is required" in capsys.readouterr().err


_DDP_DRIVER = """
import sys, torch, torch.distributed as dist
from lowlight_det.config import FinetuneConfig, load_config
from lowlight_det.train.detection_aware import finetune
torch.manual_seed(0)
torch.set_num_threads(1)
cfg = load_config(FinetuneConfig, overrides=dict(detector=sys.argv[1], data=sys.argv[2], init_weights=sys.argv[3],
                  out=sys.argv[4], imgsz=64, batch_size=2, epochs=1, lr=1e-3, device="cpu", threads=1))
cfg = cfg.__class__(**{**cfg.__dict__, "val_split": None, "val_fraction": 0.3})
result = finetune(cfg, progress=False)
torch.save(result.model.state_dict(), f"{sys.argv[4]}/rank{dist.get_rank()}.pt")
dist.destroy_process_group()
"""


@pytest.mark.integration
def test_finetune_ddp_two_cpu_processes(setup: dict[str, Path], tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    driver = tmp_path / "driver.py"
    driver.write_text(_DDP_DRIVER)
    out = tmp_path / "ddp"
    out.mkdir()
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                    str(driver), str(setup["detector"]), str(setup["data"]), str(setup["init"]), str(out)],
                   check=True, timeout=600, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    a = torch.load(out / "rank0.pt", weights_only=True)
    b = torch.load(out / "rank1.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    init = read_checkpoint(setup["init"])["state_dict"]
    assert any(not torch.equal(init[k], a[k]) for k in a)


def test_shipped_finetune_config_is_the_recipe_of_the_shipped_weights() -> None:
    from lowlight_det.config import FinetuneConfig, load_config, to_dict

    keys = ("enhancer", "init_weights", "adaptive", "gate_lr", "lr", "weight_decay", "grad_clip", "batch_size",
            "imgsz", "w_det", "w_ref", "val_split", "val_fraction", "patience", "epochs", "seed", "loss")
    dark_end = ("denoise", "w_blur", "darken_share", "darken_ev_min", "darken_ev_max", "darken_sensor", "limit",
                "teacher")
    for config, weights, extra in (("finetune_zerodcepp_yolo11n.yaml", "zerodce++.det-yolo11n", ()),
                                   ("finetune_zerodcepp_yolo11n_dark.yaml", "zerodce++.det-yolo11n-dnbt", dark_end),
                                   ("finetune_zerodcepp_yolo11n_free.yaml", "zerodce++.det-yolo11n-free",
                                    (*dark_end, "data", "val_data"))):
        cfg = to_dict(load_config(FinetuneConfig, REPO / "configs" / config))
        assert cfg["val_split"] is None and cfg["adaptive"]
        shipped = read_checkpoint(create_enhancer("zerodce++", weights=weights).weights_source)["meta"]["config"]
        assert {k: cfg[k] for k in keys + extra} == {k: shipped[k] for k in keys + extra}


@pytest.mark.integration
def test_detection_loss_gradient_reaches_the_enhancer_not_the_detector() -> None:
    from lowlight_det.detection.ultralytics import build_detector, detector_module
    from lowlight_det.losses.detection import detection_loss, freeze

    torch.manual_seed(0)
    detector = freeze(detector_module(build_detector(REPO / "benchmarks" / "demo_yolo.yaml")))
    enhancer = ZeroDCE()
    img = torch.rand(2, 3, 64, 64) * 0.3
    targets = {"batch_idx": torch.tensor([0.0, 1.0]), "cls": torch.tensor([[1.0], [2.0]]),
               "bboxes": torch.tensor([[0.5, 0.5, 0.4, 0.3], [0.3, 0.6, 0.2, 0.2]])}
    loss, _ = detection_loss(detector, enhancer(img), targets)
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    grads = {n: p.grad for n, p in enhancer.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    assert all(g.abs().sum() > 0 for n, g in grads.items() if n.endswith("weight"))  # every layer is pushed
    assert all(p.grad is None for p in detector.parameters())  # frozen: nothing flows into the detector


@pytest.mark.integration
def test_class_restricted_loss_ignores_the_classes_it_does_not_score() -> None:
    from lowlight_det.detection.ultralytics import build_detector, class_restricted_loss, detector_module
    from lowlight_det.losses.detection import detection_loss, freeze

    torch.manual_seed(0)
    detector = freeze(detector_module(build_detector(REPO / "benchmarks" / "demo_yolo.yaml")))  # 4 classes
    img = torch.rand(2, 3, 64, 64)
    targets = {"batch_idx": torch.tensor([0.0, 1.0]), "cls": torch.tensor([[0.0], [1.0]]),
               "bboxes": torch.tensor([[0.5, 0.5, 0.4, 0.3], [0.3, 0.6, 0.2, 0.2]])}
    scored, every = class_restricted_loss(detector, [0, 1]), class_restricted_loss(detector, range(4))

    def losses() -> list[float]:
        return [detection_loss(detector, img, targets, criterion=c)[0].item() for c in (None, every, scored)]

    default, all_classes, restricted = losses()
    assert all_classes == default  # every class scored: Ultralytics' own loss, to the bit
    assert restricted < default
    for branch in detector.model[-1].cv3:  # make class 3 (not scored) confident everywhere: a flood of detections
        branch[-1].bias.data[3] += 8.0
    default2, _, restricted2 = losses()
    assert default2 > default + 1  # Ultralytics' loss calls them false positives
    assert restricted2 == pytest.approx(restricted, rel=1e-6)  # the restricted loss does not see them
    for bad in ([], [4], [-1]):
        with pytest.raises(ValueError, match="loss classes"):
            class_restricted_loss(detector, bad)


@pytest.mark.integration
def test_finetune_scores_only_the_class_maps_classes_on_request(setup: dict[str, Path], tmp_path: Path) -> None:
    assert finetune_main([*_args(setup, tmp_path / "all", 1)]) == 0
    assert finetune_main([*_args(setup, tmp_path / "labelled", 1), "--loss-classes", "labelled"]) == 0
    every, labelled = (read_checkpoint(tmp_path / run / "last.pt") for run in ("all", "labelled"))
    assert labelled["meta"]["loss_classes"] == "labelled" and every["meta"]["loss_classes"] == "all"
    # the demo detector's 4 classes are the dataset's 4: scoring only the mapped classes is scoring all of them
    assert labelled["history"][0]["det"] == every["history"][0]["det"]
    assert all(torch.equal(every["state_dict"][k], v) for k, v in labelled["state_dict"].items())
    with pytest.raises(ValueError, match="loss_classes must be one of"):
        FinetuneConfig(loss_classes="some")
    with pytest.raises(ValueError, match="loss_classes shapes the frozen detector's loss"):
        FinetuneConfig(train="detector", enhancer="none", loss_classes="labelled")


@pytest.mark.integration
def test_finetune_with_only_the_detection_loss_moves_the_enhancer(setup: dict[str, Path], tmp_path: Path) -> None:
    assert finetune_main([*_args(setup, tmp_path / "det", 1), "--w-ref", "0"]) == 0
    assert finetune_main([*_args(setup, tmp_path / "off", 1), "--w-ref", "0", "--w-det", "0"]) == 0  # decay only
    det, off = (read_checkpoint(tmp_path / run / "last.pt") for run in ("det", "off"))
    assert det["history"][0]["ref"] > 0 and det["meta"]["config"]["w_ref"] == 0  # logged, not trained on
    assert any(not torch.equal(off["state_dict"][k], v) for k, v in det["state_dict"].items())


@pytest.mark.integration
def test_finetune_darkens_a_share_on_the_fly_and_still_resumes_exactly(setup: dict[str, Path], tmp_path: Path) -> None:
    dark = ["--darken-share", "0.5", "--darken-ev", "2", "5"]
    assert finetune_main([*_args(setup, tmp_path / "plain", 1)]) == 0
    assert finetune_main([*_args(setup, tmp_path / "full", 2), *dark]) == 0
    full = read_checkpoint(tmp_path / "full" / "last.pt")
    plain = read_checkpoint(tmp_path / "plain" / "last.pt")
    assert full["meta"]["config"]["darken_share"] == 0.5 and full["meta"]["config"]["darken_ev_max"] == 5
    assert full["history"][0]["det"] != plain["history"][0]["det"]  # the detector saw other (darker) images
    assert finetune_main([*_args(setup, tmp_path / "part", 1), *dark]) == 0
    assert finetune_main([*_args(setup, tmp_path / "part", 2), "--resume", str(tmp_path / "part" / "last.pt")]) == 0
    part = read_checkpoint(tmp_path / "part" / "last.pt")
    assert all(torch.equal(full["state_dict"][k], part["state_dict"][k]) for k in full["state_dict"])


@pytest.mark.integration
def test_finetune_learns_a_denoising_stage_on_randomly_sensed_dark_images(setup: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "denoise"
    args = [*_args(setup, out, 1), "--denoise", "--gate-lr", "0.05", "--darken-share", "1", "--darken-ev", "3", "5",
            "--darken-sensor", "random"]
    assert finetune_main(args) == 0
    last = read_checkpoint(out / "last.pt")
    assert last["arch_kwargs"]["denoise"] is True and last["meta"]["config"]["darken_sensor"] == "random"
    assert last["optimizer"]["param_groups"][1]["lr"] == 0.05  # the stage learns at the small heads' rate
    fresh = ZeroDCE(denoise=True).state_dict()
    assert not torch.equal(last["state_dict"]["denoiser.fc2.weight"], fresh["denoiser.fc2.weight"])
    assert create_enhancer("zerodce", weights=out / "best.pt").denoise
    # a fixed sensor darkens the same batches differently: the run saw other images
    assert finetune_main([*args[:-1], "fixed", "--out", str(tmp_path / "fixed")]) == 0
    fixed = read_checkpoint(tmp_path / "fixed" / "last.pt")
    assert fixed["history"][0]["det"] != last["history"][0]["det"]
    with pytest.raises(SystemExit):
        finetune_main([*args[:-1], "noisy"])
    # the two-scale stage (--denoise-scales 2) is tuned and saved as such; it needs --denoise
    assert finetune_main([*args, "--denoise-scales", "2", "--out", str(tmp_path / "two")]) == 0
    two = read_checkpoint(tmp_path / "two" / "last.pt")
    assert two["arch_kwargs"]["denoise"] == 2 and two["state_dict"]["denoiser.fc2.bias"].shape == (2,)
    assert not torch.equal(two["state_dict"]["denoiser.fc2.weight"], ZeroDCE(denoise=2).state_dict()["denoiser.fc2.weight"])
    assert finetune_main([*_args(setup, tmp_path / "y", 1), "--denoise-scales", "2"]) == 2  # the config error


_CLEAN = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 0.5 + 0.25  # lit, quiet images


def _free_and_penalised(setup: dict[str, Path], tmp_path: Path, epochs: int, options: list[str],
                        penalty: str) -> tuple[dict[str, Any], dict[str, Any], list[torch.nn.Module]]:
    """Two runs, half of each batch darkened, without and with ``penalty`` 20 (a penalty on images as they are):
    their last checkpoints and enhancers; the penalty without the option it needs is a named config error."""
    base = [*_args(setup, tmp_path / "free", epochs), *options, "--darken-share", "0.5", "--darken-ev", "3", "5"]
    assert finetune_main(base) == 0
    assert finetune_main([*base, penalty, "20", "--out", str(tmp_path / "pen")]) == 0
    assert finetune_main([*_args(setup, tmp_path / "x", 1), penalty, "1"]) == 2
    assert not (tmp_path / "x" / "last.pt").exists()
    runs = ("free", "pen")
    free, pen = (read_checkpoint(tmp_path / run / "last.pt") for run in runs)
    return free, pen, [create_enhancer("zerodce", weights=tmp_path / run / "last.pt") for run in runs]


@pytest.mark.integration
def test_strength_penalty_lowers_the_strength_on_images_as_they_are(setup: dict[str, Path], tmp_path: Path) -> None:
    """--w-strength: the gate's mean strength over the undarkened images joins the loss (logged as strength_as_is),
    so the curves learn to leave images as they are alone; without --adaptive it is refused."""
    free, pen, models = _free_and_penalised(setup, tmp_path, 1, ["--adaptive", "--gate-lr", "0.3"], "--w-strength")
    assert pen["meta"]["config"]["w_strength"] == 20 and "strength_as_is" in pen["history"][0]
    assert "strength_as_is" not in free["history"][0]
    strengths = []
    for model in models:
        assert model.gate is not None
        with torch.no_grad():
            strengths.append(float(model.gate(_CLEAN).mean()))
    assert strengths[1] < strengths[0] - 0.05


@pytest.mark.integration
def test_blur_penalty_lowers_the_denoising_map_on_images_as_they_are(setup: dict[str, Path], tmp_path: Path) -> None:
    """--w-blur: the denoising map's mean over the undarkened images joins the loss (and is logged), so the stage
    learns to leave images as they are alone; without --denoise it is refused."""
    free, pen, models = _free_and_penalised(setup, tmp_path, 2, ["--denoise", "--gate-lr", "0.05"], "--w-blur")
    assert pen["meta"]["config"]["w_blur"] == 20 and all("blur" in r for r in free["history"] + pen["history"])
    assert pen["history"][-1]["blur"] < free["history"][-1]["blur"]
    maps = []
    for model in models:
        assert model.denoiser is not None
        with torch.no_grad():
            maps.append(float(model.denoiser.mix_map(_CLEAN, _CLEAN - binomial_blur(_CLEAN)).mean()))
    assert maps[1] < maps[0]


@pytest.mark.integration
def test_finetune_says_whether_it_helped(setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    out = tmp_path / "told"
    assert finetune_main(_args(setup, out, 2)) == 0
    printed = capsys.readouterr().out
    assert "hold-out (3 images; tuned on 7): none " in printed and "vs none [" in printed
    holdout = json.loads((out / "holdout.json").read_text())
    assert {"none", "start", "best", "delta_map50_vs_none", "ci95"} <= set(holdout)
    low, high = holdout["ci95"]
    assert low <= holdout["delta_map50_vs_none"] <= high
    assert holdout["delta_map50_vs_none"] == pytest.approx(holdout["best"]["map50"] - holdout["none"]["map50"], abs=1e-3)
    rows = read_checkpoint(out / "last.pt")["history"]
    assert all(r["none_map50"] == holdout["none"]["map50"] and "start_map50" in r for r in rows)
