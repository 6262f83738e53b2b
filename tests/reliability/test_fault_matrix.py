"""The fault matrix, one test per cell: a stack rehearsed while one thing fails (see matrix.py for the cells).

Every cell checks what a user would notice: each CloudFormation request answered exactly once (never left to
time out), the stack ending where it should, a FAILED Reason of at most 256 characters naming the job and the
cause, no second harvest job, no EventBridge rule left behind, and no ResponseURL in the handler's logs (cells
take turns at the DEBUG, INFO, WARNING and ERROR log levels).
"""

from __future__ import annotations

import pytest

from tests.reliability.helpers import Stacks
from tests.reliability.matrix import CELLS, HANDLER_CALLS, KNOWN_LIMITS, Cell, level_for, model_errors, problems, run


def _param(cell: Cell) -> object:
    known = KNOWN_LIMITS.get(cell.id)
    marks = [pytest.mark.xfail(strict=True, reason=known)] if known else []
    return pytest.param(cell, id=cell.id, marks=marks)


@pytest.mark.parametrize("cell", [_param(cell) for cell in CELLS])
def test_cell(cell: Cell, stacks: Stacks, matrix_results: dict[str, bool]) -> None:
    outcome = run(cell, stacks, level_for(cell))
    found = problems(cell, outcome)
    matrix_results[cell.id] = not found
    assert found == []


def test_the_matrix_covers_every_error_of_every_call() -> None:
    """Each call the handler makes, with each error botocore's model lists for it, first and every attempt."""
    covered = {(f.operation, f.code, c.when) for c in CELLS for f in (*c.mediapackage, *c.eventbridge)}
    expected = {
        (operation, code, when)
        for service, operation in HANDLER_CALLS
        for code in model_errors(service, operation)
        for when in ("first attempt", "every attempt")
    }
    assert expected - covered == set()
