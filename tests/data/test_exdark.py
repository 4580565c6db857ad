"""ExDark native layout with real-world mess, and the YOLO / COCO loaders and exports."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from lowlight_det.data.catalog import resolve_dataset
from lowlight_det.data.class_map import resolve_class_map
from lowlight_det.data.detection import export_yolo, load_coco, load_yolo, save_coco, to_coco
from lowlight_det.data.exdark import CLASSES, load_exdark
from lowlight_det.data.loaders import load_detection_dataset


def _img(path: Path, w: int = 64, h: int = 48) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((h, w, 3), 30, np.uint8))


@pytest.fixture
def messy_exdark(tmp_path: Path) -> Path:
    root = tmp_path / "ExDark"
    rows = ["Name | Class | Light | In/Out | Train/Val/Test"]
    # 1: upper-case image extension, lower-case annotation name; box partly outside; a Dog in the People folder
    _img(root / "ExDark/People/a.JPG")
    (root / "ExDark_Annno/People").mkdir(parents=True)
    (root / "ExDark_Annno/People/a.jpg.txt").write_text(
        "% bbGt version=3\nPeople 10 5 100 20 0 0 0 0 0 0 0\nDog 1 2 3 4 0 0 0 0 0 0 0\n")
    rows.append("a.jpg 11 1 2 3")
    # 2: empty annotation, 3: malformed line + unknown class + zero-area box
    _img(root / "ExDark/Car/b.png")
    (root / "ExDark_Annno/Car").mkdir(parents=True)
    (root / "ExDark_Annno/Car/b.png.txt").write_text("% bbGt version=3\n")
    rows.append("b.png 5 10 1 3")
    _img(root / "ExDark/Car/c.jpg")
    (root / "ExDark_Annno/Car/c.jpg.txt").write_text(
        "% bbGt version=3\nCar 1 1 x 3 0\nUnicorn 1 1 5 5\nCar 70 10 5 5 0 0 0 0 0 0 0\nCar 1 1 5 6\n")
    rows.append("c.jpg 5 2 2 3")
    # 4: listed but absent (partial download); 5: train split; 6: corrupt image
    rows.append("missing.jpg 5 1 1 3")
    _img(root / "ExDark/Car/t.jpg")
    rows.append("t.jpg 5 1 1 1")
    (root / "ExDark/Car/bad.jpg").write_bytes(b"garbage")
    rows.append("bad.jpg 5 1 1 3")
    (root / "Groundtruth").mkdir()
    (root / "Groundtruth/imageclasslist.txt").write_bytes("\r\n".join(rows).encode() + b"\r\n")
    return root


def test_exdark_real_world_mess(messy_exdark: Path) -> None:
    ds = load_exdark(messy_exdark, "test")
    assert [r.path.name for r in ds.records] == ["a.JPG", "b.png", "c.jpg"]
    a, b, c = ds.records
    assert a.attributes == {"light": "Low", "scene": "outdoor"}
    assert c.attributes == {"light": "Ambient", "scene": "outdoor"}
    np.testing.assert_allclose(a.boxes_xyxy[0], [10, 5, 64, 25])  # clipped to width 64
    assert [CLASSES[i] for i in a.labels] == ["People", "Dog"]
    assert len(b.labels) == 0
    assert [CLASSES[i] for i in c.labels] == ["Car"]  # the zero-area box (outside) was dropped
    assert ds.issues == {"missing_images": 1, "empty_annotations": 1, "malformed_lines": 1, "unknown_classes": 1,
                         "zero_area_boxes": 1, "unreadable_images": 1}
    assert "partial download" in ds.info["missing_images_note"]
    assert [r.path.name for r in load_exdark(messy_exdark, "train").records] == ["t.jpg"]
    with pytest.raises(ValueError, match="unknown ExDark split"):
        load_exdark(messy_exdark, "dev")


def test_exports_roundtrip(messy_exdark: Path, tmp_path: Path) -> None:
    ds = load_exdark(messy_exdark, "test")
    gt = to_coco(ds)
    assert len(gt["images"]) == 3 and len(gt["annotations"]) == 3 and len(gt["categories"]) == 12
    assert gt["images"][0]["light"] == "Low"
    coco_path = save_coco(ds, tmp_path / "gt.json")
    back = load_coco(coco_path)
    assert [len(r.labels) for r in back.records] == [2, 0, 1]
    yaml_path = export_yolo(ds, tmp_path / "yolo")
    again = load_yolo(yaml_path, "val")
    assert again.class_names == CLASSES
    for r0, r1 in zip(ds.records, again.records, strict=True):
        np.testing.assert_allclose(r0.boxes_xyxy, r1.boxes_xyxy, atol=1e-3)
        assert r0.labels.tolist() == r1.labels.tolist()


def test_catalogue_missing_dataset_says_where_and_how(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOWLIGHT_DET_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"dataset 'exdark' not found at .*\$LOWLIGHT_DET_DATA.*Download ExDark"):
        resolve_dataset("exdark")
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        resolve_dataset("nope")


def test_catalogue_root_from_env(messy_exdark: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOWLIGHT_DET_DATA", str(messy_exdark.parent))
    ds, info = load_detection_dataset("exdark")
    assert len(ds.records) == 3 and info["class_maps"]["coco"]["People"] == 0


def test_authors_layout_side_by_side_in_the_data_root(messy_exdark: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # $LOWLIGHT_DET_DATA holds ExDark/<Class>/..., ExDark_Annno/ and Groundtruth/ directly (no ExDark/ExDark/)
    monkeypatch.setenv("LOWLIGHT_DET_DATA", str(messy_exdark))
    ds, _ = load_detection_dataset("exdark")
    assert len(ds.records) == 3
    assert load_detection_dataset(str(messy_exdark))[0].records[0].path == ds.records[0].path  # --data FOLDER


def test_class_maps_from_config() -> None:
    coco_names = {i: f"c{i}" for i in range(80)}
    coco_names.update({0: "person", 2: "car"})
    _, info = None, {"class_maps": {"coco": {"People": 0, "Car": 2}}}
    cm = resolve_class_map("auto", ["People", "Car"], coco_names, info["class_maps"])
    labels, keep = cm.apply(np.array([2, 5, 0, 2]))
    assert labels.tolist() == [1, 0, 1] and keep.tolist() == [True, False, True, True]
    by_name = resolve_class_map("auto", ["car", "person"], coco_names)
    assert by_name.apply(np.array([0, 2]))[0].tolist() == [1, 0]
    with pytest.raises(ValueError, match="pass --class-map"):
        resolve_class_map("auto", ["x", "y"], coco_names)
    with pytest.raises(ValueError, match="identity class map needs"):
        resolve_class_map("identity", ["x"], coco_names)


@pytest.mark.integration
def test_shared_exdark_mini(shared_dir: Path) -> None:
    ds = load_exdark(shared_dir / "data" / "exdark-mini", "test")
    assert len(ds.records) == 379
    assert ds.issues["missing_images"] == 2563 - 379
    assert sum(len(r.labels) for r in ds.records) > 379
