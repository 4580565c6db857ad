"""Report of an evaluation: Markdown tables, the console table, a lighting bar chart and a gallery."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lowlight_det.io import atomic_write, write_text


def _f(x: Any, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}"


def _signed(x: float | None) -> str:
    return "–" if x is None else f"{x:+.1f}"


def _delta(d: dict[str, Any]) -> str:
    """Δ mAP50, with its 95% interval when the evaluation computed one (``--delta-ci``)."""
    ci = d.get("map50_ci95")
    return _signed(d.get("map50")) + (f" [{ci[0]:+.1f}, {ci[1]:+.1f}]" if ci else "")


def main_table(results: Sequence[Any], deltas: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown rows: one line per evaluated row."""
    ci = " [95% interval]" if any("map50_ci95" in d for d in deltas.values()) else ""
    lines = [f"| row | enhancer | weights | mAP50-95 | mAP50 | Δ mAP50 vs none{ci} | AP small | AP medium | AP large | "
             "decode ms | enhance ms | detect ms |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        m, t = r.metrics, r.timing_ms
        lines.append(f"| {r.label or r.name} | {r.enhancer} | {weights_label(r.weights)} | {_f(m['map50_95'])} | "
                     f"{_f(m['map50'])} | "
                     f"{_delta(deltas.get(r.name, {}))} | "
                     f"{_f(m['ap_small'])} | {_f(m['ap_medium'])} | {_f(m['ap_large'])} | {_f(t.get('decode'))} | "
                     f"{_f(t.get('enhance'))} | {_f(t.get('detect'))} |")
    return lines


def weights_label(weights: dict[str, Any] | None) -> str:
    """The weights file a row used (``zerodce++-det-yolo11n-bced48df.pt``), or – for an enhancer without weights.

    Example:
        >>> weights_label({"source": "/x/runs/best.pt"}), weights_label({"source": None})
        ('`best.pt`', '–')
    """
    source = (weights or {}).get("source")
    return f"`{Path(str(source)).name}`" if source else "–"


def _slice_table(results: Sequence[Any], attr: str, title: str) -> list[str]:
    keys = sorted({k for r in results for k in getattr(r, attr)})
    if not keys:
        return []
    lines = [f"### mAP50 by {title}", "", "| row | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    for r in results:
        lines.append(f"| {r.label or r.name} | " + " | ".join(_f(getattr(r, attr).get(k)) for k in keys) + " |")
    return [*lines, ""]


def _class_table(results: Sequence[Any]) -> list[str]:
    names = list(results[0].metrics["per_class_ap50"]) if results else []
    lines = ["### AP50 per class", "", "| row | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for r in results:
        pc = r.metrics["per_class_ap50"]
        lines.append(f"| {r.label or r.name} | " + " | ".join(_f(pc.get(n)) for n in names) + " |")
    return [*lines, ""]


def recovery_lines(results: Sequence[Any], upper: str, dark: str = "none") -> list[str]:
    """Share of the mAP50 lost to darkness that each enhancer recovers (demo with a well-lit row)."""
    by_name = {r.name: r for r in results}
    if upper not in by_name or dark not in by_name:
        return []
    lost = by_name[upper].metrics["map50"] - by_name[dark].metrics["map50"]
    lines = [f"Darkness costs {lost:.1f} mAP50 points (well-lit {by_name[upper].metrics['map50']:.1f} → dark "
             f"{by_name[dark].metrics['map50']:.1f})."]
    for r in results:
        if r.name in (upper, dark):
            continue
        gain = r.metrics["map50"] - by_name[dark].metrics["map50"]
        share = f"{100 * gain / lost:+.0f}%" if abs(lost) > 1e-9 else "n/a"
        lines.append(f"- {r.name}: {gain:+.1f} mAP50, recovers {share} of the loss")
    return lines


def _reuse(info: dict[str, Any]) -> str:
    reused = info.get("rows_reused") or []
    if not reused:
        return ""
    return (f" for this run, which reused {len(reused)} finished row(s) (--resume); computing every row took "
            f"{info.get('rows_time_s', 0):.0f} s in all")


def write_report(out: Path, info: dict[str, Any], results: Sequence[Any], deltas: dict[str, dict[str, Any]],
                 *, note: str = "", extra: Sequence[str] = ()) -> Path:
    """``report.md``: settings, main table, slices, per-class AP50, data issues."""
    cfg = info["config"]
    placement = ("native resolution, before letterbox" if cfg["enhance_before_letterbox"]
                 else "on the letterboxed detector input")
    lines = ["# lowlight_det evaluation", ""]
    if note:
        lines += [f"> {note}", ""]
    lines += [f"- data: `{cfg['data']}` split `{info.get('split')}`, {info.get('images')} images "
              f"({info.get('dataset_note', '')})",
              f"- detector: `{cfg['weights']}` (sha256 {str(info.get('detector_sha256'))[:12]}), imgsz {cfg['imgsz']}, "
              f"conf {cfg['conf']}, IoU {cfg['iou']}, max det {cfg['max_det']}",
              f"- class map: {info.get('class_map')}",
              f"- enhancer placement: {placement}",
              f"- device: {info['device']}; wall time {info.get('wall_time_s', 0):.0f} s{_reuse(info)}",
              "- metrics: pycocotools COCO bbox AP on our COCO json (percent)", ""]
    lines += main_table(results, deltas) + [""]
    lines += list(extra) + ([""] if extra else [])
    lines += _slice_table(results, "by_light", "lighting type") + _slice_table(results, "by_scene", "scene")
    lines += _class_table(results)
    tuned = [(r.name, r.weights) for r in results if (r.weights or {}).get("data_terms")]
    if tuned:
        lines += ["### Terms of the data behind these weights", ""]
        lines += [f"- {name} (`{Path(str(w.get('source'))).name}`): {w['data_terms']}" for name, w in tuned] + [""]
    issues = info.get("data_issues") or {}
    if issues:
        lines += ["### Data issues (counted, see the log for each file)", ""]
        lines += [f"- {k}: {v}" for k, v in sorted(issues.items())] + [""]
    return write_text(out / "report.md", "\n".join(lines) + "\n")


def console_table(results: Sequence[Any], deltas: dict[str, dict[str, Any]]) -> str:
    """Plain-text table for the terminal."""
    rows = [("row", "mAP50-95", "mAP50", "Δ mAP50", "ms/img")]
    for r in results:
        rows.append((r.label or r.name, _f(r.metrics["map50_95"]), _f(r.metrics["map50"]),
                     _delta(deltas.get(r.name, {})), _f(r.timing_ms.get("total"), 0)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
                     for row in rows)


def plot_by_light(out: Path, results: Sequence[Any]) -> Path | None:
    """Grouped bar chart of mAP50 per lighting type, one bar per row."""
    keys = sorted({k for r in results for k in r.by_light})
    if not keys:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(keys)), 3.5))
    width = 0.8 / len(results)
    for i, r in enumerate(results):
        vals = [r.by_light.get(k, float("nan")) for k in keys]
        ax.bar(np.arange(len(keys)) + i * width, vals, width, label=r.label or r.name)
    ax.set_xticks(np.arange(len(keys)) + width * (len(results) - 1) / 2, keys, rotation=30)
    ax.set_ylabel("mAP50 (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out / "map50_by_light.png", dpi=100)


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path, *, dpi: int) -> Path:
    """Write a matplotlib figure as PNG atomically, then close it (errors name ``path``)."""
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"), suffix=".png")
    finally:
        pyplot().close(fig)
    return path
