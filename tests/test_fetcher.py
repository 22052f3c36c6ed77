"""The guarded fetcher against real HTTP servers on loopback; no internet needed.

Servers run in threads on 127.0.0.1 (and 127.0.0.2 where the system allows it). Tests that must
look "public" inject a resolver or an address check into :class:`GuardedFetcher`; everything
else (redirect following, pinning, limits) runs the production code path.
"""

from __future__ import annotations

import gzip
import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpcore
import pytest

from yinzi._netguard import PinnedBackend, why_not_public
from yinzi.errors import ConfigurationError, FetchError
from yinzi.fetcher import (
    FetchPolicy,
    FetchResult,
    GuardedFetcher,
    IPAddress,
    is_public_address,
    resolve_host,
)
from yinzi.settings import FetchSettings

AUDIO = bytes(range(256)) * 400  # 100 KiB of "audio"
LOOPBACK = ipaddress.IPv4Address("127.0.0.1")


# -- a small HTTP server ---------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str) -> None:
        super().__init__((host, 0), _Handler)
        self.seen: list[tuple[str, str, str]] = []  # method, path, Host header
        self.stopping = threading.Event()

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hanging up on purpose (limits) are expected here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def _route(self) -> None:
        self.server.seen.append((self.command, self.path, self.headers.get("Host", "")))
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        name = url.path.strip("/").split("/")[0].split(".")[0]
        try:
            getattr(self, f"_{name.replace('-', '_')}", self._missing)(url.path, query, body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _missing(self, path: str, query: dict[str, str], body: bytes) -> None:
        self._send(404, b"no such thing")

    def _audio(self, path: str, query: dict[str, str], body: bytes) -> None:
        self._send(200, AUDIO, Content_Type="audio/mpeg")

    def _to(self, path: str, query: dict[str, str], body: bytes) -> None:
        self._send(int(query.get("status", "302")), Location=query["url"])

    def _chain(self, path: str, query: dict[str, str], body: bytes) -> None:
        self._send(302, Location=f"/chain/{int(path.split('/')[2]) + 1}")

    def _loop(self, path: str, query: dict[str, str], body: bytes) -> None:
        self._send(302, Location="/loop")

    def _chunked(self, path: str, query: dict[str, str], body: bytes) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for _ in range(int(query["chunks"])):
            self.wfile.write(b"400\r\n" + b"x" * 1024 + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def _huge(self, path: str, query: dict[str, str], body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(10**12))
        self.end_headers()

    def _slow(self, path: str, query: dict[str, str], body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        for _ in range(1000):  # a byte every 50 ms: every read is quick, the whole is not
            self.wfile.write(b"x")
            self.wfile.flush()
            if self.server.stopping.wait(0.05):
                return

    def _stall(self, path: str, query: dict[str, str], body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.flush()
        self.server.stopping.wait(10)

    def _json(self, path: str, query: dict[str, str], body: bytes) -> None:
        self._send(200, b'{"ok": true}', Content_Type="application/json")

    def _gzip(self, path: str, query: dict[str, str], body: bytes) -> None:
        data = gzip.compress(b'{"zipped": true}')
        self._send(200, data, Content_Type="application/json", Content_Encoding="gzip")

    def _echo(self, path: str, query: dict[str, str], body: bytes) -> None:
        echoed = {"method": self.command, "body": body.decode(), "headers": dict(self.headers)}
        self._send(200, json.dumps(echoed).encode(), Content_Type="application/json")


@dataclass
class Server:
    host: str
    port: int
    httpd: _Server = field(repr=False)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def seen(self) -> list[tuple[str, str, str]]:
        return self.httpd.seen


@contextmanager
def serving(host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    httpd = _Server(host)
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield Server(host, httpd.server_address[1], httpd)
    finally:
        httpd.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def server() -> Iterator[Server]:
    with serving() as running:
        yield running


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    """An HTTPS server whose self-signed certificate names public.test, and that certificate."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=public.test",
         "-addext", "subjectAltName=DNS:public.test"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with serving(tls=context) as server:
        yield server, cert


@pytest.fixture
def open_fetcher() -> GuardedFetcher:
    return GuardedFetcher(FetchPolicy(allow_private=True, timeout_seconds=5))


def fake_dns(answers: dict[str, Sequence[IPAddress]]) -> Callable[[str, int], Sequence[IPAddress]]:
    def resolve(host: str, port: int) -> Sequence[IPAddress]:
        return answers.get(host) or resolve_host(host, port)

    return resolve


def public_or_loopback_one(ip: IPAddress) -> bool:
    """The production check, plus 127.0.0.1 standing in for one public server."""
    return is_public_address(ip) or ip == LOOPBACK


# -- the address check -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_pass(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.9.9.9", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "fc00::1",
        "fd12::1", "169.254.169.254", "169.254.1.1", "fe80::1", "fec0::1", "0.0.0.0", "::",
        "224.0.0.1", "239.1.1.1", "ff02::1", "240.0.0.1", "255.255.255.255", "100.64.0.1",
        "192.0.2.1", "2001:db8::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1",
        "64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b:1::1", "2002:7f00:1::1", "2002:a00:1::1",
        "192.0.0.192", "192.88.99.1", "3fff::1",
    ],
)  # fmt: skip
def test_private_and_special_addresses_fail(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("192.0.0.192", "an IETF protocol assignment"),
        ("192.0.0.9", "an IETF protocol assignment"),
        ("192.88.99.1", "a deprecated 6to4 relay anycast address"),
        ("198.18.0.1", "a benchmarking address"),
        ("203.0.113.7", "a documentation address"),
        ("3fff::1", "a documentation address"),
        ("5f00::1", "a segment routing (SRv6) SID"),
        ("100::1", "a discard-only address"),
        ("2001:2::1", "an IETF protocol assignment"),
        ("64:ff9b:1::1", "a local-use NAT64 address"),
        ("::ffff:192.0.0.192", "an IETF protocol assignment written as IPv6"),
    ],
)
def test_iana_special_purpose_blocks_are_refused_with_their_reason(
    address: str, reason: str
) -> None:
    assert why_not_public(ipaddress.ip_address(address)) == reason


# -- refusals with the production resolver and check -----------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:{port}/", "127.0.0.1 is a loopback address"),
        ("http://localhost:{port}/", "localhost resolves to 127.0.0.1, a loopback address"),
        ("http://[::1]:{port}/", "::1 is a loopback address"),
        ("http://0.0.0.0:{port}/", "0.0.0.0 is the unspecified address"),
        ("http://169.254.169.254/latest/meta-data/", "the cloud metadata address"),
        ("http://10.0.0.1/", "10.0.0.1 is a private address"),
        ("http://192.0.0.192/latest/", "192.0.0.192 is an IETF protocol assignment"),
        ("http://[3fff::1]/", "3fff::1 is a documentation address"),
        ("http://192.168.1.1/", "192.168.1.1 is a private address"),
        ("http://172.16.0.1/", "172.16.0.1 is a private address"),
        ("http://2130706433:{port}/", "2130706433 resolves to 127.0.0.1, a loopback address"),
        ("http://0x7f000001:{port}/", "0x7f000001 resolves to 127.0.0.1, a loopback address"),
        ("http://127.1:{port}/", "127.1 resolves to 127.0.0.1, a loopback address"),
        ("http://0177.0.0.1:{port}/", "the URL is not valid"),
        ("http://[::ffff:127.0.0.1]:{port}/", "a loopback address written as IPv6"),
        ("http://[64:ff9b::7f00:1]/", "a loopback address written as IPv6"),
        ("http://0:{port}/", "0 resolves to 0.0.0.0, the unspecified address"),
        ("http://example.com@127.0.0.1:{port}/", "127.0.0.1 is a loopback address"),
        ("file:///etc/passwd", "only http and https URLs can be fetched, not file"),
        ("ftp://example.com/x", "only http and https URLs can be fetched, not ftp"),
        ("gopher://example.com:70/_GET", "only http and https URLs can be fetched, not gopher"),
        ("http:///no-host", "the URL has no host name"),
        ("https://", "the URL has no host name"),
        ("http://no-such-host.invalid/", "could not be found"),
    ],
)
def test_non_public_urls_are_refused_and_never_contacted(
    server: Server, url: str, why: str
) -> None:
    fetcher = GuardedFetcher(FetchPolicy())
    url = url.format(port=server.port)
    with pytest.raises(FetchError, match="could not fetch") as refused:
        fetcher.request("GET", url)
    assert why in refused.value.message
    with pytest.raises(FetchError) as checked:
        fetcher.check_url(url)
    assert checked.value.message == refused.value.message
    assert server.seen == []


def test_allow_private_still_refuses_the_cloud_metadata_service() -> None:
    fetcher = GuardedFetcher(FetchPolicy(allow_private=True))
    fetcher.check_url("http://10.0.0.1/")
    for url in ("http://169.254.169.254/latest/", "http://[::ffff:169.254.169.254]/"):
        with pytest.raises(FetchError, match="the cloud metadata address"):
            fetcher.check_url(url)


def test_messages_show_no_credentials_or_query() -> None:
    fetcher = GuardedFetcher(FetchPolicy())
    with pytest.raises(FetchError) as refused:
        fetcher.check_url("http://me:hunter2@127.0.0.1:8/a/b.mp3?token=s3cret#frag")
    assert refused.value.message.startswith("could not fetch http://127.0.0.1:8/a/b.mp3: ")
    assert "hunter2" not in refused.value.message
    assert "s3cret" not in refused.value.message


def test_check_url_passes_a_public_address() -> None:
    GuardedFetcher(FetchPolicy()).check_url("https://93.184.216.34/song.mp3?sig=1")


def test_the_backend_connects_to_nothing_unpinned() -> None:
    backend = PinnedBackend(deadline=time.monotonic() + 5)
    with pytest.raises(httpcore.ConnectError, match="not checked"):
        backend.connect_tcp("example.com", 80)


# -- redirects and DNS rebinding with a public-looking host ----------------------------------


def test_a_redirect_from_a_public_host_to_loopback_is_refused(server: Server) -> None:
    with ExitStack() as stack:
        try:
            private = stack.enter_context(serving("127.0.0.2"))
        except OSError:
            pytest.skip("this system cannot listen on 127.0.0.2")
        fetcher = GuardedFetcher(
            FetchPolicy(),
            resolver=fake_dns({"public.test": [LOOPBACK]}),
            address_allowed=public_or_loopback_one,
        )
        start = f"http://public.test:{server.port}/to?url={private.base}/audio.mp3"
        with pytest.raises(FetchError) as refused:
            fetcher.request("GET", start)

        assert refused.value.message == (
            f"could not fetch http://public.test:{server.port}/to: it redirects to "
            f"{private.base}/audio.mp3, but 127.0.0.2 is a loopback address; "
            "only public addresses can be fetched"
        )
        assert [host for _, _, host in server.seen] == [f"public.test:{server.port}"]
        assert private.seen == []


@pytest.mark.parametrize(
    ("location", "why"),
    [
        ("http://[::1]:{port}/audio.mp3", "::1 is a loopback address"),
        ("http://2130706434:{port}/audio.mp3", "resolves to 127.0.0.2, a loopback address"),
        ("http://localhost:{port}/audio.mp3", "localhost resolves to 127.0.0.1, a loopback"),
        ("http://169.254.169.254/latest/meta-data/", "the cloud metadata address"),
        ("file:///etc/passwd", "only http and https URLs"),
    ],
)
def test_every_redirect_hop_is_checked(server: Server, location: str, why: str) -> None:
    checked: list[IPAddress] = []

    def loopback_once(ip: IPAddress) -> bool:  # 127.0.0.1 stands for a public server, once
        checked.append(ip)
        return is_public_address(ip) or checked == [LOOPBACK]

    fetcher = GuardedFetcher(
        FetchPolicy(),
        resolver=fake_dns({"public.test": [LOOPBACK]}),
        address_allowed=loopback_once,
    )
    target = location.format(port=server.port)
    with pytest.raises(FetchError, match="it redirects to") as refused:
        fetcher.download(f"http://public.test:{server.port}/to?url={target}", Path("unused"))
    assert why in refused.value.message
    assert len(server.seen) == 1


def test_dns_rebinding_cannot_move_the_connection(server: Server, tmp_path: Path) -> None:
    answers: Iterator[Sequence[IPAddress]] = iter([[LOOPBACK], [ipaddress.ip_address("10.0.0.1")]])
    asked: list[str] = []

    def rebinding_dns(host: str, port: int) -> Sequence[IPAddress]:
        asked.append(host)
        return next(answers)

    fetcher = GuardedFetcher(
        FetchPolicy(), resolver=rebinding_dns, address_allowed=public_or_loopback_one
    )
    result = fetcher.download(f"http://rebind.test:{server.port}/audio.mp3", tmp_path / "a.mp3")

    # One resolution, and the socket went to its (checked) answer: the server on 127.0.0.1 got
    # the request although no real resolver knows rebind.test; Host kept the name.
    assert asked == ["rebind.test"]
    assert server.seen == [("GET", "/audio.mp3", f"rebind.test:{server.port}")]
    assert result.path.read_bytes() == AUDIO


def test_each_hop_resolves_afresh(server: Server) -> None:
    answers: Iterator[Sequence[IPAddress]] = iter([[LOOPBACK], [ipaddress.ip_address("10.0.0.1")]])
    asked: list[str] = []

    def rebinding_dns(host: str, port: int) -> Sequence[IPAddress]:
        asked.append(host)
        return next(answers)

    fetcher = GuardedFetcher(
        FetchPolicy(), resolver=rebinding_dns, address_allowed=public_or_loopback_one
    )
    with pytest.raises(FetchError, match=r"rebind\.test resolves to 10\.0\.0\.1, a private"):
        fetcher.request("GET", f"http://rebind.test:{server.port}/to?url=/audio.mp3")
    assert asked == ["rebind.test", "rebind.test"]
    assert len(server.seen) == 1


def test_one_forbidden_answer_among_many_refuses_the_host(server: Server) -> None:
    fetcher = GuardedFetcher(
        FetchPolicy(),
        resolver=fake_dns({"mixed.test": [LOOPBACK, ipaddress.ip_address("192.168.0.7")]}),
        address_allowed=public_or_loopback_one,
    )
    with pytest.raises(FetchError, match=r"resolves to 192\.168\.0\.7, a private address"):
        fetcher.request("GET", f"http://mixed.test:{server.port}/json")
    assert server.seen == []


def test_tls_checks_the_host_name_while_connecting_to_the_pinned_address(
    tls_server: tuple[Server, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, cert = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # httpx trusts it, as an admin could
    fetcher = GuardedFetcher(
        FetchPolicy(),
        resolver=fake_dns({"public.test": [LOOPBACK], "impostor.test": [LOOPBACK]}),
        address_allowed=public_or_loopback_one,
    )
    response = fetcher.request("GET", f"https://public.test:{server.port}/json")
    assert response.json() == {"ok": True}
    with pytest.raises(FetchError, match="its TLS certificate is not valid: Hostname mismatch"):
        fetcher.request("GET", f"https://impostor.test:{server.port}/json")
    assert [host for _, _, host in server.seen] == [f"public.test:{server.port}"]


def test_an_invalid_redirect_location_is_refused(
    server: Server, open_fetcher: GuardedFetcher
) -> None:
    with pytest.raises(FetchError, match=r"Invalid URL in location header"):
        open_fetcher.request("GET", f"{server.base}/to?url=http://[::1/")


# -- downloads from a trusted local server (allow_private) -----------------------------------


def test_download_writes_the_file(
    server: Server, open_fetcher: GuardedFetcher, tmp_path: Path
) -> None:
    url = f"{server.base}/audio.mp3?token=abc"
    result = open_fetcher.download(url, tmp_path / "in" / "song.mp3")
    assert result == FetchResult(tmp_path / "in" / "song.mp3", len(AUDIO), "audio/mpeg", url)
    assert result.path.read_bytes() == AUDIO
    assert list(result.path.parent.iterdir()) == [result.path]


def test_download_sends_the_given_headers(
    server: Server, open_fetcher: GuardedFetcher, tmp_path: Path
) -> None:
    result = open_fetcher.download(
        f"{server.base}/echo", tmp_path / "echo.json", headers={"Referer": "https://site.test/"}
    )
    assert json.loads(result.path.read_text())["headers"]["Referer"] == "https://site.test/"


def test_download_follows_relative_redirects(
    server: Server, open_fetcher: GuardedFetcher, tmp_path: Path
) -> None:
    result = open_fetcher.download(f"{server.base}/to?url=/audio.mp3", tmp_path / "a.mp3")
    assert result.final_url == f"{server.base}/audio.mp3"
    assert [path for _, path, _ in server.seen] == ["/to?url=/audio.mp3", "/audio.mp3"]


def test_allow_private_comes_from_settings(server: Server, tmp_path: Path) -> None:
    policy = FetchPolicy.from_settings(FetchSettings(allow_private=True, max_redirects=2))
    assert policy == FetchPolicy(allow_private=True, max_redirects=2)
    GuardedFetcher(policy).download(f"{server.base}/audio.mp3", tmp_path / "a.mp3")


def test_a_404_says_so_and_leaves_no_file(
    server: Server, open_fetcher: GuardedFetcher, tmp_path: Path
) -> None:
    with pytest.raises(FetchError) as failed:
        open_fetcher.download(f"{server.base}/gone.mp3", tmp_path / "a.mp3")
    assert failed.value.message == (
        f"could not fetch {server.base}/gone.mp3: the server answered 404 Not Found"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_declared_size_over_the_limit_is_refused_up_front(server: Server, tmp_path: Path) -> None:
    fetcher = GuardedFetcher(FetchPolicy(allow_private=True, max_bytes=10 * 1024**2))
    with pytest.raises(FetchError, match=r"it is 931 GiB, over the limit of 10 MiB"):
        fetcher.download(f"{server.base}/huge", tmp_path / "a.mp3")
    assert list(tmp_path.iterdir()) == []


def test_a_streamed_size_over_the_limit_stops_and_cleans_up(server: Server, tmp_path: Path) -> None:
    fetcher = GuardedFetcher(FetchPolicy(allow_private=True, max_bytes=50 * 1024))
    small = fetcher.download(f"{server.base}/chunked?chunks=50", tmp_path / "ok.bin")
    assert small.size == 50 * 1024
    with pytest.raises(FetchError, match=r"it is larger than the limit of 50 KiB"):
        fetcher.download(f"{server.base}/chunked?chunks=51", tmp_path / "a.bin")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.bin"]


@pytest.mark.parametrize("path", ["/slow", "/stall"])
def test_the_whole_download_has_a_time_limit(server: Server, tmp_path: Path, path: str) -> None:
    fetcher = GuardedFetcher(FetchPolicy(allow_private=True, timeout_seconds=0.6))
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"it took longer than the time limit of 0\.6 seconds"):
        fetcher.download(f"{server.base}{path}", tmp_path / "a.mp3")
    assert time.monotonic() - started < 1.5
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", ["/slow", "/stall"])
def test_a_download_below_the_minimum_rate_fails_after_the_grace_period(
    server: Server, tmp_path: Path, path: str
) -> None:
    settings = FetchSettings(
        allow_private=True, timeout_seconds=30, min_kib_per_second=16, slow_grace_seconds=0.5
    )
    fetcher = GuardedFetcher(FetchPolicy.from_settings(settings))
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"it arrived slower than 16 KiB/s"):
        fetcher.download(f"{server.base}{path}", tmp_path / "a.mp3")
    assert time.monotonic() - started < 2.0  # the grace period, not the 30-second limit
    assert list(tmp_path.iterdir()) == []
    assert fetcher.download(f"{server.base}/audio", tmp_path / "b.mp3").size == len(AUDIO)


def test_too_many_redirects(server: Server, tmp_path: Path) -> None:
    fetcher = GuardedFetcher(FetchPolicy(allow_private=True, max_redirects=3))
    with pytest.raises(FetchError, match=r"it redirects too many times \(more than 3\)"):
        fetcher.download(f"{server.base}/chain/0", tmp_path / "a.mp3")
    assert [path for _, path, _ in server.seen] == ["/chain/0", "/chain/1", "/chain/2", "/chain/3"]


def test_a_redirect_loop(server: Server, open_fetcher: GuardedFetcher, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="its redirects go round in a loop"):
        open_fetcher.download(f"{server.base}/loop", tmp_path / "a.mp3")


def test_a_refused_connection(open_fetcher: GuardedFetcher, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError) as failed:
        open_fetcher.download(f"http://127.0.0.1:{port}/a.mp3", tmp_path / "a.mp3")
    assert failed.value.message == (
        f"could not fetch http://127.0.0.1:{port}/a.mp3: "
        "could not connect to the server (Connection refused)"
    )


# -- small requests --------------------------------------------------------------------------


def test_request_returns_a_json_body(server: Server, open_fetcher: GuardedFetcher) -> None:
    response = open_fetcher.request("GET", f"{server.base}/json")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert str(response.url) == f"{server.base}/json"


def test_request_returns_a_decoded_body(server: Server, open_fetcher: GuardedFetcher) -> None:
    response = open_fetcher.request("GET", f"{server.base}/gzip")
    assert response.json() == {"zipped": True}
    assert "content-encoding" not in response.headers


def test_request_posts_content_and_headers(server: Server, open_fetcher: GuardedFetcher) -> None:
    response = open_fetcher.request(
        "POST", f"{server.base}/echo", headers={"X-Signature": "abc"}, content=b"hello"
    )
    echoed = response.json()
    assert (echoed["method"], echoed["body"]) == ("POST", "hello")
    assert echoed["headers"]["X-Signature"] == "abc"


def test_request_can_leave_redirects_alone(server: Server, open_fetcher: GuardedFetcher) -> None:
    url = f"{server.base}/to?url=/json&status=307"
    response = open_fetcher.request("POST", url, content=b"x", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (307, "/json")
    assert len(server.seen) == 1


def test_a_303_turns_a_post_into_a_get(server: Server, open_fetcher: GuardedFetcher) -> None:
    url = f"{server.base}/to?url=/echo&status=303"
    echoed = open_fetcher.request("POST", url, content=b"payload").json()
    assert (echoed["method"], echoed["body"]) == ("GET", "")


def test_credentials_do_not_follow_a_redirect_to_another_origin(
    server: Server, open_fetcher: GuardedFetcher
) -> None:
    url = f"{server.base}/to?url=http://localhost:{server.port}/echo"
    echoed = open_fetcher.request("GET", url, headers={"Authorization": "Bearer x"}).json()
    assert "Authorization" not in echoed["headers"]
    same_origin = f"{server.base}/to?url=/echo"
    echoed = open_fetcher.request("GET", same_origin, headers={"Authorization": "Bearer x"}).json()
    assert echoed["headers"]["Authorization"] == "Bearer x"


def test_request_has_its_own_byte_limit(server: Server, open_fetcher: GuardedFetcher) -> None:
    with pytest.raises(FetchError, match=r"it is 100 KiB, over the limit of 1000 bytes"):
        open_fetcher.request("GET", f"{server.base}/audio.mp3", max_bytes=1000)


# -- through a proxy -------------------------------------------------------------------------
# The test server answers absolute-form requests ("GET http://public.test/json") too, so it
# stands in for a forward proxy; the proxy itself is the administrator's and is not checked.


def proxied(server: Server, answers: dict[str, Sequence[IPAddress]]) -> GuardedFetcher:
    fetcher = GuardedFetcher(FetchPolicy(timeout_seconds=5), resolver=fake_dns(answers))
    return fetcher.with_proxy(server.base)


def test_with_a_proxy_every_request_goes_through_it(server: Server, tmp_path: Path) -> None:
    fetcher = proxied(server, {"public.test": [ipaddress.ip_address("8.8.8.8")]})
    assert fetcher.request("GET", "http://public.test/json").json() == {"ok": True}
    fetcher.download("http://public.test/audio.mp3", tmp_path / "a.mp3")
    assert [path for _, path, _ in server.seen] == [
        "http://public.test/json",
        "http://public.test/audio.mp3",
    ]


def test_with_a_proxy_targets_and_redirect_hops_are_still_checked(server: Server) -> None:
    fetcher = proxied(
        server,
        {
            "public.test": [ipaddress.ip_address("8.8.8.8")],
            "inside.test": [ipaddress.ip_address("10.0.0.7")],
        },
    )
    with pytest.raises(FetchError, match=r"inside\.test resolves to 10\.0\.0\.7, a private"):
        fetcher.request("GET", "http://inside.test/json")
    assert server.seen == []
    with pytest.raises(FetchError, match=r"redirects to http://inside\.test/json, but"):
        fetcher.request("GET", "http://public.test/to?url=http://inside.test/json")
    assert [path for _, path, _ in server.seen] == [
        "http://public.test/to?url=http://inside.test/json"
    ]


def test_a_proxy_must_be_an_http_url() -> None:
    with pytest.raises(ConfigurationError, match="http:// or https://"):
        GuardedFetcher(FetchPolicy()).with_proxy("socks5://127.0.0.1:1080")
