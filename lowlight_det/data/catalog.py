"""The dataset catalogue ``datasets.yaml``: names, kinds, roots and download hints."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CATALOG_ENV = "LOWLIGHT_DET_DATASETS"
_PACKAGED = Path(__file__).resolve().parent.parent / "datasets.yaml"


@dataclass(frozen=True)
class DatasetEntry:
    """One catalogue entry, its root resolved."""

    name: str
    kind: str
    root: Path
    info: dict[str, Any] = field(default_factory=dict)


def load_catalog(path: str | Path | None = None) -> dict[str, Any]:
    """The catalogue mapping: ``path``, else ``$LOWLIGHT_DET_DATASETS``, else the packaged ``datasets.yaml``."""
    path = Path(path or os.environ.get(CATALOG_ENV) or _PACKAGED)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    data.setdefault("datasets", {})
    data["_path"] = str(path)
    return data


def resolve_dataset(name: str, *, data_root: str | Path | None = None,
                    catalog: dict[str, Any] | None = None) -> DatasetEntry:
    """Find dataset ``name`` on disk.

    ``name`` is a catalogue key or a path (folder or YAML file). A catalogue root is taken relative
    to ``data_root``, else ``$LOWLIGHT_DET_DATA``, else ``./data``.

    Raises:
        ValueError: unknown name.
        FileNotFoundError: the data is not where it should be; says where it looked and how to get it.
    """
    catalog = catalog or load_catalog()
    entries = catalog["datasets"]
    if name not in entries:
        path = Path(name)
        if path.exists():
            kind = "yaml" if path.suffix in (".yaml", ".yml") else "images"
            return DatasetEntry(path.stem if path.is_file() else path.name, kind, path)
        raise ValueError(f"unknown dataset {name!r}: not in {catalog['_path']} ({', '.join(entries)}) "
                         "and not an existing path")
    info = dict(entries[name])
    env = catalog.get("root_env", "LOWLIGHT_DET_DATA")
    base = Path(data_root or os.environ.get(env) or catalog.get("default_root", "data"))
    root = Path(info["root"])
    root = root if root.is_absolute() else base / root
    if not root.exists():
        source = "--data-root" if data_root else f"${env}" if os.environ.get(env) else "the default root"
        raise FileNotFoundError(
            f"dataset {name!r} not found at {root} (root from {source}). "
            f"{info.get('download', '')} Then set ${env} to the folder above it or pass --data-root.")
    return DatasetEntry(name, info.get("kind", "images"), root, info)
