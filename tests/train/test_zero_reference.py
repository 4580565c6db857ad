"""Zero-reference training: loss goes down, resume is exact, NaN stops cleanly, DDP keeps ranks equal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from lowlight_det import create_enhancer
from lowlight_det.config import TrainConfig, load_config
from lowlight_det.data.unpaired import ImageFolder
from lowlight_det.enhancers.weights import atomic_save, read_checkpoint
from lowlight_det.train.__main__ import main as train_main
from lowlight_det.train.zero_reference import train

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def dark_images(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    root = tmp_path / "dark"
    (root / "sub").mkdir(parents=True)
    for i in range(12):
        img = (rng.random((40, 36, 3)) * 60 + np.linspace(0, 40, 36)[None, :, None]).astype(np.uint8)
        ext = [".png", ".JPG", ".bmp"][i % 3]
        cv2.imwrite(str(root / ("sub" if i % 2 else "") / f"im{i}{ext}"), img)
    (root / "notes.txt").write_text("not an image")
    return root


def _cfg(data: Path, out: Path, **kw: object) -> TrainConfig:
    base = {"data": str(data), "out": str(out), "imgsz": 32, "batch_size": 4, "epochs": 2, "lr": 1e-3,
            "device": "cpu"}
    return load_config(TrainConfig, overrides={**base, **kw})


def test_tiny_training_lowers_the_loss_and_logs_every_term(dark_images: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    result = train(_cfg(dark_images, tmp_path / "run", epochs=4), progress=False)
    losses = [row["total"] for row in result.history]
    assert losses[-1] < losses[0]
    assert result.history[0]["steps"] == 3  # 12 images, batch 4
    header = (tmp_path / "run" / "log.csv").read_text().splitlines()[0]
    assert header.startswith("epoch,total,spatial,exposure,color,smoothness")
    ckpt = read_checkpoint(tmp_path / "run" / "last.pt")
    assert ckpt["meta"]["epoch"] == 4 and ckpt["meta"]["config"]["lr"] == 1e-3
    assert ckpt["meta"]["dataset"]["images"] == 12
    assert {"torch", "lowlight_det"} <= set(ckpt["meta"]["versions"])
    assert (tmp_path / "run" / "config.yaml").read_text().startswith("enhancer: zerodce")


@pytest.mark.parametrize("enhancer", ["zerodce", "zerodce++"])
def test_resume_continues_exactly(enhancer: str, dark_images: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    full = train(_cfg(dark_images, tmp_path / "full", epochs=3, enhancer=enhancer), progress=False)
    torch.manual_seed(0)
    train(_cfg(dark_images, tmp_path / "part", epochs=1, enhancer=enhancer), progress=False)
    torch.manual_seed(123)  # resume must not depend on the process' RNG
    resumed = train(_cfg(dark_images, tmp_path / "part", epochs=3, enhancer=enhancer),
                    resume=tmp_path / "part" / "last.pt", progress=False)
    assert [r["total"] for r in resumed.history] == [r["total"] for r in full.history]
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_nan_loss_stops_with_clear_error_and_keeps_last_good_checkpoint(dark_images: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert train_main(["--data", str(dark_images), "--out", str(out), "--image-size", "32", "--epochs", "1",
                       "--device", "cpu", "-q"]) == 0
    good = (out / "last.pt").read_bytes()
    blown = read_checkpoint(out / "last.pt")  # finite weights (~1e20) whose activations overflow to NaN
    blown["state_dict"] = {k: v.sign() * 1e20 for k, v in blown["state_dict"].items()}
    atomic_save(blown, tmp_path / "blown.pt")
    code = train_main(["--data", str(dark_images), "--out", str(out), "--image-size", "32", "--epochs", "2",
                       "--device", "cpu", "--resume", str(tmp_path / "blown.pt"), "-q"])
    assert code == 1
    assert (out / "last.pt").read_bytes() == good


def test_config_precedence_and_unknown_keys(tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("epochs: 7\nlr: 0.5\nloss:\n  smoothness: 1600\n")
    cfg = load_config(TrainConfig, cfg_file, {"lr": 0.25, "epochs": None})
    assert (cfg.epochs, cfg.lr, cfg.loss.smoothness, cfg.loss.exposure) == (7, 0.25, 1600, 10.0)
    cfg_file.write_text("learning_rate: 1\n")
    with pytest.raises(ValueError, match="unknown key 'learning_rate'"):
        load_config(TrainConfig, cfg_file)
    cfg_file.write_text("loss:\n  smothness: 1\n")
    with pytest.raises(ValueError, match="did you mean 'smoothness'"):
        load_config(TrainConfig, cfg_file)


def test_shipped_configs_load() -> None:
    for path in sorted((REPO / "configs").glob("*_sice.yaml")):
        cfg = load_config(TrainConfig, path)
        assert cfg.lr == 1e-4 and cfg.batch_size == 8 and cfg.imgsz == 256


def test_missing_dataset_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = train_main(["--data", "sice_part1", "--data-root", str(tmp_path), "--epochs", "1", "-q"])
    assert code == 2
    err = capsys.readouterr().err
    assert "dataset 'sice_part1' not found at" in err and "--data-root" in err


def test_help() -> None:
    out = subprocess.run([sys.executable, "-m", "lowlight_det.train", "--help"], capture_output=True, text=True,
                         check=True)
    assert "--resume" in out.stdout and "--config" in out.stdout


_DDP_DRIVER = """
import logging, sys, torch
logging.basicConfig(level=logging.INFO, format="%(message)s")
from lowlight_det import create_enhancer
from lowlight_det.config import TrainConfig, load_config
from lowlight_det.train.zero_reference import train
import torch.distributed as dist
torch.manual_seed(0)
torch.set_num_threads(1)
cfg = load_config(TrainConfig, overrides=dict(data=sys.argv[1], out=sys.argv[2], imgsz=32, batch_size=2,
                                              epochs=2, lr=1e-3, device="cpu"))
result = train(cfg, progress=False)
torch.save(result.model.state_dict(), f"{sys.argv[2]}/rank{dist.get_rank()}.pt")
dist.destroy_process_group()
"""


@pytest.mark.integration
def test_ddp_two_cpu_processes_hold_identical_weights(dark_images: Path, tmp_path: Path) -> None:
    driver = tmp_path / "driver.py"
    driver.write_text(_DDP_DRIVER)
    out = tmp_path / "ddp"
    out.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(driver), str(dark_images), str(out)], check=True, env=env, timeout=300,
                          capture_output=True, text=True)
    logged = [line for line in done.stderr.splitlines() if line.startswith("epoch ")]
    assert len(logged) == 2, done.stderr[-2000:]  # one line per epoch, not one per rank
    a = torch.load(out / "rank0.pt", weights_only=True)
    b = torch.load(out / "rank1.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    torch.manual_seed(0)
    init = create_enhancer("zerodce", weights=None).state_dict()
    assert not all(torch.equal(a[k], init[k]) for k in a)  # it trained
    ckpt = read_checkpoint(out / "last.pt")
    assert ckpt["meta"]["world_size"] == 2 and ckpt["history"][0]["steps"] == 3  # 12 images / 2 ranks / batch 2
    assert ckpt["history"][0]["total"] == pytest.approx(float(logged[0].split("total=")[1].split()[0]), abs=1e-5)


def test_renamed_key_still_reads_and_flags_come_from_the_config_fields(tmp_path: Path) -> None:
    from lowlight_det.train.__main__ import build_parser

    (tmp_path / "old.yaml").write_text("image_size: 96\n")  # the key before it became imgsz (old files, checkpoints)
    assert load_config(TrainConfig, tmp_path / "old.yaml").imgsz == 96
    args = build_parser().parse_args(["--image-size", "64"])
    assert args.imgsz == 64 and build_parser().parse_args(["--imgsz", "32"]).imgsz == 32
    help_text = build_parser().format_help()
    assert "--weight-decay" in help_text and "(default: 0.0001)" in help_text  # from the dataclass, not a copy


def test_keep_epochs_writes_every_epochs_weights(dark_images: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert train_main(["--data", str(dark_images), "--out", str(out), "--imgsz", "32", "--epochs", "2",
                       "--device", "cpu", "--keep-epochs", "-q"]) == 0
    files = sorted(p.name for p in out.glob("epoch_*.pt"))
    assert files == ["epoch_001.pt", "epoch_002.pt"]
    first = create_enhancer("zerodce", weights=out / "epoch_001.pt")  # each loads as enhancer weights
    assert read_checkpoint(out / "epoch_001.pt")["meta"]["epoch"] == 1 and first is not None
    last = read_checkpoint(out / "last.pt")["state_dict"]
    assert all(torch.equal(v, read_checkpoint(out / "epoch_002.pt")["state_dict"][k]) for k, v in last.items())


def test_holdout_leaves_a_seeded_sample_out_and_lists_it(dark_images: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert train_main(["--data", str(dark_images), "--out", str(out), "--imgsz", "32", "--epochs", "1",
                       "--device", "cpu", "--holdout", "2", "-q"]) == 0
    held = (out / "holdout.txt").read_text().split()
    everything = sorted(str(p.relative_to(dark_images)) for p in dark_images.rglob("im*"))
    assert len(held) == 2 and set(held) <= set(everything)
    meta = read_checkpoint(out / "last.pt")["meta"]
    assert meta["dataset"]["images"] == len(everything) - 2 and meta["dataset"]["held_out"] == 2
    again = ImageFolder(dark_images, image_size=32)
    def names(files: list[Path]) -> list[str]:
        return [str(p.relative_to(dark_images)) for p in files]

    assert names(again.split(2, seed=0)) == held  # the same seed leaves the same files out
    assert len(again) == len(everything) - 2 and not set(held) & set(names(again.files))
    assert names(ImageFolder(dark_images).split(2, seed=1)) != held  # another seed, another sample
    with pytest.raises(ValueError, match="leaves none"):
        ImageFolder(dark_images).split(len(everything), seed=0)


def test_training_flushes_subnormals(dark_images: Path, tmp_path: Path) -> None:
    """Subnormal weights / Adam moments would put every product on the CPU's slow path, epoch after epoch."""
    torch.set_flush_denormal(False)
    assert torch.tensor([1e-39]).mul(1.0).item() != 0.0
    assert train_main(["--data", str(dark_images), "--out", str(tmp_path / "run"), "--imgsz", "32", "--epochs", "1",
                       "--device", "cpu", "-q"]) == 0
    assert torch.tensor([1e-39]).mul(1.0).item() == 0.0  # flushed to zero from then on
