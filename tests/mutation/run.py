"""`make mutate`: mutmut over the modules in pyproject's [tool.mutmut.modules], in bounded time.

mutmut copies one source tree into ``mutants/`` and puts ``mutants/src`` first on the import
path; this workspace has one ``src/`` per package. So each module gets its own folder under
``.run/mutate`` that looks like a one-package project to mutmut: ``src/<package>`` and ``tests``
link to the real ones, and its pyproject.toml is the root's with a [tool.mutmut] for that module
alone (its tests only). A run cut short by the time limit resumes where it stopped, as long as
neither the package nor the tests changed in between; otherwise the module starts afresh.

Survivors listed in tests/mutation/equivalent.md are explained: equivalent ones are counted
apart (the score is killed / (mutants - equivalent)); those under a "### Not equivalent"
heading stay in the score but are not reported as unexplained.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".run" / "mutate"
EQUIVALENT = Path(__file__).resolve().parent / "equivalent.md"
MUTMUT = Path(sys.executable).parent / "mutmut"
_EQUIVALENT_LINE = re.compile(r"^- `([^`]+)`")


@dataclass(frozen=True)
class Target:
    """One module to mutate and the tests that exercise it."""

    path: str
    tests: tuple[str, ...]

    @property
    def src(self) -> Path:
        """The ``src`` folder of the module's package."""
        parts = Path(self.path).parts
        return ROOT.joinpath(*parts[: parts.index("src") + 1])

    @property
    def inside_src(self) -> Path:
        return Path(self.path).relative_to(self.src.relative_to(ROOT))

    @property
    def module(self) -> str:
        return ".".join(self.inside_src.with_suffix("").parts)

    @property
    def folder(self) -> Path:
        return WORK / self.module


@dataclass
class Score:
    module: str
    counts: dict[str, int]
    survivors: list[str]
    equivalent: int
    accepted: int

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def killed(self) -> int:
        return self.counts.get("killed", 0) + self.counts.get("timeout", 0)

    def line(self) -> str:
        if not self.total:
            return f"{self.module}: not run yet"
        scored = self.total - self.equivalent
        percent = 100 * self.killed / scored if scored else 100.0
        unchecked = self.counts.get("not checked", 0)
        rest = f", {unchecked} not checked yet" if unchecked else ""
        return (
            f"{self.module}: {self.killed} killed / {self.total} mutants, "
            f"{self.equivalent} equivalent, {self.accepted} not equivalent but explained, "
            f"{len(self.survivors)} unexplained survivors "
            f"-> {percent:.1f}%{rest}"
        )


def load_targets() -> tuple[str, list[Target]]:
    """The root pyproject.toml without [tool.mutmut], and the modules it lists."""
    text = (ROOT / "pyproject.toml").read_text()
    modules = tomllib.loads(text)["tool"]["mutmut"]["modules"]
    targets = [Target(path, tuple(tests)) for path, tests in modules.items()]
    return text, targets


def _without_mutmut_tables(text: str) -> tuple[str, str]:
    """Split pyproject text into (everything else, the keys of [tool.mutmut] itself)."""
    kept: list[str] = []
    own: list[str] = []
    table = ""
    for line in text.splitlines():
        header = re.match(r"^\[([^\]]+)\]\s*$", line)
        if header:
            table = header.group(1)
        if table.startswith("tool.mutmut"):
            if table == "tool.mutmut" and not header:
                own.append(line)
            continue
        kept.append(line)
    return "\n".join(kept), "\n".join(own)


def _test_sources(target: Target) -> list[Path]:
    """The module's tests and what every test may import: conftests, support code and the
    mutation plugin."""
    tests = ROOT / "tests"
    selected = [ROOT / t for t in target.tests]
    shared = [
        p
        for p in tests.rglob("*.py")
        if p.name == "conftest.py" or "support" in p.parent.name or p.stem.endswith("_support")
    ]
    shared.append(Path(__file__).with_name("rebuild.py"))  # the plugin every run loads
    found = {p for path in selected for p in ([path] if path.is_file() else path.rglob("*.py"))}
    return sorted(found | set(shared))


def _fingerprint(target: Target, config: str) -> str:
    """What the cached results depend on: the package's sources, the module's tests and its
    mutmut and pytest configuration."""
    digest = hashlib.sha256(config.encode())
    package = target.src / target.inside_src.parts[0]
    for path in [*sorted(package.rglob("*.py")), *_test_sources(target)]:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def stage(target: Target, pyproject: str) -> None:
    """Lay out the module's folder for mutmut; wipe old results if their inputs changed."""
    rest, own = _without_mutmut_tables(pyproject)
    package = target.inside_src.parts[0]
    config = "\n".join(
        [
            rest,
            "",
            "[tool.mutmut]",
            own,
            f"source_paths = {json.dumps(['src/' + package])}",
            f"only_mutate = {json.dumps(['src/' + str(target.inside_src)])}",
            f"pytest_add_cli_args_test_selection = {json.dumps(list(target.tests))}",
            "",
        ]
    )
    folder = target.folder
    stamp = folder / "fingerprint"
    fingerprint = _fingerprint(target, config)
    if stamp.exists() and stamp.read_text() != fingerprint:
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "src").mkdir(exist_ok=True)
    for link, to in (
        (folder / "src" / package, target.src / package),
        (folder / "tests", ROOT / "tests"),
    ):
        if not link.is_symlink():
            link.symlink_to(to, target_is_directory=True)
    (folder / "pyproject.toml").write_text(config)
    stamp.write_text(fingerprint)


def run_mutmut(target: Target, seconds: float, children: int) -> bool:
    """mutmut over the module for at most ``seconds``; False when the time ran out.

    mutmut's progress goes to ``mutmut.log`` in the module's folder."""
    with (target.folder / "mutmut.log").open("w") as log:
        process = subprocess.Popen(
            [str(MUTMUT), "run", "--max-children", str(children)],
            cwd=target.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        process.wait(timeout=max(seconds, 1))
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        return False
    return True


def explained_mutants() -> dict[str, bool]:
    """The survivors equivalent.md lists: name -> whether it is equivalent."""
    if not EQUIVALENT.exists():
        return {}
    explained: dict[str, bool] = {}
    equivalent = True
    for line in EQUIVALENT.read_text().splitlines():
        if line.startswith("#"):
            equivalent = not line.startswith("### Not equivalent")
        elif match := _EQUIVALENT_LINE.match(line):
            explained[match.group(1)] = equivalent
    return explained


def score(target: Target, explained: dict[str, bool]) -> Score:
    meta = target.folder / "mutants" / "src" / f"{target.inside_src}.meta"
    exit_codes: dict[str, int | None] = {}
    if meta.exists():
        exit_codes = json.loads(meta.read_text())["exit_code_by_key"]
    counts: dict[str, int] = {}
    survivors: list[str] = []
    equivalent = accepted = 0
    for name, code in sorted(exit_codes.items()):
        status = status_by_exit_code[code]
        counts[status] = counts.get(status, 0) + 1
        if status in ("survived", "no tests", "suspicious"):
            if name not in explained:
                survivors.append(name)
            elif explained[name]:
                equivalent += 1
            else:
                accepted += 1
    return Score(target.module, counts, survivors, equivalent, accepted)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("paths", nargs="*", help="modules to mutate (default: all configured)")
    parser.add_argument("--minutes", type=float, default=60, help="time limit for the whole run")
    parser.add_argument("--children", type=int, default=2, help="mutants tested at once")
    parser.add_argument(
        "--report", action="store_true", help="only print the scores of the last runs"
    )
    args = parser.parse_args()

    pyproject, targets = load_targets()
    if args.paths:
        unknown = set(args.paths) - {t.path for t in targets}
        if unknown:
            parser.error(f"not in [tool.mutmut.modules]: {', '.join(sorted(unknown))}")
        targets = [t for t in targets if t.path in args.paths]

    deadline = time.monotonic() + args.minutes * 60
    scores: list[Score] = []
    explained = explained_mutants()
    for target in targets:
        left = deadline - time.monotonic()
        if args.report:
            scores.append(score(target, explained))
            continue
        if left <= 0:
            print(f"no time left for {target.module}", flush=True)
            continue
        stage(target, pyproject)
        print(f"== {target.module} ({int(left)} s left)", flush=True)
        if not run_mutmut(target, left, args.children):
            print(f"time ran out during {target.module}; `make mutate` again resumes it")
        scores.append(score(target, explained))

    print("\nMutation scores (killed / (mutants - equivalent)):")
    for result in scores:
        print("  " + result.line())
        for name in result.survivors:
            print(f"    survived: {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
