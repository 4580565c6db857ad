"""What a wheel ships: every data file the package reads, and the declared dependencies it imports."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "lowlight_det"


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_every_package_data_file_is_in_the_wheel_globs() -> None:
    globs = _pyproject()["tool"]["setuptools"]["package-data"]["lowlight_det"]
    data = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    assert data, "the package has data files (weights, configs, datasets.yaml)"
    missing = [f for f in data if not any(fnmatch.fnmatch(f, g) for g in globs)]
    assert not missing, f"not packaged: {missing}"


def test_shipped_configs_live_in_the_package() -> None:
    from lowlight_det.config import resolve_config_path

    assert resolve_config_path("zerodce_sice").parent == PACKAGE / "configs"
    assert resolve_config_path("configs/finetune_zerodcepp_yolo11n.yaml").is_file()  # the README's spelling


def test_imported_third_party_packages_are_declared() -> None:
    import re

    project = _pyproject()["project"]
    deps = " ".join(project["dependencies"]).lower()
    extras = " ".join(d for group in project["optional-dependencies"].values() for d in group).lower()
    imported = set()
    for path in PACKAGE.rglob("*.py"):
        imported |= set(re.findall(r"^\s*(?:import|from) (\w+)", path.read_text(), flags=re.M))
    declared_as = {"cv2": "opencv-python", "yaml": "pyyaml", "PIL": "pillow", "albumentations": "albumentations"}
    stdlib_or_own = {"lowlight_det", "__future__"} | set(__import__("sys").stdlib_module_names)
    for module in sorted(imported - stdlib_or_own):
        name = declared_as.get(module, module).lower()
        assert name in deps or name in extras, f"{module} is imported but not a dependency or an extra"
    assert "opencv-python-headless" not in deps  # Ultralytics needs opencv-python: depend on the same one


def test_installed_ultralytics_is_in_the_supported_range() -> None:
    """The code uses Ultralytics arguments (8.4.80) and safe loading that works on YOLO11 files (8.4.150)."""
    import re
    from importlib import metadata

    spec = next(d for d in _pyproject()["project"]["dependencies"] if d.startswith("ultralytics"))
    low, high = re.search(r">=([\d.]+),<([\d.]+)", spec).groups()  # type: ignore[union-attr]
    as_tuple = lambda v: tuple(int(x) for x in re.findall(r"\d+", v)[:3])  # noqa: E731
    installed = as_tuple(metadata.version("ultralytics"))
    assert as_tuple(low) >= (8, 4, 150) and as_tuple(low) <= installed < as_tuple(high)
