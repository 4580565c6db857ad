"""Catalogue, tracebacks turned into messages: what users cause gets one clear line naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from lowlight_det.enhance import main as enhance_main
from lowlight_det.eval.__main__ import main as eval_main
from lowlight_det.export import main as export_main
from lowlight_det.finetune import main as finetune_main
from lowlight_det.train.__main__ import main as train_main

REPO = Path(__file__).resolve().parents[2]
TINY_YOLO = REPO / "benchmarks" / "demo_yolo.yaml"


@pytest.fixture
def blocked(tmp_path: Path) -> Path:
    """An output path that cannot be created (a file stands where a folder should be); root ignores chmod."""
    (tmp_path / "blocker").write_text("a file")
    return tmp_path / "blocker" / "out"


@pytest.fixture
def sice(tmp_path: Path) -> Path:
    folder = tmp_path / "sice"
    folder.mkdir()
    for i in range(4):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((40, 40, 3), 30 + 10 * i, np.uint8))
    return folder


@pytest.fixture
def tiny_yolo_data(tmp_path: Path, write_scenes) -> Path:  # noqa: ANN001
    return write_scenes(tmp_path / "ds", n=3)


def test_eval_into_an_unwritable_folder(run_cli, tiny_yolo_data, blocked) -> None:  # noqa: ANN001
    result = run_cli(eval_main, ["--data", tiny_yolo_data, "--weights", TINY_YOLO, "--imgsz", "64", "--out", blocked,
                                 "--enhance", "none", "-q"])
    assert result.code == 2 and "cannot write" in result.err and "blocker" in result.err


def test_train_into_an_unwritable_folder(run_cli, sice, blocked) -> None:  # noqa: ANN001
    result = run_cli(train_main, ["--data", sice, "--out", blocked, "--imgsz", "32", "--epochs", "1", "--device", "cpu",
                                  "-q"])
    assert result.code == 2 and "cannot write" in result.err


def test_export_into_an_unwritable_folder(run_cli, blocked) -> None:  # noqa: ANN001
    result = run_cli(export_main, ["--enhancer", "zerodce++", "--format", "torchscript", "--out", blocked / "m.pt", "-q"])
    assert result.code == 2 and "blocker" in result.err


def test_enhance_into_an_unwritable_folder_names_the_output(run_cli, blocked, tmp_path) -> None:  # noqa: ANN001
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(src / name), np.full((20, 20, 3), 40, np.uint8))
    result = run_cli(enhance_main, [src, "--out", blocked, "--enhancer", "gamma", "-q"])
    assert result.code == 2 and "cannot write" in result.err and str(blocked) in result.err
    assert "skipped" not in result.err  # the inputs are fine: no input is blamed


def _coco_json(tmp_path: Path, data: dict) -> Path:
    cv2.imwrite(str(tmp_path / "a.png"), np.full((48, 64, 3), 60, np.uint8))
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(data))
    return path


def test_coco_json_without_sizes_takes_them_from_the_images(tmp_path: Path) -> None:
    from lowlight_det.data.detection import load_coco

    path = _coco_json(tmp_path, {"images": [{"id": 1, "file_name": "a.png"}], "categories": [{"id": 1, "name": "x"}],
                                 "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 9, 9]}]})
    rec = load_coco(path).records[0]
    assert (rec.width, rec.height) == (64, 48) and len(rec.labels) == 1


@pytest.mark.parametrize(("data", "message"), [
    ({"images": [{"id": 1, "file_name": "a.png"}], "annotations": []}, "no 'categories' list"),
    ({"categories": []}, "no 'images' list"),
    ({"images": [{"file_name": "a.png"}], "categories": []}, "needs an 'id' and a 'file_name'"),
    ({"images": [], "categories": [{"id": 1}]}, "every category needs an 'id' and a 'name'"),
])
def test_broken_coco_json_is_a_clear_error(run_cli, tmp_path, data, message) -> None:  # noqa: ANN001
    path = _coco_json(tmp_path, data)
    result = run_cli(eval_main, ["--data", path, "--weights", TINY_YOLO, "--out", tmp_path / "o", "-q"])
    assert result.code == 2 and message in result.err and str(path) in result.err


def test_yaml_11_float_strings_are_numbers(tmp_path: Path) -> None:
    from lowlight_det.config import TrainConfig, load_config

    (tmp_path / "c.yaml").write_text("lr: 1e-3\nloss:\n  exposure: 5e1\n")  # YAML 1.1 reads both as strings
    cfg = load_config(TrainConfig, tmp_path / "c.yaml")
    assert cfg.lr == 1e-3 and cfg.loss.exposure == 50.0


@pytest.mark.parametrize(("text", "message"), [
    ('epochs: "three"\n', "epochs must be an integer, got 'three'"),
    ("lr: fast\n", "lr must be a number, got 'fast'"),
    ("epochs: 3\n  lr: [\n", "not valid YAML"),
    ("- just\n- a list\n", "expected a mapping of config keys"),
    ("enhancer: zerodce-det\n", "enhancer must be an architecture that can be trained"),
    ("lr: 1.0e+38\n", "lr must be in (0, 1]"),
    ("loss: 3\n", "loss must be a mapping"),
])
def test_bad_train_config_names_the_file(run_cli, sice, tmp_path, text, message) -> None:  # noqa: ANN001
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    result = run_cli(train_main, ["--config", cfg, "--data", sice, "--out", tmp_path / "o", "-q"])
    assert result.code == 2 and message in result.err and str(cfg) in result.err


def test_train_with_a_huge_learning_rate_flag(run_cli, sice, tmp_path) -> None:  # noqa: ANN001
    result = run_cli(train_main, ["--lr", "1e38", "--data", sice, "--out", tmp_path / "o", "-q"])
    assert result.code == 2 and "--lr" in result.err and "in (0, 1]" in result.err


def test_train_refuses_weights_names_as_architectures(run_cli, sice, tmp_path) -> None:  # noqa: ANN001
    result = run_cli(train_main, ["--enhancer", "zerodce-det", "--data", sice, "--out", tmp_path / "o", "-q"])
    assert result.code == 2 and "invalid choice" in result.err


def test_missing_config_file(run_cli, tmp_path) -> None:  # noqa: ANN001
    result = run_cli(train_main, ["--config", tmp_path / "nope.yaml", "-q"])
    assert result.code == 2 and "nope.yaml does not exist" in result.err and "shipped configs" in result.err


@pytest.fixture
def finetune_setup(tmp_path: Path, write_scenes) -> dict[str, Path]:  # noqa: ANN001
    from ultralytics import YOLO

    data = write_scenes(tmp_path / "ft", splits=("train",), n=6, size=64, names=["0", "1", "2", "3"])
    detector = tmp_path / "det.pt"
    torch.manual_seed(0)
    YOLO(str(TINY_YOLO)).save(str(detector))
    return {"data": data, "detector": detector}


def _finetune(s: dict[str, Path], out: Path, *extra: object) -> list[object]:
    return ["--detector", s["detector"], "--data", s["data"], "--val-split", "none", "--imgsz", "64", "--batch-size",
            "3", "--epochs", "1", "--out", out, "--device", "cpu",
            "-q", *extra]


@pytest.mark.integration
def test_finetune_resume_from_the_wrong_checkpoints(run_cli, finetune_setup, sice, tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "ft_run"
    assert run_cli(finetune_main, _finetune(finetune_setup, out)).code == 0
    last = torch.load(out / "last.pt", weights_only=True)
    assert last["job"] == "finetune" and "scaler" in last  # AMP's loss scale resumes with the run (empty on CPU)
    result = run_cli(finetune_main, _finetune(finetune_setup, out, "--resume", out / "best.pt"))
    assert result.code == 2 and "enhancer weights only" in result.err and "last.pt" in result.err
    assert run_cli(train_main, ["--data", sice, "--out", tmp_path / "zr", "--imgsz", "32", "--epochs", "1",
                                "--device", "cpu", "-q"]).code == 0
    result = run_cli(finetune_main, _finetune(finetune_setup, out, "--resume", tmp_path / "zr" / "last.pt"))
    assert result.code == 2 and "zero-reference training checkpoint" in result.err
    result = run_cli(finetune_main, _finetune(finetune_setup, out, "--resume", out / "last.pt", "--adaptive"))
    assert result.code == 2 and "adaptive True" in result.err
    result = run_cli(train_main, ["--data", sice, "--out", tmp_path / "zr", "--resume", out / "last.pt", "-q"])
    assert result.code == 2 and "finetune training checkpoint" in result.err


@pytest.mark.parametrize("kind", ["truncated", "random", "enhancer", "empty"])
def test_bad_files_as_detectors(run_cli, tiny_yolo_data, tmp_path, kind) -> None:  # noqa: ANN001
    path = tmp_path / f"{kind}.pt"
    if kind == "truncated":
        from ultralytics import YOLO

        YOLO(str(TINY_YOLO)).save(str(tmp_path / "full.pt"))
        data = (tmp_path / "full.pt").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "enhancer":
        path.write_bytes((REPO / "lowlight_det" / "weights" / "zerodce++-sice-3fa26231.pt").read_bytes())
    else:
        path.write_bytes(b"")
    result = run_cli(eval_main, ["--data", tiny_yolo_data, "--weights", path, "--out", tmp_path / "o", "-q"])
    assert result.code == 2 and str(path) in result.err and "cannot load this file" in result.err


def test_version_does_not_depend_on_the_package_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from the folder above a clone, ``lowlight_det`` can be a namespace package without attributes."""
    from importlib import metadata

    import lowlight_det
    from lowlight_det.runinfo import git_commit, versions

    monkeypatch.delattr(lowlight_det, "__version__")
    monkeypatch.setattr(lowlight_det, "__file__", None)
    assert versions()["lowlight_det"] == metadata.version("lowlight_det")
    git_commit()  # no AttributeError / TypeError
