"""Each service image holds what its code imports.

An image installs one workspace package with `uv sync --package NAME --no-dev`, so it gets
that package's declared dependencies (from uv.lock), not the whole workspace's. A module
that imports a library only a sibling package declares works under `uv run` and fails in
the image. This compares the module-level imports of each package, and of the shared
library it carries, with the distributions its lock entry pulls in.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGES = {
    "invoicesync-api": ["services/api/src/invoicesync_api"],
    "connector-exact": ["services/connector-exact/src/connector_exact"],
    "connector-lexware": ["services/connector-lexware/src/connector_lexware"],
    "connector-yuki": ["services/connector-yuki/src/connector_yuki"],
    "invoicesync-sandbox": ["services/sandbox/src/invoicesync_sandbox"],
}
SHARED = "shared/src/invoicesync_shared"


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def closure(package: str) -> set[str]:
    """Distributions `uv sync --package` installs for ``package`` (markers ignored)."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    entries = {_normalise(p["name"]): p for p in lock["package"]}
    seen: set[str] = set()
    pending: list[tuple[str, tuple[str, ...]]] = [(_normalise(package), ())]
    while pending:
        name, extras = pending.pop()
        key = f"{name}[{','.join(extras)}]"
        if key in seen:
            continue
        seen.add(key)
        entry = entries[name]
        deps = list(entry.get("dependencies", []))
        for extra in extras:
            deps += entry.get("optional-dependencies", {}).get(extra, [])
        pending += [(_normalise(d["name"]), tuple(d.get("extra", []))) for d in deps]
    return {k.split("[")[0] for k in seen}


def _module_level_imports(tree: ast.Module) -> set[str]:
    """Top-level names imported when the module loads (not under TYPE_CHECKING, not in a
    try that handles ImportError, not inside functions)."""
    found: set[str] = set()
    body: list[ast.stmt] = list(tree.body)
    while body:
        node = body.pop()
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.If):
            if "TYPE_CHECKING" not in ast.unparse(node.test):
                body += node.body + node.orelse
        elif isinstance(node, ast.Try):
            handled = {ast.unparse(h.type) for h in node.handlers if h.type is not None}
            if not handled & {"ImportError", "ModuleNotFoundError"}:
                body += node.body + node.orelse + node.finalbody
    return found


def imports(directory: Path) -> dict[str, str]:
    """Third-party top-level module → the first file importing it."""
    found: dict[str, str] = {}
    for path in sorted(directory.rglob("*.py")):
        if "migrations" in path.parts and "versions" in path.parts:
            continue
        for name in _module_level_imports(ast.parse(path.read_text())):
            if name not in sys.stdlib_module_names and name != "__future__":
                found.setdefault(name, str(path.relative_to(ROOT)))
    return found


# Known today: shared imports uvicorn and starlette (connectors/service.py) and authlib
# (connectors/oauth.py) without declaring them, so these images would not start. Strict:
# once shared/pyproject.toml declares them these cases pass, and the marker must go.
@pytest.mark.parametrize("package", sorted(IMAGES))
def test_image_has_every_module_its_code_imports(package: str) -> None:
    installed = closure(package)
    distributions = packages_distributions()
    missing = []
    for directory in [*IMAGES[package], SHARED]:
        for module, where in imports(ROOT / directory).items():
            dists = {_normalise(d) for d in distributions.get(module, [module])}
            if not dists & installed:
                missing.append(f"{module} (imported by {where})")
    assert not missing, f"{package} image lacks: {sorted(missing)}"
