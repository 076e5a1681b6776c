"""Tools for the edge agent's integration tests: a TCP gate, a log watch, a scripted sensor."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Mapping

from edge.alerts import FieldValue


class TcpGate:
    """A TCP relay in front of the broker: ``close()`` refuses and cuts, ``cut()`` only cuts."""

    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._srv = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._srv.getsockname()[1])
        self._open = threading.Event()
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="gate", daemon=True)
        self._thread.start()

    def open(self) -> None:
        self._open.set()

    def close(self) -> None:
        self._open.clear()
        self.cut()

    def cut(self) -> None:
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            s.close()

    def stop(self) -> None:
        self.close()
        self._srv.close()
        self._thread.join(5)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._srv.accept()
            except OSError:
                return  # server socket closed: the test is over
            if not self._open.is_set():
                conn.close()
                continue
            up = socket.create_connection(self._target)
            with self._lock:
                self._socks += [conn, up]
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass  # the other side was cut: that is what the gate is for
        for s in (src, dst):
            with contextlib.suppress(OSError):  # already closed
                s.shutdown(socket.SHUT_RDWR)


class LogWatch(logging.Handler):
    """Sets ``hit`` when a record of the edge loggers contains ``needle``."""

    def __init__(self, needle: str) -> None:
        super().__init__(logging.INFO)
        self.needle = needle
        self.hit = threading.Event()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if self.needle in msg:
            self.messages.append(msg)
            self.hit.set()


class FakeSensor:
    """A sensor whose reading is computed from the count of reads (deterministic)."""

    def __init__(self, name: str, fn: Callable[[int], Mapping[str, FieldValue]]) -> None:
        self.name = name
        self._fn = fn
        self.n = 0

    def read(self) -> Mapping[str, FieldValue]:
        self.n += 1
        return self._fn(self.n)

    def close(self) -> None:
        pass
