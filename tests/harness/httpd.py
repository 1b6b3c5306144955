#!/usr/bin/env python3
"""A small HTTP/1.1 server for the download tests (tests/unit/test-download.c).

    httpd.py FILE [--tls CERT KEY]

Listens on 127.0.0.1 on a free port, prints the port on the first line of stdout, and serves
FILE, over TLS with the certificate CERT and its key KEY (PEM files) if --tls is given. The path
of the request chooses a behaviour, so that one server covers every case:

    /file           FILE, with Range support (206 + Content-Range; 416 past the end) and
                    validators (a strong ETag and Last-Modified; an If-Range that names
                    another makes it ignore Range); also /file/NAME, for clients that take a
                    name from the URL
    /norange        FILE, ignoring Range: always 200 and the whole file
    /cut            as /file, but the first request for a given range start that begins
                    before the middle of FILE gets the full Content-Length and only the bytes
                    up to the middle, then the connection is closed; a second request from the
                    same start, or one from the middle or later, gets its bytes in full
    /stall          200 and the full Content-Length, 64 KiB of FILE, then nothing for 10 min;
                    after /unstall, as /file (so a client can resume what it got)
    /mutable        as /cut, but after /mutate it serves other bytes (each byte of FILE
                    inverted) with another ETag and Last-Modified
    /mutable-lm     as /mutable, with Last-Modified only (no ETag)
    /mutate         makes /mutable and /mutable-lm serve the other bytes
    /slow           FILE (200) in 32 KiB pieces, 10 ms apart: about 1 s for 3 MiB
    /chunked        FILE (200, ignoring Range) in chunks of 64 KiB, with no Content-Length
    /flaky          503 for the first 2 requests (since /reset), then as /file
    /missing        404
    /redirect       302 to /file
    /redirect-file  302 to file:///etc/passwd (a client must refuse to follow it)
    /redirect-to?u=URL  302 to URL (percent-decoded)
    /reset          forgets the counters of /flaky and /cut, stalls /stall again, and makes
                    /mutable serve FILE again
    /unstall        makes /stall serve as /file

It only ever listens on loopback and never connects anywhere. It exits when its parent goes
away or after 10 minutes, whichever comes first, so that a crashed test leaves nothing behind.
"""

import os
import re
import socket
import ssl
import sys
import urllib.parse
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_LIFETIME_S = 600
STALL_PREFIX = 64 * 1024
stalling = [True]
SLOW_PIECE = 32 * 1024
CHUNK = 64 * 1024

with open(sys.argv[1], "rb") as f:
    DATA = f.read()
MUTATED = DATA.translate(bytes(range(255, -1, -1)))
VERSIONS = [  # (bytes, ETag, Last-Modified)
    (DATA, '"v1-%d"' % len(DATA), "Mon, 01 Jan 2024 00:00:00 GMT"),
    (MUTATED, '"v2-%d"' % len(DATA), "Tue, 02 Jan 2024 00:00:00 GMT"),
]
mutated = [False]

lock = threading.Lock()
flaky_count = 0
cut_starts = set()


def parse_range(header, size):
    """(start, end) inclusive for "bytes=START-[END]", or None if absent or not understood."""
    if not header:
        return None
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d+)-(\d*)\s*", header)
    if not m:
        return None
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else size - 1
    return start, min(end, size - 1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def send_text(self, code, text, extra=()):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def serve(self, ranges=True, cut=False, version=0, etag=True):
        data, tag, modified = VERSIONS[version]
        size = len(data)
        rng = parse_range(self.headers.get("Range"), size) if ranges else None
        if_range = self.headers.get("If-Range")
        if rng and if_range is not None and if_range != (tag if etag else modified):
            rng = None  # the client's copy is of another version: it gets the whole file
        if rng and rng[0] >= size:
            self.send_text(416, "range not satisfiable\n", [("Content-Range", f"bytes */{size}")])
            return
        start, end = rng if rng else (0, size - 1)
        self.send_response(206 if rng else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes" if ranges else "none")
        if etag:
            self.send_header("ETag", tag)
        self.send_header("Last-Modified", modified)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        stop = end + 1
        if cut:
            with lock:
                first = start not in cut_starts
                cut_starts.add(start)
            if first and start < size // 2:
                stop = size // 2
        self.wfile.write(data[start:stop])
        if stop != end + 1:
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

    def do_GET(self):  # pylint: disable=invalid-name
        global flaky_count  # pylint: disable=global-statement
        path = self.path.split("?", 1)[0]
        if path == "/file" or path.startswith("/file/"):
            self.serve()
        elif path == "/norange":
            self.serve(ranges=False)
        elif path == "/cut":
            self.serve(cut=True)
        elif path in ("/mutable", "/mutable-lm"):
            self.serve(cut=True, version=1 if mutated[0] else 0, etag=path == "/mutable")
        elif path == "/mutate":
            mutated[0] = True
            self.send_text(200, "mutated\n")
        elif path == "/stall" and not stalling[0]:
            self.serve()
        elif path == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", str(len(DATA)))
            self.end_headers()
            self.wfile.write(DATA[:STALL_PREFIX])
            self.wfile.flush()
            time.sleep(MAX_LIFETIME_S)
            self.close_connection = True
        elif path == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", str(len(DATA)))
            self.end_headers()
            for off in range(0, len(DATA), SLOW_PIECE):
                self.wfile.write(DATA[off:off + SLOW_PIECE])
                self.wfile.flush()
                time.sleep(0.01)
        elif path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for off in range(0, len(DATA), CHUNK):
                piece = DATA[off:off + CHUNK]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/flaky":
            with lock:
                flaky_count += 1
                n = flaky_count
            if n <= 2:
                self.send_text(503, "try again later\n")
            else:
                self.serve()
        elif path == "/redirect":
            self.send_text(302, "moved\n", [("Location", "/file")])
        elif path == "/redirect-file":
            self.send_text(302, "moved\n", [("Location", "file:///etc/passwd")])
        elif path == "/redirect-to":
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            self.send_text(302, "moved\n", [("Location", query.get("u", ["/file"])[0])])
        elif path == "/reset":
            with lock:
                flaky_count = 0
                cut_starts.clear()
                stalling[0] = True
                mutated[0] = False
            self.send_text(200, "reset\n")
        elif path == "/unstall":
            with lock:
                stalling[0] = False
            self.send_text(200, "unstalled\n")
        else:
            self.send_text(404, "not found\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # a client that hangs up (the stall and cut tests do) is not worth a traceback
        if isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


def watchdog(parent):
    deadline = time.monotonic() + MAX_LIFETIME_S
    while os.getppid() == parent and time.monotonic() < deadline:
        time.sleep(0.5)
    os._exit(0)


def main():
    server = Server(("127.0.0.1", 0), Handler)
    if len(sys.argv) == 5 and sys.argv[2] == "--tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=watchdog, args=(os.getppid(),), daemon=True).start()
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
