"""More helpers for the Python integration tests (next to fhtest.py):
HS256 JWTs minted with the standard library, a fanhubd serving TLS, a
WebSocket client on a raw socket that can send any bytes (unmasked
frames, reserved opcodes, huge length headers) and read what the server
answers frame by frame, and a quick publisher that does not spawn curl.

Every helper has a bounded timeout: a test may fail, never hang.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import socket
import struct
import subprocess
import time

from fhtest import (HOST, Fanhubd, TestFailure, check, log, parse_response,
                    read_to_eof)

# --- JWT (HS256) -----------------------------------------------------------


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_jwt(secret, claims, header=None):
    """A compact HS256 token for `claims` (a dict) signed with `secret`."""
    if isinstance(secret, str):
        secret = secret.encode()
    h = b64url(json.dumps(header or {"alg": "HS256", "typ": "JWT"},
                          separators=(",", ":")).encode())
    p = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret, f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{b64url(sig)}"


def claims(sub, sub_topics=(), pub_topics=(), exp_in=3600, **extra):
    """Claims valid from now for `exp_in` seconds (negative: expired)."""
    now = int(time.time())
    c = {"sub": sub, "exp": now + exp_in, "sub_topics": list(sub_topics),
         "pub_topics": list(pub_topics)}
    c.update(extra)
    return c


def write_secret(directory):
    """A fresh 48-byte random secret in `directory`/jwt.secret (hex, with
    a trailing newline fanhubd drops); returns (path, secret bytes)."""
    secret = os.urandom(24).hex().encode()
    path = os.path.join(directory, "jwt.secret")
    with open(path, "wb") as f:
        f.write(secret + b"\n")
    os.chmod(path, 0o600)
    return path, secret


# --- fanhubd over TLS ------------------------------------------------------


def make_cert(d):
    """A self-signed certificate for 127.0.0.1 in directory `d` (openssl
    req, RSA 2048); returns the paths (cert, key)."""
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    t0 = time.monotonic()
    # The subjectAltName is what TLS clients check an IP address against
    # (Python does not fall back to the CN).
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-days", "1", "-keyout", key, "-out", cert],
        capture_output=True, timeout=30)
    check(r.returncode == 0, f"openssl req failed: {r.stderr!r}")
    log(f"self-signed certificate made in {time.monotonic() - t0:.2f}s")
    return cert, key


class TlsFanhubd(Fanhubd):
    """Fanhubd started with --tls-cert/--tls-key: it prints https://."""

    LISTEN_RE = re.compile(
        rb"^fanhubd listening on https://127\.0\.0\.1:(\d+)/$")

    @property
    def base(self):
        return f"https://{HOST}:{self.port}"


# --- HTTP without curl -----------------------------------------------------


def quick_publish(port, topic, data, timeout=5, headers=()):
    """POST /publish on a raw socket (much faster than spawning curl);
    returns the seq."""
    if isinstance(data, str):
        data = data.encode()
    head = (f"POST /publish?topic={topic} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n")
    for h in headers:
        head += h + "\r\n"
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(head.encode() + b"\r\n" + data)
        resp = read_to_eof(s, timeout)
    status, _, body = parse_response(resp)
    check(status == 200, f"publish to {topic} answered {status}: {body!r}")
    return json.loads(body)["seq"]


# --- WebSocket on a raw socket ---------------------------------------------

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's sample key
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, length=None,
          key=b"\x12\x34\x56\x78"):
    """One client frame. `length` overrides the length field (the payload
    is still what is given); `rsv` is the three RSV bits (0..7)."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 0x0F)
    m = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, m | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", b0, m | 126, n)
    else:
        head = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return head + payload
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + body


class RawWS:
    """A WebSocket client on a plain socket. open() does the handshake
    (any extra headers, optionally from a given source address on the
    loopback network) and leaves the socket ready for frames."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    @classmethod
    def open(cls, port, path="/ws", headers=(), source=None, timeout=5,
             expect=101, rcvbuf=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        if rcvbuf:  # before connect, so the window stays small
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source:
            s.bind((source, 0))
        s.connect((HOST, port))
        ws = cls(s)
        ws.status, ws.headers, ws.head = ws.handshake(port, path, headers,
                                                     timeout)
        check(ws.status == expect, f"{path} handshake answered {ws.status}, "
              f"want {expect}: {ws.head[:300]!r}")
        return ws

    def handshake(self, port, path, headers, timeout):
        req = (f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
               f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n")
        for h in headers:
            req += h + "\r\n"
        try:
            self.sock.sendall((req + "\r\n").encode())
        except OSError:
            pass  # refused before it read the request: read the answer
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                break
        head, sep, rest = self.buf.partition(b"\r\n\r\n")
        check(sep, f"no complete answer to the handshake: {self.buf[:300]!r}")
        status, hdrs, _ = parse_response(head + b"\r\n\r\n")
        self.buf = rest
        if status == 101:
            check(hdrs.get("sec-websocket-accept") == [ACCEPT],
                  f"bad Sec-WebSocket-Accept: {hdrs}")
        return status, hdrs, head + b"\r\n\r\n" + rest

    def _fill(self, deadline):
        """Reads more; False at EOF (or a reset)."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TestFailure(f"raw WS: timed out; have {self.buf[:200]!r}")
        self.sock.settimeout(left)
        try:
            b = self.sock.recv(65536)
        except socket.timeout:
            raise TestFailure(f"raw WS: timed out; have {self.buf[:200]!r}")
        except ConnectionResetError:
            b = b""
        if not b:
            self.eof = True
            return False
        self.buf += b
        return True

    def send(self, data):
        self.sock.sendall(data)

    def send_text(self, text):
        self.send(frame(OP_TEXT, text))

    def send_json(self, obj):
        self.send_text(json.dumps(obj, separators=(",", ":")))

    def next_frame(self, timeout=5):
        """(fin, opcode, payload) of the next server frame, or None at EOF.
        Server frames must be unmasked."""
        deadline = time.monotonic() + timeout
        while True:
            f = self._parse()
            if f is not None:
                return f
            if not self._fill(deadline):
                check(not self.buf, f"EOF inside a frame: {self.buf[:100]!r}")
                return None

    def _parse(self):
        b = self.buf
        if len(b) < 2:
            return None
        fin, op, masked, n = b[0] >> 7, b[0] & 0x0F, b[1] >> 7, b[1] & 0x7F
        check(not masked, f"masked server frame {b[:16]!r}")
        check(b[0] & 0x70 == 0, f"server frame with RSV bits {b[:16]!r}")
        i = 2
        if n == 126:
            if len(b) < 4:
                return None
            n, i = struct.unpack("!H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, i = struct.unpack("!Q", b[2:10])[0], 10
        if len(b) < i + n:
            return None
        self.buf = b[i + n:]
        return bool(fin), op, b[i:i + n]

    def next_json(self, timeout=5, what="a text frame"):
        """The next text frame as JSON, answering pings on the way."""
        while True:
            f = self.next_frame(timeout)
            check(f is not None, f"EOF while waiting for {what}")
            fin, op, payload = f
            if op == OP_PING:
                self.send(frame(OP_PONG, payload))
                continue
            check(op == OP_TEXT and fin, f"frame {op} while waiting for "
                  f"{what}: {payload[:200]!r}")
            return json.loads(payload)

    def expect_close(self, timeout=5, what="close"):
        """Reads until a close frame, then requires EOF. Returns (code,
        reason), code None for a close frame without a status. Text
        frames before it are returned in self.before_close."""
        self.before_close = []
        deadline = time.monotonic() + timeout
        while True:
            f = self.next_frame(max(0.01, deadline - time.monotonic()))
            check(f is not None, f"{what}: EOF without a close frame "
                  f"(after {len(self.before_close)} frames)")
            fin, op, payload = f
            if op == OP_CLOSE:
                break
            self.before_close.append((op, payload))
        code = reason = None
        if len(payload) >= 2:
            code = struct.unpack("!H", payload[:2])[0]
            reason = payload[2:].decode("utf-8", "replace")
        else:
            check(payload == b"", f"{what}: 1-byte close payload {payload!r}")
        rest = self.next_frame(max(0.01, deadline - time.monotonic()))
        check(rest is None, f"{what}: frame after the close frame: {rest}")
        return code, reason

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --- curl -N as an SSE reader ----------------------------------------------


class CurlSSE:
    """`curl -sN URL` in the background; its output collects in .out.
    events() parses the blocks received so far as (id, event, data)."""

    def __init__(self, url, *curl_args, max_time=30):
        import subprocess
        import threading
        self.proc = subprocess.Popen(
            ["curl", "--noproxy", "*", "-sN", "--max-time", str(max_time),
             *curl_args, url],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self.out = b""
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            b = self.proc.stdout.read1(65536)
            if not b:
                return
            with self.lock:
                self.out += b

    def text(self):
        with self.lock:
            return self.out.decode("utf-8", "replace")

    def wait_for(self, pred, timeout=5, what="output"):
        deadline = time.monotonic() + timeout
        while not pred(self.text()):
            if time.monotonic() > deadline:
                raise TestFailure(f"curl SSE: no {what} within {timeout}s; "
                                  f"have {self.text()[-300:]!r}")
            if self.proc.poll() is not None and not self.reader.is_alive():
                if pred(self.text()):
                    break
                raise TestFailure(f"curl SSE ended (rc={self.proc.returncode}"
                                  f") before {what}: {self.text()[-300:]!r} "
                                  f"{self.proc.stderr.read()!r}")
            time.sleep(0.02)

    def events(self):
        """Complete event blocks so far (LF line ends, as fanhub writes)."""
        evs = []
        for block in self.text().split("\n\n")[:-1]:
            ev_id, ev, data = "", "message", []
            for line in block.split("\n"):
                if not line or line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "id":
                    ev_id = value
                elif name == "event":
                    ev = value
                elif name == "data":
                    data.append(value)
            if data:
                evs.append((ev_id, ev, "\n".join(data)))
        return evs

    def wait_events(self, n, timeout=5):
        self.wait_for(lambda _: len(self.events()) >= n, timeout,
                      f"{n} events")
        return self.events()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        self.reader.join(5)
