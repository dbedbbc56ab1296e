"""A fault-injecting TCP proxy for the transfer tests.

It sits between a client and the store and forwards bytes untouched (TLS
passes through: the proxy never sees plaintext, so faults are chosen by how
many bytes a connection has carried, not by request).  Armed faults fire
once each, on the first connection whose client-to-server byte count passes
the threshold:

* ``reset``: both sockets are closed with SO_LINGER 0, so the client gets a
  TCP RST in the middle of its request (a real connection reset);
* ``stall``: the proxy stops forwarding in both directions and holds the
  connection open, so the client runs into its own socket timeout;
* ``cut``: both sockets are closed normally (FIN), so a response body ends
  early without any error from the network: a short body.

Faults armed with ``direction="down"`` count the bytes a connection has
carried from the server to the client instead (a download's bodies): the
block that crosses the threshold is not forwarded.  ``received`` is the
total of those bytes over every connection.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass, field

__all__ = ["FaultProxy"]

_BLOCK = 256 * 1024


@dataclass
class _Fault:
    kind: str
    after: int
    fired: bool = False
    upward: bool = True


@dataclass
class FaultProxy:
    target_host: str
    target_port: int
    faults: list[_Fault] = field(default_factory=list)
    connections: int = 0
    received: int = 0

    def __post_init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, name="faultproxy", daemon=True).start()

    @property
    def fired(self) -> list[str]:
        return [f.kind for f in self.faults if f.fired]

    def arm(self, kind: str, *, after: int, direction: str = "up") -> None:
        """Fire ``kind`` ('reset', 'stall' or 'cut') once a connection carried ``after`` bytes.

        ``direction`` "up" counts what the client sent, "down" what it received.
        """
        if kind not in {"reset", "stall", "cut"} or direction not in {"up", "down"}:
            raise ValueError(kind)
        with self._lock:
            self.faults.append(_Fault(kind, after, upward=direction == "up"))

    def close(self) -> None:
        self._stop.set()
        self._server.close()
        with self._lock:
            for sock in self._open:
                _close(sock)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection((self.target_host, self.target_port))
            except OSError:
                _close(client)
                continue
            with self._lock:
                self.connections += 1
                self._open += [client, upstream]
            state = {"sent": 0, "received": 0, "stalled": False}
            threading.Thread(
                target=self._pump, args=(client, upstream, state, True), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(upstream, client, state, False), daemon=True
            ).start()

    def _pump(
        self, src: socket.socket, dst: socket.socket, state: dict[str, int], upward: bool
    ) -> None:
        try:
            while True:
                data = src.recv(_BLOCK)
                if not data:
                    break
                counter = "sent" if upward else "received"
                state[counter] += len(data)
                if not upward:
                    with self._lock:
                        self.received += len(data)
                fault = self._due(state[counter], upward)
                if fault == "reset":
                    _reset(src)
                    _reset(dst)
                    return
                if fault == "cut":
                    _close(src)
                    _close(dst)
                    return
                if fault == "stall":
                    state["stalled"] = True
                if state["stalled"]:
                    self._stop.wait()
                    return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            if not state["stalled"]:
                _close(dst)

    def _due(self, carried: int, upward: bool) -> str | None:
        with self._lock:
            for fault in self.faults:
                if not fault.fired and fault.upward == upward and carried >= fault.after:
                    fault.fired = True
                    return fault.kind
        return None


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    _close(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
