"""Catalogue, security: crafted files never run code, and nothing touches the network."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lowlight_det.enhance import main as enhance_main
from lowlight_det.eval.__main__ import main as eval_main
from lowlight_det.finetune import main as finetune_main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tiny_yolo_data(tmp_path: Path, write_scenes) -> Path:  # noqa: ANN001
    return write_scenes(tmp_path / "ds", n=2)


def test_crafted_detector_pt_does_not_run_code_in_eval(run_cli, evil_pickle, tiny_yolo_data, tmp_path) -> None:  # noqa: ANN001
    path, marker = evil_pickle
    result = run_cli(eval_main, ["--data", tiny_yolo_data, "--weights", path, "--out", tmp_path / "o", "-q"])
    assert result.code == 2 and "cannot load this file as an Ultralytics YOLO detector" in result.err
    assert str(path) in result.err and not marker.exists()


def test_crafted_detector_pt_does_not_run_code_in_finetune(run_cli, evil_pickle, tiny_yolo_data, tmp_path) -> None:  # noqa: ANN001
    path, marker = evil_pickle
    result = run_cli(finetune_main, ["--detector", path, "--data", tiny_yolo_data, "--val-split", "none",
                                     "--out", tmp_path / "o", "--device", "cpu", "-q"])
    assert result.code == 2 and "cannot load this file" in result.err and not marker.exists()


def test_crafted_enhancer_weights_do_not_run_code(run_cli, evil_pickle, image_file, tmp_path) -> None:  # noqa: ANN001
    path, marker = evil_pickle
    image = image_file(tmp_path / "in" / "a.png")
    result = run_cli(enhance_main, [image, "--out", tmp_path / "out", "--weights", path, "-q"])
    assert result.code == 2 and "cannot read this checkpoint" in result.err and not marker.exists()


_IMPORTED_FIRST = """
import os, sys
os.environ.pop("ULTRALYTICS_SAFE_LOAD", None)
import ultralytics  # imported before lowlight_det, without safe loading
from ultralytics.utils import SAFE_LOAD
assert not SAFE_LOAD
from lowlight_det.detection.ultralytics import build_detector
try:
    build_detector(sys.argv[1])
except ValueError as exc:
    print("refused:", exc)
"""


@pytest.mark.integration
def test_crafted_detector_refused_even_when_ultralytics_was_imported_first(evil_pickle, tmp_path) -> None:  # noqa: ANN001
    path, marker = evil_pickle
    env = {k: v for k, v in os.environ.items() if k != "ULTRALYTICS_SAFE_LOAD"}
    done = subprocess.run([sys.executable, "-c", _IMPORTED_FIRST, str(path)], capture_output=True, text=True,
                          timeout=300, env=env, cwd=tmp_path)
    assert "refused:" in done.stdout, done.stderr[-2000:]
    assert not marker.exists()


def test_user_can_trust_a_detector_file_explicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    from lowlight_det.detection.ultralytics import trusts_detector_files

    monkeypatch.setenv("ULTRALYTICS_SAFE_LOAD", "0")
    assert trusts_detector_files()
    monkeypatch.setenv("ULTRALYTICS_SAFE_LOAD", "1")
    assert not trusts_detector_files()


_NO_NETWORK = """
import socket, sys
attempts = []
def refuse(*args, **kwargs):
    attempts.append(repr(args)[:120])
    raise OSError("network disabled by the test")
socket.getaddrinfo = refuse
socket.create_connection = refuse
socket.socket.connect = lambda self, *a: refuse(*a)
from lowlight_det.eval.__main__ import main
code = main(sys.argv[1:])
print("ATTEMPTS", len(attempts), attempts[:3])
sys.exit(code)
"""


@pytest.mark.integration
def test_evaluation_never_touches_the_network_even_without_yolo_offline(tiny_yolo_data, tmp_path) -> None:  # noqa: ANN001
    env = {k: v for k, v in os.environ.items() if k not in ("YOLO_OFFLINE", "ULTRALYTICS_SAFE_LOAD")}
    env["YOLO_CONFIG_DIR"] = str(tmp_path / "fresh_settings")  # no font cached from earlier runs
    done = subprocess.run([sys.executable, "-c", _NO_NETWORK, "--data", str(tiny_yolo_data), "--weights",
                           str(REPO / "benchmarks" / "demo_yolo.yaml"), "--enhance", "gamma", "--imgsz", "64",
                           "--out", str(tmp_path / "o"), "--no-plots", "-q"],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ATTEMPTS 0 " in done.stdout, done.stdout
