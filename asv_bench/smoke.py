"""Run every asv benchmark once, in this process, under the tiny ``smoke`` profile.

    python asv_bench/smoke.py [--profile smoke] [--bench REGEX]

The CI check (``tests/test_benchmarks.py``) behind "a broken benchmark never lands":
the equivalent of ``asv run --python=same --quick --dry-run`` without asv's process per
benchmark (each would import NumPy, SciPy and Numba and compile its kernels again,
minutes on two cores). Benchmarks are found the way asv finds them (every public
class of every module in ``benchmarks/``, methods named ``time_``, ``timeraw_``,
``mem_``, ``peakmem_``, ``track_``; ``params`` as a list of lists or one list), and
each parameter combination runs ``setup``, the method once and ``teardown``.
``NotImplementedError`` from ``setup`` is a skip, as in asv (a missing backend); any
other exception, or a ``track_`` that returns no number, is a failure. Exit status 1
on a failure; the table printed says which benchmark, which parameters and why.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import itertools
import math
import numbers
import os
import pkgutil
import re
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

BENCHMARK_DIR = Path(__file__).resolve().parent / "benchmarks"
PACKAGE = "_reservoir_asv_benchmarks"  # private name: never shadows another "benchmarks" package
PREFIXES = ("timeraw_", "time_", "mem_", "peakmem_", "track_")


@dataclass
class Benchmark:
    name: str  # asv's name: module.Class.method
    cls: type | None
    method_name: str
    params: list = field(default_factory=list)  # list of lists (empty: not parameterised)
    module: object = None  # the module it was found in

    def combinations(self):
        return list(itertools.product(*self.params)) if self.params else [()]


@dataclass
class Outcome:
    benchmark: str
    params: tuple
    status: str  # "ok", "skipped", "failed"
    seconds: float
    message: str = ""


def load(profile: str = "smoke"):
    """Import the benchmark package afresh with RESERVOIR_BENCH_PROFILE=`profile`; return its modules."""
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    previous = os.environ.get("RESERVOIR_BENCH_PROFILE")
    os.environ["RESERVOIR_BENCH_PROFILE"] = profile
    try:
        spec = importlib.util.spec_from_file_location(
            PACKAGE, BENCHMARK_DIR / "__init__.py", submodule_search_locations=[str(BENCHMARK_DIR)]
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = package
        spec.loader.exec_module(package)
        modules = [
            importlib.import_module(f"{PACKAGE}.{info.name}")
            for info in sorted(pkgutil.iter_modules([str(BENCHMARK_DIR)]), key=lambda info: info.name)
        ]
    finally:
        if previous is None:
            del os.environ["RESERVOIR_BENCH_PROFILE"]
        else:
            os.environ["RESERVOIR_BENCH_PROFILE"] = previous
    return modules


def _params(owner) -> list:
    params = list(getattr(owner, "params", []) or [])
    if params and not isinstance(params[0], (list, tuple)):  # asv: one parameter given as a flat list
        params = [params]
    return [list(values) for values in params]


def discover(modules) -> list[Benchmark]:
    """asv's discovery rules: public module-level classes and functions, benchmark-prefixed methods."""
    found = {}
    for module in modules:
        short = module.__name__.removeprefix(PACKAGE + ".")
        for attribute, value in vars(module).items():
            if attribute.startswith("_"):
                continue
            if inspect.isclass(value) and not inspect.isabstract(value):
                for method_name, method in inspect.getmembers(value, inspect.isfunction):
                    if method_name.startswith(PREFIXES):
                        name = f"{short}.{attribute}.{method_name}"
                        found[name] = Benchmark(name, value, method_name, _params(method) or _params(value), module)
            elif inspect.isfunction(value) and attribute.startswith(PREFIXES):
                found[f"{short}.{attribute}"] = Benchmark(
                    f"{short}.{attribute}", None, attribute, _params(value), module
                )
    return [found[name] for name in sorted(found)]


def _call(function, args):
    return function(*args) if function is not None else None


def run_one(benchmark: Benchmark, args: tuple) -> Outcome:
    start = time.perf_counter()
    module = benchmark.module
    instance = benchmark.cls() if benchmark.cls is not None else None
    method = getattr(instance if instance is not None else module, benchmark.method_name)

    def first(attribute):  # asv's order: the method's own attribute, then the class's, then the module's
        for source in (method, instance, module):
            if source is not None and getattr(source, attribute, None) is not None:
                return getattr(source, attribute)
        return None

    setup, teardown = first("setup"), first("teardown")
    setup_cache = getattr(instance, "setup_cache", None)
    try:
        extra = (setup_cache(),) if setup_cache is not None else ()
        try:
            _call(setup, extra + args)
        except NotImplementedError as skip:
            return Outcome(benchmark.name, args, "skipped", time.perf_counter() - start, str(skip))
        try:
            if benchmark.method_name.startswith("timeraw_"):
                code = method(*extra, *args)
                exec(compile(code, benchmark.name, "exec"), {})
                result = None
            else:
                result = method(*extra, *args)
        finally:
            _call(teardown, extra + args)
        if benchmark.method_name.startswith("track_"):
            if not isinstance(result, numbers.Real) or isinstance(result, bool):
                return Outcome(
                    benchmark.name,
                    args,
                    "failed",
                    time.perf_counter() - start,
                    f"track_ returned {result!r}, not a number",
                )
            if not math.isfinite(result):
                return Outcome(
                    benchmark.name, args, "failed", time.perf_counter() - start, f"track_ returned {result!r}"
                )
    except Exception:  # noqa: BLE001 - reported, not raised: the table lists every failure
        return Outcome(benchmark.name, args, "failed", time.perf_counter() - start, traceback.format_exc())
    return Outcome(benchmark.name, args, "ok", time.perf_counter() - start)


def run(profile: str = "smoke", bench: str | None = None, log=None) -> list[Outcome]:
    """Every (benchmark, parameters) once; `bench` filters like ``asv run --bench`` (on name(params))."""
    outcomes = []
    for benchmark in discover(load(profile)):
        for args in benchmark.combinations():
            label = f"{benchmark.name}({', '.join(map(repr, args))})" if benchmark.params else benchmark.name
            if bench and not re.search(bench, label):
                continue
            outcome = run_one(benchmark, args)
            outcomes.append(outcome)
            if log is not None:
                log(f"{outcome.status:8s} {outcome.seconds:7.2f} s  {label}")
    return outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="smoke", help="RESERVOIR_BENCH_PROFILE for this run (default: smoke)")
    parser.add_argument("--bench", "-b", default=None, help="regular expression on 'module.Class.method(params)'")
    args = parser.parse_args()
    start = time.perf_counter()
    outcomes = run(args.profile, args.bench, log=lambda line: print(line, flush=True))
    failed = [o for o in outcomes if o.status == "failed"]
    for outcome in failed:
        print(f"\nFAILED {outcome.benchmark}{outcome.params}:\n{outcome.message}")
    counts = {status: sum(o.status == status for o in outcomes) for status in ("ok", "skipped", "failed")}
    print(
        f"\n{counts['ok']} ok, {counts['skipped']} skipped, {counts['failed']} failed "
        f"in {time.perf_counter() - start:.1f} s (profile {args.profile})"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
