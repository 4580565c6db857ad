"""Catalogue, silent wrong results: each case is now a clear error, a counted warning, or correct behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from lowlight_det.darken import main as darken_main
from lowlight_det.data.detection import load_coco, load_yolo
from lowlight_det.data.exdark import load_exdark
from lowlight_det.enhance import main as enhance_main
from lowlight_det.eval.__main__ import main as eval_main
from lowlight_det.export import main as export_main
from lowlight_det.train.__main__ import main as train_main

REPO = Path(__file__).resolve().parents[2]
TINY_YOLO = REPO / "benchmarks" / "demo_yolo.yaml"


def _metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


def _demo_eval(data: Path, out: Path, *extra: str) -> list[str]:
    from lowlight_det.demo import demo_detector

    return ["--data", str(data), "--weights", str(demo_detector()), "--enhance", "none", "--imgsz", "320",
            "--class-map", "identity", "--out", str(out), "--no-plots", "-q", *extra]


@pytest.mark.integration
def test_reused_output_folder_scores_the_new_dataset(run_cli, write_scenes, tmp_path) -> None:  # noqa: ANN001
    first = write_scenes(tmp_path / "a", n=6, size=320, gain=1.0, seed=5)
    second = write_scenes(tmp_path / "b", n=6, size=320, gain=1.0, seed=9)
    assert run_cli(eval_main, _demo_eval(first, tmp_path / "shared")).code == 0
    assert run_cli(eval_main, _demo_eval(second, tmp_path / "shared")).code == 0
    assert run_cli(eval_main, _demo_eval(second, tmp_path / "fresh")).code == 0
    reused, fresh = (_metrics(tmp_path / d)["results"]["none"]["metrics"] for d in ("shared", "fresh"))
    assert fresh["map50"] > 30  # a real detector on its own kind of scenes
    assert reused == fresh


@pytest.mark.integration
def test_resume_recomputes_rows_when_labels_or_batch_size_change(run_cli, write_scenes, tmp_path) -> None:  # noqa: ANN001
    data = write_scenes(tmp_path / "ds", n=6, size=320, gain=1.0, seed=5)
    out = tmp_path / "o"
    assert run_cli(eval_main, _demo_eval(data, out)).code == 0
    before = _metrics(out)["results"]["none"]["metrics"]["map50"]
    label = tmp_path / "ds" / "labels" / "val" / "0.txt"
    label.write_text("".join(line[:2] + "0.1 0.1 0.05 0.05\n" for line in label.read_text().splitlines()))
    assert run_cli(eval_main, _demo_eval(data, out, "--resume")).code == 0
    assert _metrics(out)["results"]["none"]["metrics"]["map50"] != before  # scored against the new labels
    stamp = (out / "results" / "none.json").stat().st_mtime_ns
    assert run_cli(eval_main, _demo_eval(data, out, "--resume")).code == 0
    assert (out / "results" / "none.json").stat().st_mtime_ns == stamp  # unchanged: reused
    assert run_cli(eval_main, _demo_eval(data, out, "--resume", "--batch-size", "2")).code == 0
    assert (out / "results" / "none.json").stat().st_mtime_ns != stamp


def test_enhance_refuses_two_inputs_with_one_output_name(run_cli, image_file, tmp_path) -> None:  # noqa: ANN001
    a, b = image_file(tmp_path / "a" / "img.png"), image_file(tmp_path / "b" / "img.png", value=90)
    for inputs in ([tmp_path / "a", tmp_path / "b"], [a, b]):
        result = run_cli(enhance_main, [*inputs, "--out", tmp_path / "out", "--enhancer", "gamma", "-q"])
        assert result.code == 2 and "would both be written to" in result.err
    assert not (tmp_path / "out").exists()


def test_enhance_never_overwrites_its_inputs(run_cli, image_file, tmp_path) -> None:  # noqa: ANN001
    src = image_file(tmp_path / "in" / "img.png")
    original = src.read_bytes()
    result = run_cli(enhance_main, [tmp_path / "in", "--out", tmp_path / "in", "--enhancer", "gamma", "-q"])
    assert result.code == 2 and "inside the input folder" in result.err
    result = run_cli(enhance_main, [src, "--out", tmp_path / "in", "--enhancer", "gamma", "-q"])
    assert result.code == 2 and "would overwrite the input" in result.err
    assert src.read_bytes() == original


def test_darken_keeps_same_named_images_apart_and_counts_skipped_files(run_cli, image_file, tmp_path) -> None:  # noqa: ANN001
    root = tmp_path / "src"
    for sub, value in (("a", 80), ("b", 200)):
        image_file(root / "images" / "val" / sub / "img.jpg", value=value)
        (root / "labels" / "val" / sub).mkdir(parents=True)
        (root / "labels" / "val" / sub / "img.txt").write_text(f"0 0.5 0.5 0.{2 if sub == 'a' else 4} 0.2\n")
    (root / "images" / "val" / "broken.jpg").write_bytes(b"")
    (root / "data.yaml").write_text(f"path: {root}\nval: images/val\nnames: ['thing']\n")
    result = run_cli(darken_main, ["--data", root / "data.yaml", "--out", tmp_path / "dark", "--splits", "val"])
    assert result.code == 1 and "1 failed" in result.out and "unreadable_images 1" in result.out
    dark = load_yolo(tmp_path / "dark" / "data.yaml", "val")
    assert len(dark.records) == 2  # two outputs, each with its own labels
    assert sorted(round(float(r.boxes_xyxy[0, 2] - r.boxes_xyxy[0, 0])) for r in dark.records) == [13, 26]


def _coco(tmp_path: Path, image_file, images: list[dict], annotations: list[dict]) -> Path:  # noqa: ANN001
    for im in images:
        if im.get("file_name", "").endswith(".png") and not im.get("_skip"):
            image_file(tmp_path / im["file_name"], w=im.pop("_w", 64), h=im.pop("_h", 48))
    path = tmp_path / "gt.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": 1, "name": "thing"}]}))
    return path


def test_coco_boxes_without_area_are_dropped_and_counted(image_file, tmp_path) -> None:  # noqa: ANN001
    path = _coco(tmp_path, image_file, [{"id": 1, "file_name": "a.png", "width": 64, "height": 48}],
                 [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 0, 5]},       # zero width
                  {"id": 2, "image_id": 1, "category_id": 1, "bbox": [100, 100, 10, 10]},   # fully outside
                  {"id": 3, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]}])
    ds = load_coco(path)
    assert len(ds.records[0].labels) == 1 and ds.issues["zero_area_boxes"] == 2


def test_coco_wrong_size_in_json_uses_the_files_size_and_says_so(image_file, tmp_path) -> None:  # noqa: ANN001
    path = _coco(tmp_path, image_file, [{"id": 1, "file_name": "a.png", "width": 32, "height": 24, "_w": 64, "_h": 48}],
                 [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [40, 30, 20, 10]}])
    ds = load_coco(path)
    rec = ds.records[0]
    assert (rec.width, rec.height) == (64, 48) and ds.issues["size_mismatch"] == 1
    np.testing.assert_allclose(rec.boxes_xyxy[0], [40, 30, 60, 40])  # not clipped to the json's 32x24


def test_coco_zero_byte_image_is_skipped_not_scored_as_missed(image_file, tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "empty.png").write_bytes(b"")
    path = _coco(tmp_path, image_file, [{"id": 1, "file_name": "a.png", "width": 64, "height": 48},
                                        {"id": 2, "file_name": "empty.png", "width": 64, "height": 48, "_skip": True}],
                 [{"id": 1, "image_id": 2, "category_id": 1, "bbox": [1, 1, 20, 20]}])
    ds = load_coco(path)
    assert [r.image_id for r in ds.records] == [1] and ds.issues["unreadable_images"] == 1


def test_images_too_small_for_the_detector_are_skipped_with_their_boxes(image_file, tmp_path) -> None:  # noqa: ANN001
    root = tmp_path / "ds"
    image_file(root / "images" / "val" / "tiny.png", w=1, h=1)
    image_file(root / "images" / "val" / "ok.png")
    (root / "labels" / "val").mkdir(parents=True)
    for stem in ("tiny", "ok"):
        (root / "labels" / "val" / f"{stem}.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    (root / "data.yaml").write_text(f"path: {root}\nval: images/val\nnames: ['thing']\n")
    ds = load_yolo(root / "data.yaml")
    assert [r.path.name for r in ds.records] == ["ok.png"] and ds.issues["too_small_images"] == 1


def _exdark(tmp_path: Path, image_file, rows: list[str]) -> Path:  # noqa: ANN001
    root = tmp_path / "exdark"
    image_file(root / "ExDark" / "Car" / "a.jpg")
    (root / "ExDark_Annno" / "Car").mkdir(parents=True)
    (root / "ExDark_Annno" / "Car" / "a.jpg.txt").write_text("% bbGt version=3\nCar 1 1 20 20 0 0 0 0 0 0 0\n")
    (root / "Groundtruth").mkdir()
    (root / "Groundtruth" / "imageclasslist.txt").write_text("\n".join(["Name | Class | Light | In/Out | Split", *rows]))
    return root


def test_exdark_duplicate_rows_evaluate_an_image_once(image_file, tmp_path) -> None:  # noqa: ANN001
    ds = load_exdark(_exdark(tmp_path, image_file, ["a.jpg 5 1 1 3", "a.jpg 5 1 1 3"]), "test")
    assert len(ds.records) == 1 and ds.issues["duplicate_list_rows"] == 1


def test_exdark_out_of_range_codes_make_no_new_groups(image_file, tmp_path) -> None:  # noqa: ANN001
    ds = load_exdark(_exdark(tmp_path, image_file, ["a.jpg 5 42 7 3"]), "test")
    assert ds.records[0].attributes == {} and ds.issues["malformed_list_rows"] == 2


@pytest.mark.parametrize(("main", "args", "flag"), [
    (eval_main, ["--limit", "-3"], "--limit"), (eval_main, ["--limit", "0"], "--limit"),
    (eval_main, ["--batch-size", "0"], "--batch-size"), (eval_main, ["--imgsz", "-64"], "--imgsz"),
    (eval_main, ["--conf", "2"], "--conf"), (eval_main, ["--delta-ci", "-1"], "--delta-ci"),
    (export_main, ["--scale-factor", "0"], "--scale-factor"), (export_main, ["--scale-factor", "-3"], "--scale-factor"),
    (enhance_main, ["x.png", "--out", "o", "--batch-size", "0"], "--batch-size"),
    (train_main, ["--epochs", "0"], "--epochs"), (train_main, ["--lr", "nan"], "--lr"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_out_of_range_flags_are_refused(run_cli, main, args, flag) -> None:  # noqa: ANN001
    result = run_cli(main, args)
    assert result.code == 2 and flag in result.err and "expected" in result.err


@pytest.fixture
def sice(tmp_path: Path) -> Path:
    folder = tmp_path / "sice"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        cv2.imwrite(str(folder / f"{i}.png"), (rng.random((40, 40, 3)) * 90).astype(np.uint8))
    return folder


def _train(data: Path, out: Path, *extra: str) -> list[str]:
    return ["--data", str(data), "--out", str(out), "--imgsz", "32", "--batch-size", "2", "--device", "cpu", "-q",
            *extra]


def test_train_resume_refuses_changed_settings_instead_of_ignoring_them(run_cli, sice, tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "run"
    assert run_cli(train_main, _train(sice, out, "--epochs", "1", "--lr", "1e-4")).code == 0
    result = run_cli(train_main, _train(sice, out, "--epochs", "2", "--lr", "1e-3", "--resume", out / "last.pt"))
    assert result.code == 2 and "lr 0.001 (" in result.err and "Start a new run" in result.err
    assert run_cli(train_main, ["--out", out, "--epochs", "2", "--resume", out / "last.pt", "-q"]).code == 0  # more epochs
    assert torch.load(out / "last.pt", weights_only=True)["meta"]["config"]["lr"] == 1e-4


def test_enhancer_with_nan_outputs_writes_nothing(run_cli, sice, image_file, tmp_path) -> None:  # noqa: ANN001
    from lowlight_det.enhancers.weights import atomic_save, read_checkpoint

    out = tmp_path / "run"
    assert run_cli(train_main, _train(sice, out, "--epochs", "1")).code == 0
    state = read_checkpoint(out / "last.pt")
    state["state_dict"] = {k: v.sign() * 1e20 for k, v in state["state_dict"].items()}  # finite, outputs NaN
    atomic_save(state, tmp_path / "broken.pt")
    image_file(tmp_path / "in" / "a.png")
    result = run_cli(enhance_main, [tmp_path / "in", "--out", tmp_path / "enhanced", "--weights", tmp_path / "broken.pt",
                                    "-q"])
    assert result.code == 2 and "NaN or infinite" in result.err
    assert not list((tmp_path / "enhanced").rglob("*.png")) if (tmp_path / "enhanced").exists() else True


def test_a_black_frame_gives_finite_gradients() -> None:
    from lowlight_det.enhancers import ZeroDCE
    from lowlight_det.losses import ZeroReferenceLoss

    model = ZeroDCE()
    img = torch.rand(2, 3, 16, 16)
    img[0] = 0  # one black frame in the batch
    out = model.forward_curves(img)
    ZeroReferenceLoss()(out.ungated, img, out.curves).total.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_training_stops_on_non_finite_gradients(sice, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from lowlight_det.config import TrainConfig
    from lowlight_det.losses import zero_reference
    from lowlight_det.train import zero_reference as trainer

    class NaNGradient(zero_reference.ZeroReferenceLoss):
        def forward(self, enhanced, original, curves):  # noqa: ANN001, ANN202
            terms = super().forward(enhanced, original, curves)
            hidden = (curves.sum() * 0).sqrt()  # value 0, gradient inf · 0 = NaN
            return terms._replace(total=terms.total + hidden)

    monkeypatch.setattr(trainer, "ZeroReferenceLoss", NaNGradient)
    cfg = TrainConfig(data=str(sice), out=str(tmp_path / "run"), imgsz=32, batch_size=2, epochs=1, device="cpu")
    with pytest.raises(trainer.TrainingDivergedError, match="non-finite gradients"):
        trainer.train(cfg, progress=False)
    assert not (tmp_path / "run" / "last.pt").exists()


_FILE_SIZE_LIMIT = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)       # writes past the limit fail with EFBIG, like a full disk
from lowlight_det.eval.__main__ import main
resource.setrlimit(resource.RLIMIT_FSIZE, (120_000, 120_000))
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.integration
def test_full_disk_during_eval_is_an_error_and_keeps_the_numbers(write_scenes, tmp_path) -> None:  # noqa: ANN001
    import subprocess
    import sys

    data = write_scenes(tmp_path / "ds", n=4, size=320, gain=1.0)
    out = tmp_path / "o"
    done = subprocess.run([sys.executable, "-c", _FILE_SIZE_LIMIT, "--data", str(data), "--weights", str(TINY_YOLO),
                           "--enhance", "gamma", "--imgsz", "64", "--out", str(out), "--gallery", "2", "-q"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "no space left" in done.stderr and "gallery.png" in done.stderr
    assert "gamma" in _metrics(out)["results"]  # the numbers were written before the plots failed
