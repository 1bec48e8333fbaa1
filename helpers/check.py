"""Notebook entry point for exercise checks: ``from helpers import check``, then
``check.ex_6_3(rnn_backward)`` runs the check registered for exercise 6.3."""
from __future__ import annotations

import re
from typing import Any, Callable

from helpers.checks import ExerciseFailed, ExerciseNotAnswered, get, install_short_tracebacks, load_all

__all__ = ["ExerciseFailed", "ExerciseNotAnswered", "load_all"]

install_short_tracebacks()


def __getattr__(name: str) -> Callable[..., None]:
    match = re.fullmatch(r"ex_(\d+)_(\d+)", name)
    if not match:
        raise AttributeError(f"helpers.check has no {name!r}; checks are named like ex_6_3")
    try:
        return get(f"{int(match.group(1))}.{int(match.group(2))}").check
    except KeyError as error:
        raise AttributeError(str(error)) from None


def __dir__() -> list[str]:
    return sorted(f"ex_{i.replace('.', '_')}" for i in load_all()) + __all__


def run(ex_id: str, *args: Any, **kwargs: Any) -> None:
    """``run("6.3", fn)`` is ``ex_6_3(fn)``."""
    get(ex_id).check(*args, **kwargs)
