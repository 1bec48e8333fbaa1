"""Mutation testing of the exercise checks: does each check reject small mistakes in the answer?

    python -m helpers.mutants                       # every chapter, every mutant
    python -m helpers.mutants --chapter 3 --exercise 3.9 --show-survivors
    python -m helpers.mutants --sample 8 --seed 0   # a deterministic sample per exercise

For every exercise, the reference answer (the code between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` in its answer cells in solutions/) is mutated automatically from its syntax
tree: one small change per mutant (see OPERATORS). The solution notebook is replayed in-process in
an IPython shell; at each exercise the reference check is run first (it must pass, else the
exercise is reported as "cannot evaluate"), then for each mutant the mutated answer cell is run,
the check cell is evaluated, and the original answer cell is run again to restore the state.

A mutant is *killed* when the check fails, raises or times out; it *survives* when the check
passes. A survivor is either a weakness of the check or an *equivalent* mutant (it computes the
same thing, or something the exercise accepts); equivalents are recorded with a reason in
``EQUIVALENT = {"3.9": {"<mutant id>": "reason"}}`` in tests/test_checks_chNN.py. A mutant whose
cell does not compile is discarded. The command exits 1 when an exercise is below ``--floor`` of
its non-equivalent mutants killed, has a survivor not recorded as equivalent, or cannot be
evaluated. A passing float32 cast counts as equivalent where the exercise's ``float32`` flag
accepts float32 answers.

Cost: the replay stops after the last check cell needed and costs about what the notebook itself
costs (chapter 09: ~45 s of CPU); one mutant costs one run of its check (milliseconds to a second)
except where the answer trains (1.5: 1000 TensorFlow steps; 7.8: an LSTM, ~10-30 s). Each
mutant's check runs under a time limit of max(10 s, 5 × the reference's time). With several
chapters, each runs in a fresh process, as each notebook runs in its own kernel.
"""
from __future__ import annotations

from helpers.mutants.operators import OPERATORS, Mutant, generate, sample, solution_lines, strip_hidden
from helpers.mutants.runner import Outcome, Result, allows_float32, equivalents, run_chapter

__all__ = ["OPERATORS", "Mutant", "Outcome", "Result", "allows_float32", "equivalents", "generate",
           "main", "run_chapter", "sample", "solution_lines", "strip_hidden"]


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.mutants``: see the module docstring."""
    from helpers.mutants.cli import main as cli_main

    return cli_main(argv)
