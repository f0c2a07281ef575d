"""The Tablestore store's runs and outcomes writes (`create_run`, `record_outcome`): collecting an outcome reads
nothing but what its write's condition reads (docs/store-cost.md has the figures and the pages cited).

A run's row is created with, beside its `run` column, one EMPTY cell per item (`o_x` = "", the item's
placeholder) and `n_left`, the number of items (INTEGER). An outcome is stored by a conditional UpdateRow that
puts the item's cell and increments `n_left` by -1 (an atomic counter, allowed in an UpdateRow with a condition:
"Use the atomic counter feature", https://www.alibabacloud.com/help/en/tablestore/developer-reference/configure-atomic-counter-by-using-python-sdk;
this SDK's `update_row` does not return the counter's new value, the page says so, hence two conditions):

1. EXPECT_EXIST and `o_x == ""` (the item belongs to the run and has no outcome yet: first write wins) and
   `n_left > 1` (this is not the run's last outcome). Passes: stored, the run is not complete.
2. otherwise the same write with `o_x == ""` and `n_left == 1`. Passes: stored, and this outcome completed the
   run (the row's writes are atomic and serialized: of two last outcomes one sees `n_left > 1`, the other 1).
3. otherwise nothing was stored: ONE GetRow of the small columns (`run`, `n_left`) says why (no run, an item the
   run does not have, or a repeat) and, for a repeat, whether the run is complete (`n_left == 0`), so a
   redelivery after a crash still ends the run.

A cell is never "" once it holds an outcome (an outcome is JSON), and a failed condition changes nothing
(`OTSConditionCheckFail`), so `n_left` counts exactly the items without an outcome. Rows written before this
layout (no placeholders, no `n_left`: runs in flight while this code is deployed) are written as before
(the cell's absence is the condition) and read to know whether they are complete.
"""

from __future__ import annotations

from typing import Any

from ... import records
from ...models import Outcome, Run
from ...ports import Recorded
from . import cells
from .sdk import OTSServiceError, ots

#: the run row's count of items still without an outcome
LEFT = "n_left"
#: an item's cell before its outcome is stored
PLACEHOLDER = ""


def _is(column: str, value: Any) -> Any:
    return ots.SingleColumnCondition(column, value, ots.ComparatorType.EQUAL, pass_if_missing=False,
                                     latest_version_only=True)


class TablestoreOutcomes:
    """Mixed into `TablestoreResultStore`, whose `client`, `tables`, `_call` and `_run_key` it uses."""

    client: Any
    tables: Any
    _call: Any
    _run_key: Any
    get_run: Any

    def create_run(self, run: Run) -> None:
        """Stores the run once: a run already stored (a repeated request) is left as it is."""
        columns = [("run", run.model_dump_json()), (LEFT, len(set(run.items))),
                   *[(cells.outcome_column(item), PLACEHOLDER) for item in dict.fromkeys(run.items)]]
        row = ots.Row(self._run_key(run.instance_id, run.run_id), columns)
        try:
            self._call("create_run", self.client.put_row, self.tables.runs, row,
                       ots.Condition(ots.RowExistenceExpectation.EXPECT_NOT_EXIST))
        except OTSServiceError:  # condition failed: the run exists
            pass

    def record_outcome(self, instance_id: str, run_id: str, outcome: Outcome) -> Recorded:
        """First write wins, and says whether the run is complete (see the module docstring). An outcome
        larger than `models.MAX_OUTCOME_BYTES` is refused before any write (OutcomeTooLarge): every outcome
        fits one cell, so nothing is ever split across writes."""
        column = cells.outcome_column(outcome.item)
        row = ots.Row(self._run_key(instance_id, run_id),
                      {"put": [(column, records.encode_outcome(outcome))], "increment": [(LEFT, -1)]})
        for last, left in ((False, ots.SingleColumnCondition(LEFT, 1, ots.ComparatorType.GREATER_THAN,
                                                              pass_if_missing=False, latest_version_only=True)),
                           (True, _is(LEFT, 1))):
            both = ots.CompositeColumnCondition(ots.LogicalOperator.AND)
            both.add_sub_condition(_is(column, PLACEHOLDER))
            both.add_sub_condition(left)
            try:
                self._call("record_outcome", self.client.update_row, self.tables.runs, row,
                           ots.Condition(ots.RowExistenceExpectation.EXPECT_EXIST, both))
                return Recorded(stored=True, complete=last)
            except OTSServiceError:
                continue
        # nothing stored: no run, not its item, or a repeat (after a retried attempt whose first try was applied,
        # the outcome stored is this one: nothing is lost)
        _, stored, _ = self._call("record_outcome", self.client.get_row, self.tables.runs,
                                  self._run_key(instance_id, run_id), columns_to_get=["run", LEFT], max_version=1)
        found = cells.columns_of(stored)
        if "run" not in found:
            return Recorded(stored=False, missing="run")
        try:
            items = Run.model_validate_json(found["run"]).items
        except ValueError:
            items = []
        if outcome.item not in items:
            return Recorded(stored=False, missing="item")
        if LEFT not in found:  # a row from before this layout: the former write, and a read to know the rest
            return self._record_in_legacy_row(instance_id, run_id, outcome, column)
        return Recorded(stored=False, complete=found.get(LEFT) == 0)

    def run_complete(self, instance_id: str, run_id: str) -> tuple[Run, bool] | None:
        """ONE GetRow of the small columns (`run`, `n_left`); a row from before `n_left` is read whole."""
        _, row, _ = self._call("run_complete", self.client.get_row, self.tables.runs,
                               self._run_key(instance_id, run_id), columns_to_get=["run", LEFT], max_version=1)
        found = cells.columns_of(row)
        if "run" not in found:
            return None
        if LEFT not in found:
            record = self.get_run(instance_id, run_id)
            if record is None:
                return None
            return record.run, all(item in record.outcomes for item in record.run.items)
        return Run.model_validate_json(found["run"]), found[LEFT] <= 0

    def _record_in_legacy_row(self, instance_id: str, run_id: str, outcome: Outcome, column: str) -> Recorded:
        """A run created before placeholders and `n_left` existed (in flight while the new code is deployed):
        first write wins by the item's cell being absent, as before; whether the run is complete is read."""
        condition = ots.Condition(ots.RowExistenceExpectation.EXPECT_EXIST,
                                  ots.SingleColumnCondition(column, "", ots.ComparatorType.LESS_THAN,
                                                            pass_if_missing=True, latest_version_only=True))
        row = ots.Row(self._run_key(instance_id, run_id), {"put": [(column, records.encode_outcome(outcome))]})
        try:
            self._call("record_outcome", self.client.update_row, self.tables.runs, row, condition)
            stored = True
        except OTSServiceError:
            stored = False
        record = self.get_run(instance_id, run_id)
        complete = record is not None and all(item in record.outcomes for item in record.run.items)
        return Recorded(stored=stored, complete=complete)
