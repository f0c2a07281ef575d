"""Column filters and write conditions: whether a row's visible columns pass a
``SingleColumnCondition`` / ``CompositeColumnCondition``, and whether a write's condition (row existence
and column condition) holds. A failed condition is the service's ``OTSConditionCheckFail``.
"""

from __future__ import annotations

from .state import CompositeColumnCondition, Condition, condition_failed, param_invalid, type_of


def _compare(op: str, actual: object, expected: object) -> bool:
    a_type, e_type = type_of(actual), type_of(expected)
    if a_type != e_type:
        return False      # values of different types never match (not even NOT_EQUAL)
    if a_type == "STRING":
        actual, expected = actual.encode("utf-8"), expected.encode("utf-8")
    if op == "EQUAL":
        return actual == expected
    if op == "NOT_EQUAL":
        return actual != expected
    if op == "GREATER_THAN":
        return actual > expected
    if op == "GREATER_EQUAL":
        return actual >= expected
    if op == "LESS_THAN":
        return actual < expected
    if op == "LESS_EQUAL":
        return actual <= expected
    raise param_invalid(f"Invalid relation operator: {op}.")


def evaluate_filter(condition, visible: dict[str, list[tuple[int, object]]]) -> bool:
    """Whether a row with the given visible columns passes a column condition."""
    if isinstance(condition, CompositeColumnCondition):
        subs = condition.conditions
        if condition.operator == "NOT":
            if len(subs) != 1:
                raise param_invalid("Invalid NOT operator: the number of sub-filters must be 1.")
            return not evaluate_filter(subs[0], visible)
        if len(subs) < 2:
            raise param_invalid("Invalid AND/OR operator: the number of sub-filters must be 2.")
        if condition.operator == "AND":
            return all(evaluate_filter(s, visible) for s in subs)
        if condition.operator == "OR":
            return any(evaluate_filter(s, visible) for s in subs)
        raise param_invalid(f"Invalid type of filter: {condition.operator}.")
    versions = visible.get(condition.column)
    if condition.comparator == "EXIST":
        return bool(versions)
    if condition.comparator == "NOT_EXIST":
        return not versions
    if not versions:
        return condition.pass_if_missing
    if condition.latest_version_only:
        return _compare(condition.comparator, versions[0][1], condition.value)
    return any(_compare(condition.comparator, v, condition.value) for _, v in versions)


def check_condition(condition: Condition, exists: bool, visible) -> None:
    """Raise ``OTSConditionCheckFail`` unless the row (``exists``, its ``visible`` columns) meets ``condition``."""
    expectation = condition.row_existence
    if expectation == "EXPECT_EXIST" and not exists:
        raise condition_failed()
    if expectation == "EXPECT_NOT_EXIST" and exists:
        raise condition_failed()
    if condition.column_condition is not None:
        if not evaluate_filter(condition.column_condition, visible or {}):
            raise condition_failed()
