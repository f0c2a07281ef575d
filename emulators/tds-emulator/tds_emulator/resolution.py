"""Binding every column of a query before it runs, with SQL Server's rules and errors, so that SQLite's laxer
ones never answer (an unknown double-quoted name as a string literal, a select-list alias used in WHERE or
GROUP BY, a bare column beside an aggregate).

Per query scope (sqlglot's: the query, its subqueries, derived tables, CTEs and UNION branches) each column must
name a column of exactly one source in the FROM clause; a subquery may also name the sources of the queries
around it (a correlated reference); a derived table or CTE may not. A select-list alias is visible only as a
whole ORDER BY item, as in SQL Server ("column_alias can be referenced in the ORDER BY clause ... but not in
the WHERE, GROUP BY, or HAVING clauses":
https://learn.microsoft.com/sql/t-sql/queries/select-transact-sql#logical-processing-order-of-the-select-statement).
Errors (https://learn.microsoft.com/sql/relational-databases/errors-events/database-engine-events-and-errors):
207 "Invalid column name", 209 "Ambiguous column name", 4104 multi-part identifier not bound, 107 column
prefix of ``x.*`` unknown, 8120/8121/8127 column neither grouped nor aggregated, 8155/8156 derived table
column unnamed or repeated, 104 ORDER BY of a UNION not in its select list.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, ScopeType, find_all_in_scope, traverse_scope

from .results import SqlError

TableColumns = Callable[[exp.Table], "list[str] | None"]
_AGGREGATES = {"count_big", "checksum_agg", "grouping", "grouping_id", "stdev", "stdevp", "var", "varp",
               "string_agg", "approx_count_distinct"}
_GROUPING_ERRORS = {
    "select": (8120, "Column '{}' is invalid in the select list because it is not contained in either an aggregate "
                     "function or the GROUP BY clause."),
    "having": (8121, "Column '{}' is invalid in the HAVING clause because it is not contained in either an "
                     "aggregate function or the GROUP BY clause."),
    "order": (8127, "Column \"{}\" is invalid in the ORDER BY clause because it is not contained in either an "
                    "aggregate function or the GROUP BY clause."),
}


def _error(number: int, message: str, severity: int = 16) -> SqlError:
    return SqlError(number, message, severity, 1)


class _Binder:
    def __init__(self, table_columns: TableColumns):
        self.table_columns = table_columns

    # ---- what a source offers ----------------------------------------------------------------------------
    def columns_of(self, source: exp.Table | Scope) -> list[str]:
        if isinstance(source, Scope):
            holder = source.expression.parent
            alias = holder.args.get("alias") if isinstance(holder, (exp.Subquery, exp.CTE)) else None
            if alias is not None and alias.columns:
                return [c.name.lower() for c in alias.columns]
            return [n.lower() for n in self.outputs(source) if n]
        return [c.lower() for c in (self.table_columns(source) or [])]

    def outputs(self, scope: Scope) -> list[str | None]:
        """The names of the columns a query scope produces (None: an unnamed expression)."""
        if isinstance(scope.expression, exp.SetOperation):
            return self.outputs(scope.set_operation_scopes[0])
        names: list[str | None] = []
        sources = scope.selected_sources
        for projection in scope.expression.expressions:
            if isinstance(projection, exp.Star):
                for _node, source in sources.values():
                    names.extend(self.columns_of(source))
            elif isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
                found = self._source(sources, projection.table)
                names.extend(self.columns_of(found) if found is not None else [])
            elif isinstance(projection, (exp.Alias, exp.Column)):
                names.append(projection.alias_or_name)
            else:
                names.append(None)
        return names

    @staticmethod
    def _source(sources: dict, name: str) -> exp.Table | Scope | None:
        for key, (_node, source) in sources.items():
            if key.lower() == name.lower():
                return source
        return None

    # ---- binding -------------------------------------------------------------------------------------------
    def bind(self, column: exp.Column, scope: Scope) -> tuple[str, exp.Table | Scope]:
        """The (source name, source) ``column`` belongs to; raises SQL Server's error when there is none."""
        name = column.name.lower()
        current: Scope | None = scope
        while current is not None:
            sources = current.selected_sources
            if column.table:
                found = self._source(sources, column.table)
                if found is not None:
                    if name not in self.columns_of(found):
                        raise _error(207, f"Invalid column name '{column.name}'.")
                    return column.table, found
            else:
                holders = [(key, source) for key, (_node, source) in sources.items()
                           if name in self.columns_of(source)]
                if len(holders) > 1:
                    raise _error(209, f"Ambiguous column name '{column.name}'.")
                if holders:
                    return holders[0]
            # only a subquery (or a UNION branch inside one) sees the sources of the query around it
            current = current.parent if current.scope_type in (ScopeType.SUBQUERY, ScopeType.SET_OPERATION) else None
        if column.table:
            written = ".".join(p.name for p in column.parts)
            raise _error(4104, f'The multi-part identifier "{written}" could not be bound.')
        raise _error(207, f"Invalid column name '{column.name}'.")

    def check_scope(self, scope: Scope) -> None:
        expression = scope.expression
        if scope.scope_type in (ScopeType.DERIVED_TABLE, ScopeType.CTE):
            self._check_named(scope)
        if isinstance(expression, exp.SetOperation):
            names = {n.lower() for n in self.outputs(scope) if n}
            for column in find_all_in_scope(expression.args.get("order") or exp.Null(), exp.Column):
                if column.name.lower() not in names:
                    raise _error(104, "ORDER BY items must appear in the select list if the statement contains a "
                                      "UNION, INTERSECT or EXCEPT operator.")
            return
        if not isinstance(expression, exp.Select):
            return
        aliases = {n.lower() for n in expression.named_selects if n}
        order = expression.args.get("order")
        for column in find_all_in_scope(expression, exp.Column):
            if isinstance(column.this, exp.Star):
                if self._source(scope.selected_sources, column.table) is None:
                    raise _error(107, f"The column prefix '{column.table}' does not match with a table name or "
                                      "alias name used in the query.", 16)
                continue
            if (order is not None and isinstance(column.parent, exp.Ordered) and column.parent.parent is order
                    and not column.table and column.name.lower() in aliases):
                continue  # ORDER BY <select-list alias>
            self.bind(column, scope)
        self._check_grouping(scope)
        if expression.args.get("distinct") and order is not None:
            listed = {p.sql(dialect="tsql").lower() for p in expression.expressions} | {
                p.unalias().sql(dialect="tsql").lower() for p in expression.expressions} | aliases
            for ordered in order.expressions:
                key = ordered.this
                if key.sql(dialect="tsql").lower() not in listed and not isinstance(key, exp.Literal):
                    raise _error(145, "ORDER BY items must appear in the select list if SELECT DISTINCT is "
                                      "specified.", 15)

    def _check_named(self, scope: Scope) -> None:
        holder = scope.expression.parent
        alias = holder.args.get("alias") if isinstance(holder, (exp.Subquery, exp.CTE)) else None
        label = alias.name if alias is not None else ""
        if alias is not None and alias.columns:
            return
        seen: set[str] = set()
        for position, name in enumerate(self.outputs(scope), start=1):
            if not name:
                raise _error(8155, f"No column name was specified for column {position} of '{label}'.")
            if name.lower() in seen:
                raise _error(8156, f"The column '{name}' was specified multiple times for '{label}'.")
            seen.add(name.lower())

    # ---- GROUP BY ------------------------------------------------------------------------------------------
    def _check_grouping(self, scope: Scope) -> None:
        select = scope.expression
        group = select.args.get("group")
        projections = [p.unalias() for p in select.expressions]
        if group is None and not any(_aggregates_in(p) for p in projections):
            return
        keys = [k for k in (group.expressions if group is not None else [])]
        key_sql = {k.sql(dialect="tsql").lower() for k in keys}
        key_columns = {k.name.lower() for k in keys if isinstance(k, exp.Column)}
        aliases = {n.lower() for n in select.named_selects if n}
        clauses = [("select", p) for p in projections]
        if select.args.get("having") is not None:
            clauses.append(("having", select.args["having"].this))
        for ordered in (select.args["order"].expressions if select.args.get("order") else []):
            if not (isinstance(ordered.this, exp.Column) and ordered.this.name.lower() in aliases):
                clauses.append(("order", ordered.this))
        for clause, node in clauses:
            bad = _ungrouped(node, key_sql, key_columns)
            if bad is not None:
                number, text = _GROUPING_ERRORS[clause]
                raise _error(number, text.format(self._qualified(bad, scope)))

    def _qualified(self, column: exp.Column, scope: Scope) -> str:
        if column.table:
            return f"{column.table}.{column.name}"
        key, source = self.bind(column, scope)
        if isinstance(source, exp.Table) and not source.alias and source.db:
            return f"{source.db}.{source.name}.{column.name}"
        return f"{key}.{column.name}"


def _is_aggregate(node: exp.Expression) -> bool:
    if isinstance(node.parent, exp.Window):
        return False
    return isinstance(node, exp.AggFunc) or (isinstance(node, exp.Anonymous) and node.name.lower() in _AGGREGATES)


def _aggregates_in(node: exp.Expression) -> bool:
    return any(_is_aggregate(n) for n in node.walk(prune=lambda n: isinstance(n, (exp.Subquery, exp.Select))
                                                    and n is not node))


def _ungrouped(node: exp.Expression, key_sql: set[str], key_columns: set[str]) -> exp.Column | None:
    """The first column of ``node`` outside aggregates and GROUP BY expressions, or None."""
    if _is_aggregate(node) or isinstance(node, (exp.Subquery, exp.Select, exp.Window)):
        return None
    if node.sql(dialect="tsql").lower() in key_sql:
        return None
    if isinstance(node, exp.Column):
        return None if isinstance(node.this, exp.Star) or node.name.lower() in key_columns else node
    for child in node.iter_expressions():
        found = _ungrouped(child, key_sql, key_columns)
        if found is not None:
            return found
    return None


def check(statement: exp.Expression, table_columns: TableColumns) -> None:
    """Bind every column of ``statement``; ``table_columns`` gives the columns of each catalog table node."""
    binder = _Binder(table_columns)
    for scope in traverse_scope(statement):
        binder.check_scope(scope)
