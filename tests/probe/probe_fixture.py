"""Fixture servers for the probe tests and benchmark: kubelet-, API-server- and etcd-like HTTP(S)
endpoints on loopback addresses only, answering fixed status codes per path and recording the
method and path of every request they receive.

One asyncio loop (in a thread, or in the benchmark's own process) serves any number of
(address, port) listeners. TLS uses a self-signed certificate made with `cryptography`; an
endpoint may require a client certificate (signed by a CA the prober never has)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import ssl
import threading
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Behaviour:
    routes: dict[str, int]  # path -> status; other paths get 404
    tls: bool = False
    client_cert: bool = False  # TLS that requires a client certificate
    silent: bool = False  # accept, then never answer (for timeouts)
    body: bytes = b'{"kind":"Status"}'
    version: str = "v1.30.1"


def make_certificate(directory: str, name: str = "server") -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 / localhost; returns (cert file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = os.path.join(directory, f"{name}.crt"), os.path.join(directory, f"{name}.key")
    with open(cert_file, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_file, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return cert_file, key_file


@dataclass
class Servers:
    """Listeners on one event loop; `requests` holds (address, port, method, path) of every request."""

    directory: str
    requests: list[tuple[str, int, str, str]] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop | None = None
    _servers: list = field(default_factory=list)
    _thread: threading.Thread | None = None
    _contexts: dict = field(default_factory=dict)
    active: int = 0  # connections being served now
    max_active: int = 0

    def _context(self, client_cert: bool) -> ssl.SSLContext:
        if client_cert not in self._contexts:
            cert, key = make_certificate(self.directory, "server")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            if client_cert:
                ca, _ = make_certificate(self.directory, "client-ca")
                context.verify_mode = ssl.CERT_REQUIRED
                context.load_verify_locations(ca)
            self._contexts[client_cert] = context
        return self._contexts[client_cert]

    async def _handle(self, behaviour: Behaviour, address: str, port: int, reader, writer) -> None:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            if behaviour.silent:  # read whatever comes, answer nothing, until the client gives up
                while await reader.read(4096):
                    pass
                return
            first = await asyncio.wait_for(reader.readexactly(1), 10)
            if first == b"\x16":  # a TLS ClientHello on a plain port: answer as Go's net/http does
                writer.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                await writer.drain()
                return
            head = first + await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            method, path, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            self.requests.append((address, port, method, path))
            status = behaviour.routes.get(path, 404)
            body = behaviour.body
            if status == 200 and path == "/version":
                body = b'{"gitVersion":"%s","etcdserver":"3.5.12"}' % behaviour.version.encode()
            reason = {200: "OK", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}.get(status, "X")
            writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n%s" % (status, reason.encode(), len(body), body))
            await writer.drain()
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, ssl.SSLError, asyncio.CancelledError):
            pass
        finally:
            self.active -= 1
            writer.close()

    async def _listen(self, address: str, port: int, behaviour: Behaviour) -> int:
        context = self._context(behaviour.client_cert) if behaviour.tls else None
        server = await asyncio.start_server(
            lambda r, w: self._handle(behaviour, address, bound, r, w), address, port, ssl=context,
            ssl_handshake_timeout=5 if context else None, backlog=256)
        bound = server.sockets[0].getsockname()[1]
        self._servers.append(server)
        return bound

    # --- in a thread (tests) -------------------------------------------------------------------

    def start(self) -> Servers:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        return self

    def add(self, behaviour: Behaviour, address: str = "127.0.0.1", port: int = 0) -> int:
        assert ipaddress.ip_address(address).is_loopback, "fixture servers listen on loopback addresses only"
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(self._listen(address, port, behaviour), self.loop).result(10)

    def stop(self) -> None:
        if self.loop is None:
            return

        async def close() -> None:
            for server in self._servers:
                server.close()
            for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is not None:
            self._thread.join(10)


KUBELET_OPEN = Behaviour({"/pods": 200, "/healthz": 200}, tls=True)
KUBELET_WEBHOOK = Behaviour({"/pods": 403, "/healthz": 403}, tls=True)
KUBELET_CLOSED = Behaviour({"/pods": 401, "/healthz": 401}, tls=True)
READ_ONLY_OPEN = Behaviour({"/pods": 200, "/healthz": 200})
APISERVER_ANONYMOUS = Behaviour({"/version": 200, "/api": 403, "/apis": 403}, tls=True)
APISERVER_ALWAYS_ALLOW = Behaviour({"/version": 200, "/api": 200, "/apis": 200}, tls=True)
APISERVER_CLOSED = Behaviour({"/version": 401, "/api": 401, "/apis": 401}, tls=True)
ETCD_PLAIN = Behaviour({"/version": 200})
ETCD_TLS_NO_CLIENT_AUTH = Behaviour({"/version": 200}, tls=True)
ETCD_CLIENT_AUTH = Behaviour({"/version": 200}, tls=True, client_cert=True)
