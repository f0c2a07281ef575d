"""Splitting a T-SQL batch into statements, as SQL Server does: statements need no separator (a newline or
nothing between them is enough; ``;`` is optional), so a batch such as Node tedious's fifteen
``set ansi_nulls on\\nset ...`` lines is fifteen statements. sqlglot only splits at ``;``; here the batch is
tokenized and cut before each word that starts a statement (outside parentheses).

A procedure name as the first statement of a batch is a call without EXEC: "You don't need to use the EXECUTE
keyword to execute a stored procedure if the procedure is the first statement in the batch"
(https://learn.microsoft.com/sql/t-sql/language-elements/execute-transact-sql, Remarks). Anywhere else a
bare name is not a statement: it ends the previous one (``SELECT 1 sp_who`` makes ``sp_who`` a column alias,
as on SQL Server) or, after ``;``, is a syntax error (102).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot.dialects.tsql import TSQL
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from .results import SqlError

# Reserved words that begin a T-SQL statement
# (https://learn.microsoft.com/sql/t-sql/language-elements/reserved-keywords-transact-sql).
STARTERS = frozenset("""
    ALTER BACKUP BEGIN BREAK BULK CHECKPOINT CLOSE COMMIT CONTINUE CREATE DBCC DEALLOCATE DECLARE DELETE DENY DROP
    EXEC EXECUTE FETCH GOTO GRANT IF INSERT KILL MERGE OPEN PRINT RAISERROR RECONFIGURE RESTORE RETURN REVOKE
    ROLLBACK SAVE SELECT SET SHUTDOWN THROW TRUNCATE UPDATE USE WAITFOR WHILE WITH
""".split())
_SET_OPERATORS = frozenset({"UNION", "ALL", "EXCEPT", "INTERSECT"})
_NAME_TOKENS = (TokenType.VAR, TokenType.IDENTIFIER)


@dataclass
class Statement:
    """One statement of a batch: its text, its tokens, and whether it is a procedure called without EXEC."""

    text: str
    tokens: list[Token]
    bare_call: bool = False

    @property
    def first_word(self) -> str:
        return _word(self.tokens[0])


def _word(token: Token) -> str:
    return "" if token.token_type in (TokenType.IDENTIFIER, TokenType.STRING) else token.text.upper()


_CTE_BODIES = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE"})


def _starts_statement(tokens: list[Token], index: int, depth: int, current: list[Token], in_cte: bool) -> bool:
    word = _word(tokens[index])
    if word not in STARTERS or depth > 0 or not current:
        return False
    if in_cte and word in _CTE_BODIES:  # WITH name AS (...) SELECT: the query the CTEs belong to
        return False
    before = _word(current[-1])
    if word == "SELECT" and before in _SET_OPERATORS:
        return False
    if word == "FETCH" and before in ("ROW", "ROWS"):  # ORDER BY ... OFFSET n ROWS FETCH NEXT m ROWS ONLY
        return False
    if word == "WITH":  # a CTE (WITH name AS ( / WITH name (cols) AS), not WITH (NOLOCK) or WITH TIES
        following = tokens[index + 1:index + 3]
        return (len(following) == 2 and following[0].token_type in _NAME_TOKENS
                and _word(following[1]) in ("AS", "("))
    if word == "SET" and _word(current[0]) == "UPDATE" and not any(_word(t) == "SET" for t in current):
        return False
    return True


def split(sql: str) -> list[Statement]:
    """The statements of ``sql``; raises SqlError 102 for text that cannot be tokenized or a bare name that
    is not the first statement."""
    try:
        tokens = TSQL().tokenize(sql)
    except TokenError as exc:
        raise SqlError(102, f"Incorrect syntax near '{sql.strip()[:30]}'.", 15, 1) from exc
    groups: list[list[Token]] = []
    current: list[Token] = []
    depth = 0
    in_cte = False  # in the WITH part of a statement, before its query
    for index, token in enumerate(tokens):
        if token.token_type == TokenType.SEMICOLON and depth == 0:
            if current:
                groups.append(current)
            current, in_cte = [], False
            continue
        if _starts_statement(tokens, index, depth, current, in_cte):
            groups.append(current)
            current, in_cte = [], False
        if depth == 0:
            word = _word(token)
            if word == "WITH" and not current:
                in_cte = True
            elif in_cte and word in _CTE_BODIES:
                in_cte = False
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth = max(0, depth - 1)
        current.append(token)
    if current:
        groups.append(current)
    statements: list[Statement] = []
    for position, group in enumerate(groups):
        text = sql[group[0].start:group[-1].end + 1]
        bare = _word(group[0]) not in STARTERS
        if bare and (position > 0 or group[0].token_type not in _NAME_TOKENS):
            raise SqlError(102, f"Incorrect syntax near '{group[0].text}'.", 15, 1)
        statements.append(Statement(text, group, bare_call=bare))
    return statements
