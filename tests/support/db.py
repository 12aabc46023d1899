from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import connections

T = TypeVar("T")


async def in_db(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ORM code from an async test; the thread's connection closes after, so test
    database teardown never finds a stray session."""

    def run() -> T:
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    return await sync_to_async(run, thread_sensitive=False)()
