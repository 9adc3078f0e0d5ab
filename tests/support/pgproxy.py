"""A TCP proxy in front of PostgreSQL that can lose the answer to a COMMIT.

The hardest fault for a writer: the server commits, and the connection dies before the client
hears so. Terminating the backend cannot produce it (a backend ended before its COMMIT aborts),
so this proxy does what a broken network would: it forwards the n-th ``COMMIT`` the client sends
(``lose_commit_answer(n)``), waits until the server has answered it (its ``CommandComplete``),
drops that answer and closes both sides. Everything else passes through unchanged; new
connections (the one the engine opens to ask ``txid_status``) are served normally.

It reads the protocol's message framing only, so the client must not use TLS
(``sslmode=disable``: ``url_through(settings_dict)`` gives such a URL).
"""

import contextlib
import socket
import struct
import threading
from urllib.parse import quote

_NEGOTIATIONS = {80877103, 80877104}  # SSLRequest, GSSENCRequest: the server answers one byte


class PostgresProxy:
    def __init__(self, host="127.0.0.1", port=5432):
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.commits = 0
        self.lose_at = None
        self.lost = threading.Event()  # set once a COMMIT's answer was dropped
        self.sockets = []
        threading.Thread(target=self._accept, daemon=True).start()

    def lose_commit_answer(self, n):
        """Lose the answer to the n-th COMMIT from now on (1 = the next one)."""
        with self.lock:
            self.commits, self.lose_at = 0, n
            self.lost.clear()

    def url_through(self, settings_dict):
        user = quote(settings_dict["USER"] or "")
        password = f":{quote(settings_dict['PASSWORD'])}" if settings_dict["PASSWORD"] else ""
        return f"postgresql://{user}{password}@127.0.0.1:{self.port}/{settings_dict['NAME']}?sslmode=disable"

    def close(self):
        self.listener.close()
        for sock in list(self.sockets):
            _close(sock)

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            cut = threading.Event()
            threading.Thread(target=self._client_to_server, args=(client, server, cut), daemon=True).start()
            threading.Thread(target=self._server_to_client, args=(server, client, cut), daemon=True).start()

    def _client_to_server(self, client, server, cut):
        try:
            while True:  # untyped startup messages first
                head = _read(client, 8)
                length, code = struct.unpack("!ii", head)
                rest = _read(client, length - 8)
                server.sendall(head + rest)
                if code not in _NEGOTIATIONS:
                    break
            while True:
                head = _read(client, 5)
                body = _read(client, struct.unpack("!i", head[1:])[0] - 4)
                if head[:1] in (b"Q", b"P") and b"COMMIT" in body[:64].upper():
                    with self.lock:
                        self.commits += 1
                        if self.commits == self.lose_at:
                            cut.set()
                server.sendall(head + body)
        except OSError:
            pass
        finally:
            if not cut.is_set():
                _close(client)
                _close(server)

    def _server_to_client(self, server, client, cut):
        try:
            while True:
                data = server.recv(65536)
                if not data:
                    break
                if cut.is_set():
                    if b"COMMIT\x00" in data:  # the server committed; the client never hears it
                        self.lost.set()
                        break
                    continue
                client.sendall(data)
        except OSError:
            pass
        finally:
            _close(client)
            _close(server)


def _read(sock, count):
    data = b""
    while len(data) < count:
        more = sock.recv(count - len(data))
        if not more:
            raise OSError("closed")
        data += more
    return data


def _close(sock):
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
