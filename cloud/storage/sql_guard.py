"""Decide whether an operator's statement may run on the read-only path (`domuchet sql`,
/api/local/sql), using ClickHouse's own parser rather than patterns over the text.

Steps, each on the reader connection (never the one the ingest writes through):
1. ``formatQuerySingleLine`` of the text, passed as a bound parameter: the parser refuses
   several statements and syntax errors, and returns one statement without comments.
2. ``SELECT explain FROM (EXPLAIN AST <that statement>)``: inside a subquery ClickHouse explains
   only SELECT queries and refuses output options (INTO OUTFILE, FORMAT).
3. The AST's lines are walked: no SETTINGS clause anywhere, table functions only from
   ``TABLE_FUNCTIONS``, no function that reads files, URLs, dictionaries or other servers.
The query then runs as the normalized text with ``LIMITS`` as its own SETTINGS clause (a
per-query clause: nothing persists on the connection). Tests: tests/integration/test_sql_guard.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TIME_LIMIT_S = 10  # a read-only query shares the one chDB worker with the ingest: keep it short
MEMORY_LIMIT_BYTES = 1 << 30
ROW_LIMIT = 100_000

# table functions that generate data or wrap a subquery the walk also checks
# (not format(): readonly=1 refuses it, so allowing it here only traded a clear refusal for the engine's)
TABLE_FUNCTIONS = ("numbers", "numbers_mt", "zeros", "zeros_mt", "values", "generate_series", "generateSeries",
                   "generateRandom", "primes", "view", "null")
_TABLE_FUNCTIONS = frozenset(name.lower() for name in TABLE_FUNCTIONS)
# functions that reach outside the engine (files, URLs, other servers, processes, dictionary
# sources, Keeper) or tell about the machine; compared in lower case
DENIED_FUNCTIONS = frozenset({
    "file", "filecluster", "url", "urlcluster", "s3", "s3cluster", "gcs", "oss", "cosn", "hdfs", "hdfscluster",
    "remote", "remotesecure", "cluster", "clusterallreplicas", "executable", "python", "eval", "mysql",
    "postgresql", "jdbc", "odbc", "sqlite", "mongodb", "redis", "input", "dictionary", "filesystem",
    "azureblobstorage", "azureblobstoragecluster", "bigquery", "ytsaurus", "arrowstream", "loop",
    "catboostevaluate", "naivebayesclassifier", "naivebayesclassifierwithprob", "naivebayesclassifierwithallprobs",
    "generateserialid", "hascolumnintable", "filesystemavailable", "filesystemcapacity", "filesystemunreserved",
    "showcertificate", "joinget", "joingetornull", "getclienthttpheader", "getserversetting", "getmacro",
})
DENIED_PREFIXES = ("dict", "iceberg", "deltalake", "hudi", "paimon", "azure", "s3", "hdfs", "remote", "mysql",
                   "postgres", "timeseries", "prometheus", "mergetree", "viewexplain", "fuzzquery", "fuzzjson")

LIMITS: dict[str, Any] = {  # readonly last: after it the engine refuses any other setting
    "max_execution_time": TIME_LIMIT_S, "timeout_overflow_mode": "throw",
    "max_memory_usage": MEMORY_LIMIT_BYTES,
    "max_result_rows": ROW_LIMIT, "result_overflow_mode": "throw",
    "allow_introspection_functions": 0,
    "readonly": 1,
}

def _settings_refused() -> str:
    return (f"a SETTINGS clause is not allowed: the read-only limits are fixed ({TIME_LIMIT_S} s, "
            f"{MEMORY_LIMIT_BYTES >> 20} MiB, {ROW_LIMIT} rows)")


_FUNCTION = re.compile(r"Function (\S+)(?: \(alias .*\))?(?: \(children \d+\))?")


class ReadOnlyViolation(ValueError):
    """A statement that would change data or reach outside the engine was given to a read-only entry point."""


class QueryError(ValueError):
    """ClickHouse refused a query (syntax, unknown table, a limit ...); the message is its first line."""


def limits(readonly: int = 1) -> dict[str, Any]:
    """The per-query settings, read now so a test can shorten the time limit. The guard's own
    EXPLAIN needs ``readonly=2`` (EXPLAIN in a subquery is a table function, which readonly=1
    refuses); the operator's statement runs with 1, which also refuses file-like table functions."""
    return {**LIMITS, "max_execution_time": TIME_LIMIT_S, "max_memory_usage": MEMORY_LIMIT_BYTES,
            "max_result_rows": ROW_LIMIT, "readonly": readonly}


@dataclass
class Node:
    """One line of EXPLAIN AST output: its text and its children."""

    text: str
    children: list[Node] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.text.split(" ", 1)[0]


def parse_ast(lines: list[str]) -> Node:
    """The tree of EXPLAIN AST lines (one space of indent per level; literals are escaped, so
    every node is one line)."""
    root: Node | None = None
    stack: list[tuple[int, Node]] = []
    for line in lines:
        depth = len(line) - len(line.lstrip(" "))
        node = Node(line.strip())
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            stack[-1][1].children.append(node)
        elif root is None:
            root = node
        else:
            raise ReadOnlyViolation("the statement's syntax tree has two roots; only one SELECT is allowed")
        stack.append((depth, node))
    if root is None:
        raise ReadOnlyViolation("the statement is empty")
    return root


def check_ast(root: Node) -> None:
    """Refuse a SETTINGS clause, a table function off the allow-list or a function that reaches outside."""
    if root.kind != "SelectWithUnionQuery":
        raise ReadOnlyViolation(f"only SELECT is allowed, not {root.kind}")

    def walk(node: Node, parent: str) -> None:
        if node.kind == "Set":
            raise ReadOnlyViolation(_settings_refused())
        if node.kind == "Function":
            match = _FUNCTION.fullmatch(node.text)
            if match is None:
                raise ReadOnlyViolation(f"cannot check the function in {node.text!r}")
            name = match.group(1)
            lower = name.lower()
            if parent == "TableExpression" and lower not in _TABLE_FUNCTIONS:
                raise ReadOnlyViolation(f"table function {name}() is not allowed here "
                                        f"(allowed: {', '.join(TABLE_FUNCTIONS)})")
            if lower in DENIED_FUNCTIONS or lower.startswith(DENIED_PREFIXES):
                raise ReadOnlyViolation(f"function {name}() is not allowed here: it reaches files, URLs, "
                                        "dictionaries or other servers")
        for child in node.children:
            walk(child, node.kind)

    walk(root, "")


def checked_statement(run: Callable[[str, dict[str, Any] | None], list[tuple]], sql: str) -> str:
    """The statement to run, normalized by ClickHouse, or ReadOnlyViolation/QueryError saying why not.
    ``run(query, parameters)`` runs a query on the reader connection and returns its rows; it raises
    QueryError with ClickHouse's message when ClickHouse refuses the query."""
    if not sql.strip():
        raise ReadOnlyViolation("the statement is empty")
    try:
        [[statement]] = run("SELECT formatQuerySingleLine({q:String})", {"q": sql})
    except QueryError as exc:
        if "Multi-statements" in str(exc):
            raise ReadOnlyViolation("only one statement is allowed") from exc
        if "Empty query" in str(exc):  # only comments
            raise ReadOnlyViolation("the statement is empty") from exc
        raise
    if not statement.strip():
        raise ReadOnlyViolation("the statement is empty")
    try:
        # one statement as ClickHouse formats it: it cannot close the parenthesis early
        lines = [row[0] for row in run(f"SELECT explain FROM (EXPLAIN AST {statement})", None)]  # noqa: S608
    except (QueryError, ReadOnlyViolation) as exc:
        text = str(exc)
        if "Cannot modify" in text:  # EXPLAIN applies the statement's SETTINGS clause (readonly=0 ...)
            raise ReadOnlyViolation(_settings_refused()) from exc
        if "supports only SELECT" in text:
            raise ReadOnlyViolation(f"only SELECT is allowed, not {statement.split(' ', 1)[0].upper()}") from exc
        if "output options" in text:
            raise ReadOnlyViolation("INTO OUTFILE and FORMAT are not allowed") from exc
        raise
    check_ast(parse_ast(lines))
    return statement


_LIMIT_MESSAGES = {
    "TIMEOUT_EXCEEDED": lambda: f"stopped: the query ran longer than the read-only limit of {TIME_LIMIT_S} s",
    "MEMORY_LIMIT_EXCEEDED": lambda: ("stopped: the query needed more than the read-only limit of "
                                      f"{MEMORY_LIMIT_BYTES >> 20} MiB"),
    "TOO_MANY_ROWS_OR_BYTES": lambda: (f"stopped: the result has more than {ROW_LIMIT} rows; "
                                       "add a LIMIT or aggregate"),
}


def error_message(text: str) -> str:
    """One line for a ClickHouse error: a limit named in plain words, else ClickHouse's first line."""
    for code, message in _LIMIT_MESSAGES.items():
        if f"({code})" in text:
            return message()
    text = text.strip()
    first = text.splitlines()[0] if text else "ClickHouse refused the query"
    # the scope repeats the guard's own wrapping and limits, not the operator's text
    return first.split(": In scope ", 1)[0].split(" In scope ", 1)[0]
