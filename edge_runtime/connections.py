"""The service's guard on its connections: a cap, read and idle timeouts, and a stop that closes idle clients.

``http.server`` gives every connection a thread that blocks on the client for as long as the client likes:
one idle keep-alive client kept ``serve`` from stopping, and 50 idle sockets made 50 threads (issue 39).
:class:`GuardedServer` bounds all three:

- **A cap on open connections.** Beyond ``max_connections`` a new connection is answered a short 503
  (``Connection: close``) from the accepting thread and closed: no thread is made for it.
- **An idle timeout.** A connection waiting for the first byte of its next request is closed after
  ``idle_timeout`` seconds.
- **A read timeout.** From a request's first byte, its request line, headers and body must all arrive within
  ``read_timeout`` seconds, however slowly they trickle in (each read waits only for what is left of that
  time), so a slow client holds a thread for a bounded time.
- **A stop that closes idle clients.** :meth:`GuardedServer.close_idle` (called after SIGTERM) shuts the
  reading side of every connection that has no request being answered: a client waiting between requests,
  or one still sending, is let go at once; the requests being answered finish and their connections close.

Waitress (the well-kept pure-Python server this could have used instead) bounds threads and idle time, but
beyond its ``connection_limit`` it stops accepting (clients wait in the listen queue instead of a quick
503), a trickling client resets its ``channel_timeout`` with every byte, and it has no graceful stop
(Pylons/waitress#198): the three things asked for here, so they are written out below, in about 100 lines.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from http.server import ThreadingHTTPServer

_BUSY = b'{"error": "too many open connections; retry shortly, or close idle ones"}\n'
REFUSAL = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
           b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BUSY), _BUSY))


class Link:
    """One open connection as the server sees it: idle (between requests), reading a request, or busy."""

    def __init__(self, sock: socket.socket, idle_timeout: float, read_timeout: float):
        self.sock, self.idle_timeout, self.read_timeout = sock, idle_timeout, read_timeout
        self.phase, self.deadline = "idle", None
        self.lock = threading.Lock()
        self.stopping = False

    def wait_for_request(self) -> bool:
        """Between requests: False when the server is stopping (the connection closes instead)."""
        with self.lock:
            self.phase, self.deadline = "idle", None
            return not self.stopping

    def reading(self) -> None:
        """The first bytes of a request came: the read deadline starts."""
        with self.lock:
            if self.phase == "idle":
                self.phase, self.deadline = "reading", time.monotonic() + self.read_timeout

    def busy(self) -> None:
        """The request is read: it is being answered, and a stop lets it finish."""
        with self.lock:
            self.phase = "busy"

    def wait_seconds(self) -> float:
        """How long the next read may block: the idle timeout, or what is left of the read deadline."""
        if self.phase == "reading":
            return max(0.001, self.deadline - time.monotonic())
        return self.idle_timeout if self.phase == "idle" else self.read_timeout

    def stop(self) -> None:
        """The server stops: a connection with no request being answered stops reading now."""
        with self.lock:
            self.stopping = True
            if self.phase == "busy":
                return
        try:
            self.sock.shutdown(socket.SHUT_RD)   # a blocked read returns: the handler sees the client gone
        except OSError:
            pass


class TimedSocketIO(socket.SocketIO):
    """The socket reads of one connection, each bounded by its :class:`Link`'s timeouts."""

    def __init__(self, sock: socket.socket, link: Link):
        super().__init__(sock, "rb")
        self.link = link

    def readinto(self, buffer) -> int | None:
        self._sock.settimeout(self.link.wait_seconds())
        count = super().readinto(buffer)
        if count:
            self.link.reading()
        return count


def timed_reader(sock: socket.socket, link: Link) -> io.BufferedReader:
    """A handler's ``rfile`` whose reads time out as the link says (what ``sock.makefile('rb')`` would give)."""
    raw = TimedSocketIO(sock, link)
    sock._io_refs += 1   # noqa: SLF001 - as socket.makefile does: closing the reader releases this reference
    return io.BufferedReader(raw)


class GuardedServer(ThreadingHTTPServer):
    """A threading HTTP server with a connection cap, read and idle timeouts and a stop for idle clients."""

    request_queue_size = 512    # listen backlog: many clients connecting at once are queued, not reset
    daemon_threads = False      # server_close() waits for the requests in flight
    block_on_close = True

    def __init__(self, address, handler, max_connections: int, idle_timeout: float, read_timeout: float):
        self.max_connections, self.idle_timeout, self.read_timeout = max_connections, idle_timeout, read_timeout
        self.links: dict[socket.socket, Link] = {}
        self.links_lock = threading.Lock()
        self.stopping = False
        self.refused = 0
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        with self.links_lock:
            admitted = not self.stopping and len(self.links) < self.max_connections
            if admitted:
                self.links[request] = Link(request, self.idle_timeout, self.read_timeout)
            else:
                self.refused += 1
        if admitted:
            super().process_request(request, client_address)   # a thread serves it
            return
        try:
            request.setblocking(False)
            request.send(REFUSAL)        # fits any socket's send buffer: never blocks the accepting thread
        except OSError:
            pass
        self.shutdown_request(request)

    def shutdown_request(self, request):
        with self.links_lock:
            self.links.pop(request, None)
        super().shutdown_request(request)

    @property
    def open_connections(self) -> int:
        return len(self.links)

    def close_idle(self) -> None:
        """After the accepting loop ended: let every connection with no request being answered go."""
        with self.links_lock:
            self.stopping = True
            links = list(self.links.values())
        for link in links:
            link.stop()

    def handle_error(self, request, client_address):
        """A connection's unexpected error: one quiet line, never a traceback with the client's bytes."""
        import sys

        error = sys.exc_info()[1]
        sys.stderr.write(f"connection error: {type(error).__name__}\n")
