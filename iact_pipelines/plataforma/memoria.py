"""Memory a finished load no longer holds, handed back to the operating system.

A staging batch allocates hundreds of MB (the ADBC reader's buffers and numpy arrays through
glibc's malloc, Arrow's own through its pool) and frees them when it ends; both allocators keep
what was freed for reuse, so without this the next step of the same process (the next staging
table of a daily run) starts on top of the previous one's peak.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

import pyarrow as pa


@cache
def _libc():
    nombre = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(nombre) if nombre else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def devolver() -> None:
    """Release the freed memory of both allocators (glibc's `malloc_trim`; elsewhere Arrow's only)."""
    pa.default_memory_pool().release_unused()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
