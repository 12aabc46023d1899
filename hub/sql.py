"""Raw statements of the busy write path: server-side binding, rows as one JSON parameter.

Each group-commit batch runs a dozen statements, and on the hub's busy types their Python
side was most of a frame's cost (docs/performance.md has the profiles):

- the ORM compiles every query, and every value of every row of a bulk insert;
- Django's cursor binds parameters on the client, spelling each value into the statement in
  Python, 4 to 20 µs per element of an array parameter;
- psycopg's array dumper inspects every list before dumping it, tens of µs per array.

So these statements take their rows as one JSON text, `[[column, column, ...], ...]`, which
Python's C encoder writes and PostgreSQL's C parser reads (`jsonb_array_elements(%b::jsonb)`,
then `row->>0`, ...), through a psycopg cursor that binds server-side: a statement run again
and again on one connection is then prepared by psycopg after a few runs, which spares
PostgreSQL its parsing and planning too. The cursor is the Django connection's own, so it
runs in the caller's transaction, and its errors are Django's (OperationalError,
IntegrityError...), as from a Django cursor.
"""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def json_text(value: Any) -> str:
    """The hub's one JSON spelling, on the wire, in the journal and in the rows parameters:
    compact, UTF-8 as is. One encoder for all: json.dumps with options builds a new one
    per call."""
    return _ENCODER.encode(value)


# The cursor of this thread's current connection. Not a mapping from connections to
# cursors: a cursor holds its connection, so such a map would keep every connection that
# CONN_MAX_AGE retired (a weak-keyed one too, its values holding its keys).
_kept = threading.local()


@contextmanager
def binary_cursor() -> Iterator[psycopg.Cursor[Any]]:
    """A server-side binding cursor on Django's connection of this thread; `%b` placeholders.

    One per thread, kept while its connection lasts: a cursor costs more to make than most of
    these statements.
    """
    connection.ensure_connection()
    raw = connection.connection
    cursor: psycopg.Cursor[Any] | None = getattr(_kept, "cursor", None)
    if cursor is None or cursor.connection is not raw or cursor.closed:
        cursor = _kept.cursor = psycopg.Cursor(raw)
    with connection.wrap_database_errors:
        yield cursor
