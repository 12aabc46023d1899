"""hub.sql's kept cursor: one per thread, on the thread's current connection only."""

import gc
import weakref

import pytest
from django.db import connection


@pytest.mark.django_db(transaction=True)
def test_the_kept_cursor_follows_a_new_connection_and_lets_the_retired_one_go() -> None:
    from hub.sql import binary_cursor

    with binary_cursor() as cursor:
        cursor.execute("SELECT %b::int", [1])
        assert cursor.fetchone() == (1,)
        retired = weakref.ref(connection.connection)
    connection.close()  # as CONN_MAX_AGE does between frames
    with binary_cursor() as cursor:
        cursor.execute("SELECT %b::int", [2])
        assert cursor.fetchone() == (2,)
        assert cursor.connection is connection.connection
    gc.collect()
    assert retired() is None


@pytest.mark.django_db(transaction=True)
def test_a_failing_statement_raises_djangos_error_naming_the_cause() -> None:
    from django.db import DataError

    from hub.sql import binary_cursor

    with pytest.raises(DataError, match="invalid input syntax"), binary_cursor() as cursor:
        cursor.execute("SELECT %b::uuid", ["not-a-uuid"])
