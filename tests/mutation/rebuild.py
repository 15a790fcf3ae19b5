"""A pytest plugin of `make mutate`: what a module builds once, when it is imported, is built
again in a mutant's child, so that the mutant is in it.

mutmut imports the code once in its parent process and switches a mutant on in each forked
child; a statement compiled at import (the fast accept path's ``CONTEXT`` and ``STORE``) was
built before that, without any mutant, and every mutant of its builders would survive.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType

import pytest
from mutmut.mutation.trampoline import get_mutant_under_test


def _accept(module: ModuleType) -> None:
    build = module._context_statement
    vars(module).update(CONTEXT={False: build(False), True: build(True)})
    vars(module).update(STORE=module._store_statement())


# Module → how to build again what it built at import.
BUILT_AT_IMPORT: dict[str, Callable[[ModuleType], None]] = {
    "invoicesync_api.documents.accept": _accept,
}


def pytest_configure(config: pytest.Config) -> None:
    mutant = get_mutant_under_test()
    for name, rebuild in BUILT_AT_IMPORT.items():
        if mutant.startswith(f"{name}."):
            rebuild(importlib.import_module(name))
