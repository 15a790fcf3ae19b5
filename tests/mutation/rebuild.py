"""A pytest plugin of `make mutate`: what a module builds once, when it is imported, is built
again in a mutant's child, so that the mutant is in it.

mutmut imports the code once in its parent process and switches a mutant on in each forked
child; a statement compiled at import (the fast accept path's ``CONTEXT`` and ``STORE``) was
built before that, without any mutant, and every mutant of its builders would survive.

And mutmut tests a function's mutants with the tests it saw call the function: a builder is
called once, at import, inside whichever test imported the module first. Every test that
runs a built statement tests its builder too; the plugin tells mutmut so while it gathers
its statistics.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType

import pytest
from mutmut.mutation.trampoline import get_mutant_under_test
from mutmut.state import state


def _accept(module: ModuleType) -> None:
    build = module._context_statement
    vars(module).update(CONTEXT={False: build(False), True: build(True)})
    vars(module).update(STORE=module._store_statement())


_ACCEPT = "invoicesync_api.documents.accept"
# Module → how to build again what it built at import.
BUILT_AT_IMPORT: dict[str, Callable[[ModuleType], None]] = {_ACCEPT: _accept}
# A builder (mutmut's mangled name) → the functions that run what it built.
RUN_BY: dict[str, tuple[str, ...]] = {
    f"{_ACCEPT}.x__context_statement": (f"{_ACCEPT}.x_context",),
    f"{_ACCEPT}.x__store_statement": (f"{_ACCEPT}.x_store",),
    f"{_ACCEPT}.x__integrations_unchanged": (f"{_ACCEPT}.x_store",),
}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """While mutmut gathers which test calls what (before its own teardown hook reads it):
    a test that ran a built statement called its builder."""
    if get_mutant_under_test() != "stats":
        return
    called = state()._stats
    called.update(builder for builder, runners in RUN_BY.items() if called.intersection(runners))


def pytest_configure(config: pytest.Config) -> None:
    mutant = get_mutant_under_test()
    for name, rebuild in BUILT_AT_IMPORT.items():
        if mutant.startswith(f"{name}."):
            rebuild(importlib.import_module(name))
