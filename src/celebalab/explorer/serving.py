"""How the explorer is served: the listening socket, then the right server for the audience.

The socket is bound here, before any server starts, so a host that does not resolve or a port
already in use is one :class:`~celebalab.errors.CelebalabError` line, not a server's traceback.
This machine only (a loopback address): Werkzeug's threaded development server. Any other
address serves every visitor without a login, so it needs an explicit ``allow_remote`` and goes
through waitress, a production WSGI server.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import Any

from celebalab.errors import CelebalabError

#: Threads of the production server (requests wait for a free one).
THREADS = 8


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; a CelebalabError saying why when there is none."""
    if not 0 < port < 65536:
        raise CelebalabError(f"--port must be between 1 and 65535, got {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise CelebalabError(
            f"--host {host!r} is not an address or host name this machine knows ({reason}); "
            "use 127.0.0.1 (this machine) or one of its addresses"
        ) from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as err:
        sock.close()
        hint = {
            errno.EADDRINUSE: "another program is using it; choose another --port",
            errno.EADDRNOTAVAIL: "it is not an address of this machine; choose another --host",
            errno.EACCES: "ports below 1024 need administrator rights; choose another --port",
        }.get(err.errno or 0, (err.strerror or type(err).__name__).lower())
        raise CelebalabError(f"cannot listen on {host}:{port}: {hint}") from None
    return sock


def is_loopback(sock: socket.socket) -> bool:
    """True when ``sock`` listens on this machine only (127.0.0.0/8, ::1)."""
    return ipaddress.ip_address(sock.getsockname()[0]).is_loopback


def remote_warning(host: str, port: int) -> str:
    """The one line said when the explorer is shared beyond this machine."""
    return (
        f"warning: the explorer on {host}:{port} is open to everyone who can reach this "
        "machine, without a login: they see every image and embedding it serves"
    )


def check_remote(sock: socket.socket, host: str, allow_remote: bool) -> None:
    """Refuse a non-loopback address unless ``allow_remote`` (closing ``sock``)."""
    if not allow_remote and not is_loopback(sock):
        sock.close()
        raise CelebalabError(
            f"--host {host} shares the explorer, without a login, with everyone who can reach "
            "this machine; add --allow-remote to do that, or use --host 127.0.0.1"
        )


def serve(wsgi_app: Any, sock: socket.socket) -> None:
    """Serve ``wsgi_app`` on ``sock`` until stopped: Werkzeug on loopback, else waitress."""
    if is_loopback(sock):
        from werkzeug.serving import make_server

        host, port = sock.getsockname()[:2]
        make_server(host, port, wsgi_app, threaded=True, fd=sock.fileno()).serve_forever()
    else:
        import waitress

        waitress.serve(wsgi_app, sockets=[sock], threads=THREADS)
