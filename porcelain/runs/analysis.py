"""Comparing runs: differing hyperparameters, final and best metrics, seed groups with a
Welch t-test, the best run, and which hyperparameters matter (Spearman rank correlation)."""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pacha.errors import UsageError
from porcelain.errors import InvalidInput, NotFound
from porcelain.runs.records import RunInfo

SEED_KEYS = ("seed", "random_seed")
SPARKS = "▁▂▃▄▅▆▇█"


def final_metrics(info: RunInfo) -> dict[str, dict[str, float]]:
    return dict(info.record.get("metrics", {}))


def differing_params(infos: list[RunInfo]) -> list[str]:
    keys = sorted({k for i in infos for k in i.record.get("params", {})})
    return [k for k in keys if len({repr(i.record.get("params", {}).get(k)) for i in infos}) > 1]


def group_key(info: RunInfo) -> str:
    """Runs that differ only in their seed fall in one group."""
    params = {k: v for k, v in info.record.get("params", {}).items() if k not in SEED_KEYS}
    return repr((info.record.get("recipe"), sorted(params.items())))


@dataclass
class GroupStats:
    runs: list[str]
    mean: float
    std: float


@dataclass
class Comparison:
    runs: list[RunInfo]
    params: list[str]
    metrics: list[str]
    groups: dict[str, dict[str, GroupStats]] = field(default_factory=dict)  # metric -> label -> stats
    p_values: dict[str, dict[str, float]] = field(default_factory=dict)  # metric -> "A vs B" -> p


def compare(infos: list[RunInfo]) -> Comparison:
    if len(infos) < 2:
        raise UsageError("compare needs at least two runs")
    metrics = sorted({m for i in infos for m in final_metrics(i)})
    result = Comparison(infos, differing_params(infos), metrics)
    groups: dict[str, list[RunInfo]] = {}
    for info in infos:
        groups.setdefault(group_key(info), []).append(info)
    seeded = [g for g in groups.values() if len(g) >= 2]
    labels = {id(g[0]): "+".join(i.name for i in g) for g in seeded}
    for metric in metrics:
        per_group = {}
        samples = {}
        for g in seeded:
            values = [final_metrics(i)[metric]["last"] for i in g if metric in final_metrics(i)]
            if len(values) < 2:
                continue
            mean = sum(values) / len(values)
            std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
            label = labels[id(g[0])]
            per_group[label] = GroupStats([i.name for i in g], mean, std)
            samples[label] = values
        if per_group:
            result.groups[metric] = per_group
        names = list(samples)
        if len(names) >= 2:
            from scipy import stats

            first = names[0]
            result.p_values[metric] = {
                f"{first} vs {other}": float(
                    stats.ttest_ind(samples[first], samples[other], equal_var=False).pvalue
                )
                for other in names[1:]
            }
    return result


def best(infos: list[RunInfo], metric: str, minimize: bool) -> RunInfo:
    scored = [(final_metrics(i)[metric]["last"], i) for i in infos if metric in final_metrics(i)]
    if not scored:
        raise NotFound(f"no run has metric {metric!r}")
    return (min if minimize else max)(scored, key=lambda pair: pair[0])[1]


@dataclass(frozen=True)
class Importance:
    param: str
    rho: float
    p_value: float
    runs: int


def importance(infos: list[RunInfo], metric: str) -> list[Importance]:
    """Spearman correlation of each numeric, non-constant hyperparameter with the metric's final value."""
    rows = [
        (i.record.get("params", {}), final_metrics(i)[metric]["last"])
        for i in infos
        if metric in final_metrics(i)
    ]
    if len(rows) < 3:
        raise InvalidInput(
            f"importance needs at least 3 finished runs with metric {metric!r}, found {len(rows)}"
        )
    from scipy import stats

    out = []
    for name in sorted({k for params, _ in rows for k in params}):
        pairs = [
            (p[name], m)
            for p, m in rows
            if isinstance(p.get(name), int | float) and not isinstance(p.get(name), bool)
        ]
        if len(pairs) < 3 or len({x for x, _ in pairs}) < 2:
            continue
        rho, p_value = stats.spearmanr([x for x, _ in pairs], [m for _, m in pairs])
        if math.isnan(rho):
            continue
        out.append(Importance(name, float(rho), float(p_value), len(pairs)))
    out.sort(key=lambda r: abs(r.rho), reverse=True)
    return out


def sparkline(values: list[float], width: int = 60) -> str:
    if not values:
        return ""
    if len(values) > width:  # resample evenly
        values = [values[int(k * len(values) / width)] for k in range(width)]
    low, high = min(values), max(values)
    span = high - low or 1.0
    top = len(SPARKS) - 1
    return "".join(SPARKS[int((v - low) / span * top + 0.5 + 1e-9)] for v in values)


def plot(series: dict[str, list[list[float]]], metric: str, output: Path) -> None:
    """Curves of one metric for several runs on one chart at output (matplotlib, no display).

    The format is output's suffix (png, svg, pdf, jpg, ...: what matplotlib writes), PNG if it
    has none; the file is written exactly at output (matplotlib would add `.png` to a name
    without a suffix), whole or not at all (a temporary file beside it, renamed into place).
    InvalidInput for a suffix that names no image format."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    try:
        kind = output.suffix.lstrip(".").lower() or "png"
        formats = fig.canvas.get_supported_filetypes()
        if kind not in formats:
            raise InvalidInput(
                f"cannot write {output}: {kind!r} is not an image format; use one of "
                f"{', '.join(sorted(formats))} (e.g. curve.png)"
            )
        for run_name, points in series.items():
            ax.plot([p[0] for p in points], [p[2] for p in points], label=run_name, linewidth=1.5)
        ax.set_xlabel("step")
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        with tempfile.NamedTemporaryFile(
            dir=output.parent, prefix=f".{output.name}.pacha-", delete=False
        ) as tmp:
            try:
                fig.savefig(tmp, format=kind)
                tmp.flush()
                os.fsync(tmp.fileno())
                os.replace(tmp.name, output)
            except BaseException:
                os.unlink(tmp.name)
                raise
    finally:
        plt.close(fig)
