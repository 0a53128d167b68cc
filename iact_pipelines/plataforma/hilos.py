"""Small concurrency and timing utilities of the loads."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator


def en_segundo_plano(generador, profundidad: int = 1):
    """Iterate `generador` in a worker thread, `profundidad` items ahead: the ADBC reader
    decodes the next chunk (GIL released) while this thread validates the current one."""
    cola: queue.Queue = queue.Queue(maxsize=profundidad)
    parar = threading.Event()
    fin = object()

    def producir() -> None:
        try:
            for item in generador:
                while not parar.is_set():
                    try:
                        cola.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if parar.is_set():
                    return
            cola.put((fin, None))
        except BaseException as exc:  # handed to the consumer, raised there
            cola.put((fin, exc))
        finally:
            generador.close()

    hilo = threading.Thread(target=producir, name="extraccion", daemon=True)
    hilo.start()
    try:
        while True:
            item, error = cola.get()
            if item is fin:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        parar.set()
        hilo.join()


class Cronometro:
    """Wall seconds per phase of a load, as laps: `marcar(fase)` adds the time since the last
    mark to that phase; `iterar(fase, it)` marks each wait for the next item."""

    def __init__(self) -> None:
        self.segundos: dict[str, float] = {}
        self._ultima = time.perf_counter()

    def marcar(self, fase: str) -> None:
        ahora = time.perf_counter()
        self.segundos[fase] = self.segundos.get(fase, 0.0) + ahora - self._ultima
        self._ultima = ahora

    def iterar(self, fase: str, iterable: Iterable) -> Iterator:
        for item in iterable:
            self.marcar(fase)
            yield item
