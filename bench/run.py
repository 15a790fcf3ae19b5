"""Entry point of ``make bench``: run the benchmarks, each bounded in time, print one
table of figures beside their references and targets, and write it as JSON under
bench/results/<timestamp>.json. Exits 1 when a target is missed, 2 on bad arguments.

Each benchmark runs in a child process of its own (``--child``), so its time bound
covers everything it does, starting and stopping its processes included: at the bound
the child is interrupted (its clean-up runs), then killed with every process it started,
and the databases it made are dropped. end_to_end and scale_out share their processes
when both run (one child, their two bounds added).

Run: ``uv run python -m bench.run [--only NAME ...] [--quick]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from bench.common import DATABASE_PREFIX, RESULTS, RUN_VARIABLE, Figure, Options, admin_url
from invoicesync_devstack import postgres
from invoicesync_shared.logging import configure_logging

BENCHMARKS = (
    "api_accept",
    "exact_budget",
    "exact_divisions",
    "exact_purchase",
    "lexware_budget",
    "lexware_purchases",
    "fleet",
    "yuki_batching",
    "yuki_purchases",
    "end_to_end",
    "scale_out",
    "growth",
    "retention",
    "console_pages",
    "reconciliation",
)
SHARED = ("end_to_end", "scale_out")  # one set of processes when both run
GRACE_SECONDS = 5  # for the child's own clean-up after the interrupt


def _machine() -> dict[str, object]:
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _units(names: list[str]) -> list[tuple[str, ...]]:
    """The benchmarks in their order, grouped by child process."""
    ordered = [n for n in BENCHMARKS if n in names]
    if all(n in ordered for n in SHARED):
        return [*((n,) for n in ordered if n not in SHARED), SHARED]
    return [(n,) for n in ordered]


def _budget(unit: tuple[str, ...]) -> float:
    return float(sum(importlib.import_module(f"bench.{n}").BUDGET_SECONDS for n in unit))


# The child: one unit in this process


async def _child(unit: tuple[str, ...], options: Options) -> list[Figure]:
    if unit == SHARED:
        from bench import scale_out

        return await scale_out.run(options, with_end_to_end=True)
    (name,) = unit
    module = importlib.import_module(f"bench.{name}")
    figures: list[Figure] = await module.run(options)
    return figures


def child_main(args: argparse.Namespace) -> int:
    unit = tuple(args.child)
    options = Options(quick=args.quick, log_dir=Path(args.log_dir))
    try:
        figures = asyncio.run(_child(unit, options))
    except KeyboardInterrupt:  # the runner's time bound: clean-up has run
        return 3
    Path(args.out).write_text(json.dumps([f.as_dict() for f in figures]))
    return 0


# The parent: each unit in a child, within its bound


def _kill_tree(process: subprocess.Popen[bytes]) -> None:
    """Interrupt the child (it stops its processes and drops its databases), then kill
    whatever it started that is still there, and the child."""
    try:
        family = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        family = []
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for member in family:
        with contextlib.suppress(psutil.Error):
            member.kill()


async def _drop_databases(prefix: str) -> list[str]:
    """Drop the databases a unit left behind (named after its run id)."""
    root = await admin_url()
    conn = await asyncpg.connect(root)
    try:
        names = [
            str(r["datname"])
            for r in await conn.fetch(
                "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", prefix
            )
        ]
    finally:
        await conn.close()
    for name in names:
        await postgres.drop_database(root, name)
    return names


def _run_unit(unit: tuple[str, ...], options: Options, run_id: str) -> list[Figure]:
    label = "+".join(unit)
    budget = _budget(unit)
    options.log_dir.mkdir(parents=True, exist_ok=True)
    out = options.log_dir / f"{label}.json"
    command = [sys.executable, "-m", "bench.run", "--child", *unit, "--out", str(out)]
    command += ["--log-dir", str(options.log_dir)] + (["--quick"] if options.quick else [])
    started = time.monotonic()
    process = subprocess.Popen(command, env={**os.environ, RUN_VARIABLE: run_id})
    figures: list[Figure] = []
    try:
        code = process.wait(timeout=budget)
    except subprocess.TimeoutExpired:
        _kill_tree(process)
        code = None
    elapsed = time.monotonic() - started
    with contextlib.suppress(Exception):  # normally none: the child dropped its own
        left = asyncio.run(_drop_databases(f"{DATABASE_PREFIX}{run_id}_"))
        if left:
            print(f"  dropped databases left behind: {', '.join(left)}")
    if code is None:
        figures = [Figure(label, "finished in time", None, passed=False, note=f"> {budget:g} s")]
    elif code != 0 or not out.exists():
        figures = [Figure(label, "ran", None, passed=False, note=f"exit {code}; see output")]
    else:
        figures = [Figure(**row) for row in json.loads(out.read_text())]
    print(f"  {label}: {elapsed:.0f} s", flush=True)
    return [*figures, Figure(label, "wall time", round(elapsed, 1), "s", target=f"<= {budget:g}")]


# The table


def _cell(figure: Figure) -> list[str]:
    value = "-" if figure.value is None else f"{figure.value:g} {figure.unit}".strip()
    ratio = "" if figure.ratio is None else f"{figure.ratio:g}"
    ratio_target = " / ".join(x for x in (ratio, figure.target) if x)
    verdict = {True: "pass", False: "MISS", None: ""}[figure.passed]
    return [f"{figure.benchmark}: {figure.name}", value, figure.reference, ratio_target, verdict]


def print_table(figures: list[Figure]) -> None:
    header = ["figure", "value", "reference", "ratio / target", "pass/miss"]
    rows = [header, *(_cell(f) for f in figures)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    print()
    for index, row in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            print(line)
    notes = [f for f in figures if f.note and f.name != "wall time"]
    if notes:
        print("\nnotes:")
        for figure in notes:
            print(f"  {figure.benchmark}: {figure.name}: {figure.note}")


def main(args: argparse.Namespace) -> int:
    names = args.only or list(BENCHMARKS)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    options = Options(quick=args.quick, log_dir=RESULTS / f"{stamp}-logs")
    started = time.monotonic()
    figures: list[Figure] = []
    units = _units(names)
    print(f"benchmarks: {', '.join(names)}{' (quick)' if args.quick else ''}", flush=True)
    for index, unit in enumerate(units):
        figures += _run_unit(unit, options, f"{stamp.lower()}_{index}")
    total = time.monotonic() - started
    print_table(figures)
    print(f"\ntotal: {total:.0f} s on {_machine()['nproc']} cores")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{stamp}.json"
    report: dict[str, Any] = {
        "started": stamp,
        "quick": args.quick,
        "total_seconds": round(total, 1),
        "machine": _machine(),
        "figures": [f.as_dict() for f in figures],
    }
    out.write_text(json.dumps(report, indent=2))
    print(f"written: {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")
    return 1 if any(f.passed is False for f in figures) else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="repeatable")
    parser.add_argument("--quick", action="store_true", help="shorter runs (smoke test)")
    parser.add_argument("--child", nargs="+", choices=BENCHMARKS, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--log-dir", help=argparse.SUPPRESS)
    configure_logging("bench", "warning", False)
    arguments = parser.parse_args()
    sys.exit(child_main(arguments) if arguments.child else main(arguments))
