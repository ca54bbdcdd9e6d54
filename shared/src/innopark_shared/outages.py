"""What counts as an outage: a failure that says nothing about the request or message.

A refused or reset database connection, a pool timeout, a serialization failure or a
deadlock, a broker that does not answer: retrying later will succeed. The HTTP layer
answers these with 503 + `Retry-After`; consumers wait them out and never dead-letter
for them. Everything else (a bug, a bad message) is deterministic.
"""

from __future__ import annotations

import errno
import socket

from aiokafka.errors import KafkaError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# SQLSTATE classes and codes that mean "try again": connection exceptions (08…), the
# server shutting down or starting (57P01–57P03), too many connections (53300),
# serialization failure (40001) and deadlock (40P01).
TRANSIENT_SQLSTATE_CLASSES = ("08",)
# OSErrors that are the network's, not ours (a PermissionError in a handler is a bug).
NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.ETIMEDOUT,
        errno.EPIPE,
    }
)
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "53300", "57P01", "57P02", "57P03"})


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE a database error carries (asyncpg's, through SQLAlchemy's wrapper)."""
    for candidate in (exc, getattr(exc, "orig", None), getattr(exc, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None)
        if isinstance(code, str):
            return code
        inner = getattr(candidate, "__cause__", None)
        code = getattr(inner, "sqlstate", None)
        if isinstance(code, str):
            return code
    return None


def is_transient(exc: BaseException) -> bool:
    """True when `exc` is an outage rather than a bug or bad input."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PoolTimeout | ConnectionError | TimeoutError | KafkaError):
            return True
        if isinstance(current, socket.gaierror) or (
            isinstance(current, OSError) and current.errno in NETWORK_ERRNOS
        ):
            return True  # unreachable network or name; not a file or permission of ours
        if isinstance(current, DBAPIError):
            if current.connection_invalidated:
                return True
            code = sqlstate_of(current)
            if code and (
                code in TRANSIENT_SQLSTATES or code.startswith(TRANSIENT_SQLSTATE_CLASSES)
            ):
                return True
            if current.orig is not None and _lost_connection(current.orig):
                return True
        if _lost_connection(current):  # asyncpg's own, when SQLAlchemy did not wrap it
            return True
        code = getattr(current, "sqlstate", None)
        if isinstance(code, str) and (
            code in TRANSIENT_SQLSTATES or code.startswith(TRANSIENT_SQLSTATE_CLASSES)
        ):
            return True
        current = current.__cause__
    return False


def _lost_connection(exc: BaseException) -> bool:
    # asyncpg's InterfaceError also reports misuse ("another operation is in progress"):
    # only a closed or vanished connection is an outage.
    name = type(exc).__name__
    if name in {"ConnectionDoesNotExistError", "CannotConnectNowError", "ConnectionFailureError"}:
        return True
    return name.endswith("InterfaceError") and "closed" in str(exc).lower()
