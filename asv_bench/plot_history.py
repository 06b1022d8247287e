"""Figures of the asv history: time per ESN step and per CUBA biological second across commits.

    python asv_bench/plot_history.py [--results asv_bench/results] [--machine NAME] [--profile full]
                                     [--out docs] [--table]

Reads the results asv stored for one machine (``results/<machine>/<commit>-<env>.json``,
written by ``asv run``; ``make bench-history`` measures the commits of
``asv_bench/history-commits.txt`` plus HEAD) and writes

* ``docs/asv_esn_step.png``: ``esn.Run.time_run_single`` (numba, density 0.01,
  n = 1,000 and 10,000) divided by the profile's step count: time per ESN step;
* ``docs/asv_cuba.png``: ``lsm.Cuba.time_cuba`` (numba) scaled to one biological
  second (10,000 steps of 0.1 ms).

Commits are placed in ``git log --first-parent`` order (oldest left), labelled with
their short hash; a commit without a value (the benchmark failed there, or the code
did not exist yet) is left out of that figure. Only results whose parameters are the
chosen profile's are used, so quick and full runs never mix. Points are asv's
value (the median of its samples), bars the interquartile range. ``--table`` prints
the plotted numbers as markdown.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ESN = "esn.Run.time_run_single"
CUBA = "lsm.Cuba.time_cuba"
ESN_UNITS = (1_000, 10_000)
STEPS_PER_BIOLOGICAL_SECOND = 10_000  # dt = 0.1 ms


def profile(name: str):
    """The size profile from benchmarks/common.py (the step counts the timings divide by)."""
    spec = importlib.util.spec_from_file_location("_asv_common", HERE / "benchmarks" / "common.py")
    common = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = common  # dataclasses look their module up
    spec.loader.exec_module(common)
    return common.PROFILES[name]


def first_parent_order(branch: str = "main") -> list[str]:
    """Full hashes, oldest first; empty when git is unavailable."""
    try:
        out = subprocess.run(
            ["git", "rev-list", "--first-parent", "--reverse", branch],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return out.split()


def subject(commit: str) -> str:
    try:
        return subprocess.run(
            ["git", "log", "-1", "--format=%s", commit], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def load(results_dir: Path, machine: str | None):
    """{commit: {"date": ms, "results": {name: {params tuple: value}}}} of one machine."""
    machines = [p for p in results_dir.iterdir() if (p / "machine.json").exists()]
    if machine is not None:
        machines = [p for p in machines if p.name == machine]
    if len(machines) != 1:
        raise SystemExit(
            f"choose one machine with --machine: {[p.name for p in machines] or 'none found'} in {results_dir}"
        )
    commits = {}
    for path in sorted(machines[0].glob("*.json")):
        if path.name == "machine.json":
            continue
        data = json.loads(path.read_text())
        columns = data["result_columns"]
        results = {}
        for name, row in data["results"].items():
            entry = dict(zip(columns, row))
            params = entry.get("params") or []
            values = entry.get("result")
            if values is None:
                continue
            quartiles = zip(
                entry.get("stats_q_25") or [None] * len(values), entry.get("stats_q_75") or [None] * len(values)
            )
            combinations = list(itertools.product(*params)) if params else [()]
            results[name] = {
                "params": [list(p) for p in params],
                **{combo: (value, q25, q75) for combo, value, (q25, q75) in zip(combinations, values, quartiles)},
            }
        commits.setdefault(data["commit_hash"], {"date": data.get("date"), "results": {}})["results"].update(results)
    return machines[0].name, commits


def measured_with(commit_results: dict, prof) -> bool:
    """Whether a commit's results come from a run with profile `prof`.

    The ESN run's (units, density) grid is the fingerprint: it differs between the
    profiles, and CUBA's parameters (the backend) do not. asv keeps one result file per
    commit and environment, so the benchmarks of one file come from one run.
    """
    esn = commit_results.get(ESN)
    return esn is not None and esn["params"][1:] == [[str(u) for u in prof.units], [str(d) for d in prof.densities]]


def series(commits, order, name, key, prof, scale):
    """[(commit, (value, q25, q75) * scale)] in commit order, where the result exists and was
    measured with `prof`: asv's value (the median of the samples) and the interquartile range."""
    points = []
    for commit in order:
        results = commits.get(commit, {}).get("results", {})
        result = results.get(name)
        if result is None or not measured_with(results, prof):
            continue
        value, q25, q75 = result.get(key, (None, None, None))
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        q25, q75 = (value if q is None else q for q in (q25, q75))
        points.append((commit, (value * scale, q25 * scale, q75 * scale)))
    return points


def plot(path: Path, title: str, ylabel: str, lines: dict, order: list, note: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    commits = [c for c in order if any(c in dict(points) for points in lines.values())]
    x = {commit: i for i, commit in enumerate(commits)}
    fig, ax = plt.subplots(figsize=(9, 4.2), dpi=110)
    for label, points in lines.items():
        if points:
            xs = [x[c] for c, _ in points]
            ys = [v for _, (v, _, _) in points]
            spread = [[v - low for _, (v, low, _) in points], [high - v for _, (v, _, high) in points]]
            ax.errorbar(xs, ys, yerr=spread, fmt="o-", capsize=3, label=label)
            labelled = range(len(xs)) if len(xs) <= 8 else [len(xs) - 1]  # every point when few
            for i in labelled:
                ax.annotate(f"{ys[i]:.3g}", (xs[i], ys[i]), textcoords="offset points", xytext=(6, 4), fontsize=8)
    values = [v for points in lines.values() for _, (v, _, _) in points]
    ax.set_xticks(range(len(commits)))
    ax.set_xticklabels([c[:7] for c in commits], rotation=45, ha="right", fontsize=8, family="monospace")
    ax.set_xlabel("commit (git log --first-parent main, oldest left)")
    ax.set_ylabel(ylabel)
    if values and max(values) > 8 * min(values):  # a log axis where the values span decades
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    else:
        ax.set_ylim(bottom=0)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title, fontsize=11)
    fig.text(0.01, 0.01, note, fontsize=7, color="0.35")
    ax.legend(fontsize=8, title="median of asv's samples, bars: interquartile range", title_fontsize=7)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    print(f"wrote {path} ({len(commits)} commits)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument("--machine", default=None, help="asv machine name (needed when results hold several)")
    parser.add_argument("--profile", default="full", help="RESERVOIR_BENCH_PROFILE the history was run with")
    parser.add_argument("--branch", default="main")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument(
        "--note",
        default="one Numba thread (NUMBA_NUM_THREADS=1), float32, `make bench-history`",
        help="how the history was measured, printed under the figures",
    )
    parser.add_argument("--table", action="store_true", help="print the plotted values as a markdown table")
    args = parser.parse_args()

    prof = profile(args.profile)
    machine, commits = load(args.results, args.machine)
    order = [c for c in first_parent_order(args.branch) if c in commits]
    order += sorted((c for c in commits if c not in order), key=lambda c: commits[c]["date"] or 0)
    note = f"asv, machine {machine!r}, profile {prof.name!r}; {args.note}"

    esn_lines = {
        f"n = {units:,}, density 0.01": series(
            commits, order, ESN, ("'numba'", str(units), "0.01"), prof, 1e3 / prof.steps
        )
        for units in ESN_UNITS
    }
    cuba_points = series(commits, order, CUBA, ("'numba'",), prof, 1e3 * STEPS_PER_BIOLOGICAL_SECOND / prof.cuba_steps)

    plot(
        args.out / "asv_esn_step.png",
        f"ESN.run, one sequence, numba, float32: time per step\n({prof.steps} steps per timed call)",
        "ms per step",
        esn_lines,
        order,
        note,
    )
    plot(
        args.out / "asv_cuba.png",
        f"CUBA (4,000 LIF neurons, Brette et al. 2007), numba: wall time per biological second\n"
        f"({prof.cuba_steps:,} steps of 0.1 ms per timed call, spikes recorded)",
        "ms per biological second",
        {"CUBA, spikes recorded": cuba_points},
        order,
        note,
    )

    if args.table:
        print("\n| commit | subject | ESN n=1,000 ms/step | ESN n=10,000 ms/step | CUBA ms per biological s |")
        print("|---|---|---|---|---|")
        columns = [dict(points) for points in esn_lines.values()] + [dict(cuba_points)]
        for commit in order:
            cells = [
                f"{column[commit][0]:.4g} ({column[commit][1]:.3g}-{column[commit][2]:.3g})" if commit in column else ""
                for column in columns
            ]
            if any(cells):
                print(f"| {commit[:7]} | {subject(commit)[:70]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
