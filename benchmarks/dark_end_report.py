"""Issue 12's dark-end table from the runs of ``benchmarks/dark_end_cpu.sh`` (numbers only, from metrics.json).

    python benchmarks/dark_end_report.py \\
        --variant "+ blur penalty 0.3=dark_blurpen03_cpu,dark_blurpen03_cpu_s1,dark_blurpen03_cpu_s2" \\
        --variant "random cameras + denoising=dark_denoise_cpu,dark_denoise_cpu_s1,dark_denoise_cpu_s2" \\
        --variant "random cameras=dark_rand_cpu,dark_rand_cpu_s1" --variant "fixed sensor (darkening only)=darken_only_cpu" \\
        --sweep "zerodce++-det=sweep_teacher_exdark,sweep_teacher_exdark_s1,sweep_teacher_exdark_s2" \\
        --sweep "zerodce++.det-yolo11n-dnb=sweep_blurpen03,sweep_blurpen03_s1,sweep_blurpen03_s2" \\
        --out benchmarks/results/dark_end_cpu

For each variant (one result folder per seed under ``benchmarks/results/``) and each condition (the 379 ExDark
test images as they are, and 3 stops darker with shot noise 1e-3, 3e-3 and 1e-2), the tuned row's mAP50 and its Δ
vs ``none`` with the paired 95% interval of every seed, the mean ± std over seeds, and whether every seed's
interval lies above 0 (gain beyond noise) or below 0 (loss beyond noise). ``--sweep LABEL=RUN[,RUN...]`` (repeatable;
result folders under ``benchmarks/results/``): evaluations with ``--darken-ev 0,1,...`` (one per seed) whose mAP50 by
darkness is tabulated (mean ± std of Δ, every seed's interval, the share of the loss to darkness recovered) and drawn
as ``map50_by_darkness.png`` (a chart of aggregate metrics: each label's mean, and the seeds' range as a band).
Writes ``dark_end.md`` and ``dark_end.json`` under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

RESULTS = Path("benchmarks/results")
CONDITIONS = (("as is", "1e-3", "0"), ("3 EV, noise 1e-3", "1e-3", "3"), ("3 EV, noise 3e-3", "3e-3", "3"),
              ("3 EV, noise 1e-2", "1e-2", "3"))


def _level(run: str, noise: str, level: str) -> dict[str, Any] | None:
    path = RESULTS / run / f"eval_noise_{noise}" / "metrics.json"
    if not path.is_file():
        return None
    darkness = json.loads(path.read_text())["darkness"]
    rows = darkness["rows"]
    tuned = rows.get("zerodce++") or next(v for k, v in rows.items() if k != "none")  # the run's own weights
    out = dict(tuned["levels"][level])
    out["none"] = rows["none"]["levels"][level]["map50"]
    return out


def _cell(values: list[dict[str, Any]]) -> dict[str, Any]:
    deltas = [v["delta_map50"] for v in values]
    cis = [v.get("delta_map50_ci95") for v in values]
    return {"none": values[0]["none"], "map50": [v["map50"] for v in values], "delta": deltas, "ci95": cis,
            "delta_mean": round(statistics.mean(deltas), 2),
            "delta_std": round(statistics.stdev(deltas), 2) if len(deltas) > 1 else None,
            "above_beyond_noise": all(c is not None and c[0] > 0 for c in cis),
            "below_beyond_noise": any(c is not None and c[1] < 0 for c in cis)}


def _text(cell: dict[str, Any]) -> str:
    seeds = "; ".join(f"{d:+.1f} [{c[0]:+.1f}, {c[1]:+.1f}]" if c else f"{d:+.1f}"
                      for d, c in zip(cell["delta"], cell["ci95"], strict=True))
    mean = statistics.mean(cell["map50"])
    if len(cell["delta"]) == 1:
        return f"{mean:.1f} ({seeds})"
    return f"{mean:.1f}, Δ {cell['delta_mean']:+.1f} ± {cell['delta_std']:.1f} ({seeds})"


def _sweeps(sweeps: list[Path]) -> list[dict[str, Any]]:
    """Each sweep's ``none`` row and its tuned row (whatever its enhancer's name) as ``{"none": ..., "tuned": ...}``."""
    out = []
    for sweep in sweeps:
        rows = json.loads((sweep / "metrics.json").read_text())["darkness"]["rows"]
        out.append({"none": rows["none"], "tuned": next(v for k, v in rows.items() if k != "none")})
    return out


def _parse_sweep(spec: str) -> tuple[str, list[Path]]:
    label, sep, runs = spec.partition("=")
    if not sep or not label or not runs:
        raise SystemExit(f"--sweep {spec!r}: expected LABEL=RUN[,RUN...]")
    return label, [RESULTS / r for r in runs.split(",")]


def _sweep_rows(label: str, sweeps: list[Path]) -> tuple[list[str], dict[str, Any]]:
    """mAP50 of the tuned row by darkness over the sweeps (one per seed), with each seed's Δ and paired interval and
    the share of the mAP lost to darkness that the mean recovers: markdown rows and their numbers."""
    runs = _sweeps(sweeps)
    levels = sorted(runs[0]["none"]["levels"], key=float)
    table: dict[str, Any] = {}
    for level in levels:
        tuned = [r["tuned"]["levels"][level] for r in runs]
        values = [{**t, "none": r["none"]["levels"][level]["map50"]} for t, r in zip(tuned, runs, strict=True)]
        table[level] = _cell(values)
    clean = table[levels[0]]["none"]
    for level in levels[1:]:
        lost = clean - table[level]["none"]
        table[level]["share_recovered"] = round(table[level]["delta_mean"] / lost, 3) if lost > 0 else None
    lines = [f"| {label} ({len(sweeps)} seeds) | " + " | ".join(_text(table[v]) for v in levels) + " |",
             f"| {label}: share of the loss to darkness recovered (mean) | | " + " | ".join(
                 f"{table[v]['share_recovered']:.0%}" if table[v]["share_recovered"] is not None else ""
                 for v in levels[1:]) + " |",
             f"| {label}: every seed above none beyond noise | " + " | ".join(
                 "yes" if table[v]["above_beyond_noise"] else "no" for v in levels) + " |"]
    return lines, table


def _sweep_head(sweeps: list[Path]) -> list[str]:
    none = _sweeps(sweeps[:1])[0]["none"]["levels"]
    levels = sorted(none, key=float)
    return ["| | " + " | ".join("as is" if float(v) == 0 else f"{float(v):g} EV" for v in levels) + " |",
            "|---|" + "---:|" * len(levels), "| none | " + " | ".join(f"{none[v]['map50']:.1f}" for v in levels) + " |"]


def _plot(sweeps: list[tuple[str, list[Path]]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    curves = [("none", "none", _sweeps(sweeps[0][1][:1]))] + [(label, "tuned", _sweeps(runs)) for label, runs in sweeps]
    for label, name, runs in curves:
        levels = sorted(runs[0][name]["levels"], key=float)
        x = [float(v) for v in levels]
        values = [[r[name]["levels"][v]["map50"] for r in runs] for v in levels]
        if len(runs) > 1:
            label += f" (mean of {len(runs)} seeds, band: range)"
            ax.fill_between(x, [min(v) for v in values], [max(v) for v in values], alpha=0.25)
        ax.plot(x, [statistics.mean(v) for v in values], marker="o", label=label)
    ax.set_xlabel("stops darker than the ExDark image (shot noise 1e-3)")
    ax.set_ylabel("mAP50 (379 ExDark test images)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    fig.savefig(out / "map50_by_darkness.png", dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", action="append", required=True, help="LABEL=RUN[,RUN...] (one run per seed)")
    p.add_argument("--sweep", action="append", default=[], help="LABEL=RUN[,RUN...]: a darkness sweep's evaluation "
                   "folders under benchmarks/results (one per seed) to tabulate and draw; repeatable")
    p.add_argument("--out", type=Path, default=RESULTS / "dark_end_cpu")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    table: dict[str, Any] = {}
    lines = ["| variant (seeds) | " + " | ".join(c[0] for c in CONDITIONS) + " |",
             "|---|" + "---:|" * len(CONDITIONS)]
    nones: dict[str, float] = {}
    for spec in args.variant:
        label, _, runs = spec.partition("=")
        cells = []
        for condition, noise, level in CONDITIONS:
            values = [v for v in (_level(r, noise, level) for r in runs.split(",")) if v is not None]
            cell = _cell(values) if values else None
            if cell:
                nones[condition] = cell["none"]
            table.setdefault(label, {})[condition] = cell
            cells.append(_text(cell) if cell else "not measured")
        lines.append(f"| {label} ({len(runs.split(','))}) | " + " | ".join(cells) + " |")
    lines.insert(2, "| none | " + " | ".join(f"{nones[c[0]]:.1f}" if c[0] in nones else "" for c in CONDITIONS) + " |")
    text = "mAP50 (mean over seeds), Δ vs none per seed [paired 95% interval]\n\n" + "\n".join(lines) + "\n"
    if args.sweep:
        sweeps = [_parse_sweep(spec) for spec in args.sweep]
        sweep_lines = _sweep_head(sweeps[0][1])
        table["sweep"] = {}
        for label, runs in sweeps:
            rows, table["sweep"][label] = _sweep_rows(label, runs)
            sweep_lines += rows
        title = "Darkness sweep (shot noise 1e-3): " + "; ".join(
            f"{label}: " + ", ".join(r.name for r in runs) for label, runs in sweeps)
        lines += ["", title, "", *sweep_lines]
        text += "\n" + title + "\n\n" + "\n".join(sweep_lines) + "\n"
        _plot(sweeps, args.out)
    (args.out / "dark_end.md").write_text(text)
    (args.out / "dark_end.json").write_text(json.dumps(table, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
