"""--download against a hostile mirror on 127.0.0.1 (a raw socket server, so it can break HTTP):
an endless body, a drip feed, malformed status lines, headers and chunks. Each ends with the
next mirror tried, or one line of error, in bounded time and disk; concurrent downloads into
one folder each write their own temporary file."""
from __future__ import annotations

import hashlib
import socketserver
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from archspec.errors import ArchspecError
from archspec.train import download as dl

BODY = bytes(range(256)) * 40  # the real file: 10,240 bytes
CHECKSUM = "md5:" + hashlib.md5(BODY).hexdigest()


def _good(w):
    w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(BODY))
    for i in range(0, len(BODY), 1024):  # in pieces, so concurrent downloads overlap
        w.write(BODY[i:i + 1024])
        w.flush()
        time.sleep(0.01)


def _endless(w):
    w.write(b"HTTP/1.0 200 OK\r\n\r\n")
    block = bytes(65536)
    while True:
        w.write(block)


def _drip(w):
    w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY))
    for byte in BODY:
        w.write(bytes([byte]))
        w.flush()
        time.sleep(0.3)  # under the 1 s read timeout: only a deadline ends it


def _drip_headers(w):
    w.write(b"HTTP/1.1 200 OK\r\n")
    while True:
        w.write(b"X")
        w.flush()
        time.sleep(0.3)


def _raw(data):
    def send(w):
        w.write(data)
    return send


MODES = {
    "good": _good,
    "endless": _endless,
    "drip": _drip,
    "drip_headers": _drip_headers,
    "bad_status": _raw(b"HTTZ/9.9 what is this\r\n\r\n"),
    "many_headers": _raw(b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 200 + b"\r\n"),
    "long_header": _raw(b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n"),
    "bad_chunk": _raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz-not-hex\r\nabc\r\n"),
}


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline().decode()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        mode = line.split()[1].split("/")[1]
        try:
            MODES[mode](self.wfile)
        except OSError:  # the client hung up: what a refusal looks like from here
            pass


@pytest.fixture(scope="module")
def mirror():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def fetch(dest, mirrors, min_rate=dl.MIN_RATE):
    resources = {"x": {"mirrors": [m + "/" for m in mirrors], "files": {"data.bin": (CHECKSUM, len(BODY))}}}
    seen = []
    start = time.monotonic()
    dl.download("x", dest, log=seen.append, resources=resources, timeout=1, min_rate=min_rate)
    return seen, time.monotonic() - start


@pytest.mark.parametrize("mode", ["endless", "drip", "drip_headers", "bad_status", "many_headers", "long_header",
                                  "bad_chunk"])
def test_a_hostile_mirror_is_given_up_for_the_next_one(tmp_path, mirror, mode):
    seen, seconds = fetch(tmp_path, [f"{mirror}/{mode}", f"{mirror}/good"], min_rate=len(BODY) * 2)
    assert (tmp_path / "data.bin").read_bytes() == BODY
    assert len(seen) == 2 and seconds < 15  # timeout 1 s + 10,240 bytes at 20,480 bytes/s, then the good one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]  # no .part left behind


@pytest.mark.parametrize("mode, needle", [
    ("endless", "sent more than the expected 10,240 bytes"),
    ("drip", "too slow"),
    ("drip_headers", "too slow"),
    ("bad_status", "the answer is not valid HTTP"),
    ("many_headers", "the answer is not valid HTTP"),
    ("long_header", "the answer is not valid HTTP"),
    ("bad_chunk", "the answer is not valid HTTP"),
])
def test_a_hostile_mirror_alone_is_one_line_of_error(tmp_path, mirror, mode, needle):
    with pytest.raises(ArchspecError) as exc:
        fetch(tmp_path, [f"{mirror}/{mode}"], min_rate=len(BODY) * 2)
    message = exc.value.diagnostics[0].message
    assert message.startswith(f"--download: could not fetch data.bin from any mirror: {mirror}/{mode}/data.bin: ")
    assert "\n" not in message and needle in message, message
    assert list(tmp_path.iterdir()) == []


def test_concurrent_downloads_into_one_folder_each_use_their_own_part_file(tmp_path, mirror):
    with ThreadPoolExecutor(4) as pool:  # the old fixed '.part' name: three of four died
        results = list(pool.map(lambda _: fetch(tmp_path, [f"{mirror}/good"]), range(4)))
    assert len(results) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]
    assert (tmp_path / "data.bin").read_bytes() == BODY
