"""Helpers for Sealpost's whole-binary tests: a fresh data directory per
test, the real `sealpost` binary, ephemeral loopback ports."""
import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest

BIN = os.environ.get("SEALPOST_BIN", "../../build-dev/sealpost")
SQLITE = os.environ.get("SP_SQLITE_BIN", "../../build-dev/tests/sp-sqlite")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Result:
    def __init__(self, proc):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    @property
    def last_line(self):
        lines = self.out.strip("\n").split("\n")
        return lines[-1] if lines else ""

    def __repr__(self):
        return f"<exit {self.code} out={self.out!r} err={self.err!r}>"


class DataDirTest(unittest.TestCase):
    """A test case with its own initialised data directory."""

    init_args = ()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="sp-test-")
        self.dir = os.path.join(self.tmp.name, "data")
        self.servers = []
        self.secrets = []
        if self.init_args is not None:
            r = self.sp("init", "--hostname", "mail.example.test", *self.init_args)
            self.assertEqual(r.code, 0, r)

    def tearDown(self):
        while _open_clients:
            _open_clients.pop().close()
        for p in self.servers:
            if p.poll() is None:
                p.kill()
                p.wait()
            self.check_log(self.server_log(p))
            if p.stdout is not None:
                p.stdout.close()
        log = os.path.join(self.dir, "sealpost.log")
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                self.check_log(f.read())
        self.tmp.cleanup()

    def sp(self, *args, stdin=None, env=None):
        e = dict(os.environ)
        if env:
            e.update(env)
        proc = subprocess.run([BIN, "--data-dir", self.dir, *args], input=stdin,
                              capture_output=True, text=True, timeout=120, env=e)
        return Result(proc)

    def add_alias(self, address, *extra):
        """Creates an alias with a mailbox; returns (password, recovery key)."""
        r = self.sp("alias", "add", address, *extra)
        self.assertEqual(r.code, 0, r)
        recovery = [l for l in r.out.splitlines() if l.startswith("Recovery key: ")]
        self.assertEqual(len(recovery), 1, r)
        secrets = (r.last_line, recovery[0][len("Recovery key: "):])
        self.secrets.extend(secrets)
        return secrets

    def check_log(self, text):
        """Logs are disk too: never a password, a key or message content.
        Test messages carry the word MARKER in their subject and body."""
        self.assertNotIn("MARKER", text)
        for secret in self.secrets:
            self.assertNotIn(secret, text)

    def serve(self, *args, wait_for=None, prefix=()):
        """Starts `serve --foreground` and waits for its banner. Unless
        given, LMTP listens on an ephemeral loopback port; the bound ports
        are in self.ports (role -> list of "addr:port" or socket paths)."""
        for role in ("lmtp", "imap", "imaps"):
            if not any(a.startswith("--%s=" % role) for a in args):
                args = ("--%s=127.0.0.1:0" % role, *args)
        # The log goes to a file: a pipe nobody reads would fill and block
        # the server's log writes.
        log_path = os.path.join(self.tmp.name, f"server-{len(self.servers)}.log")
        log_file = open(log_path, "w")
        p = subprocess.Popen([*prefix, BIN, "--data-dir", self.dir, "serve", "--foreground", *args],
                             stdout=subprocess.PIPE, stderr=log_file, text=True)
        log_file.close()
        p.log_path = log_path
        self.servers.append(p)
        banner = []
        deadline = time.time() + 20
        while time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            banner.append(line)
            if line.startswith("  control socket:") and wait_for is None:
                break
            if wait_for is not None and wait_for in line:
                break
        if p.poll() is not None:
            self.fail("server exited: " + "".join(banner) + self.server_log(p))
        self.banner = "".join(banner)
        self.ports = {}
        for line in banner[1:]:
            role, _, where = line.strip().partition(": ")
            self.ports.setdefault(role, []).append(where)
        return p

    def server_log(self, p):
        """What a server started by serve() has logged so far."""
        try:
            with open(p.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def port(self, role):
        for where in self.ports.get(role, []):
            if not where.startswith("/"):
                return int(where.rsplit(":", 1)[1])
        self.fail("no %s TCP listener in %s" % (role, self.banner))

    def lmtp_port(self):
        for where in self.ports.get("lmtp", []):
            if where.startswith("127.0.0.1:"):
                return int(where.rsplit(":", 1)[1])
        self.fail("no LMTP TCP listener in " + self.banner)

    def spool_entries(self):
        """Sealed spool entries per mailbox directory."""
        d = os.path.join(self.dir, "spool")
        out = {}
        if os.path.isdir(d):
            for mb in os.listdir(d):
                if mb != "tmp":
                    out[mb] = sorted(os.listdir(os.path.join(d, mb)))
        return out


    def stop(self, p, sig=signal.SIGTERM, timeout=15):
        p.send_signal(sig)
        try:
            return p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            raise

    def sqlite(self, path, sql):
        proc = subprocess.run([SQLITE, path, sql], capture_output=True, text=True, timeout=60)
        return Result(proc)

    def mailbox_files(self):
        d = os.path.join(self.dir, "mailboxes")
        return sorted(f for f in os.listdir(d) if f.endswith(".sqlite"))


_open_clients = []


class Client:
    """A raw line client for what library clients never send."""

    def __init__(self, port=None, path=None, timeout=10):
        if path is not None:
            self.sock = socket.socket(socket.AF_UNIX)
            try:
                self.sock.connect(path)
            except OSError:
                self.sock.close()
                raise
        else:
            self.sock = socket.create_connection(("127.0.0.1", port))
        _open_clients.append(self)
        self.sock.settimeout(timeout)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode("utf-8", "replace")

    def reply(self):
        """One SMTP-style reply (all its lines), as a list of lines."""
        lines = [self.line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self.line())
        return lines

    def closed(self):
        try:
            self.sock.settimeout(5)
            return self.sock.recv(1) == b""
        except OSError:
            return True

    def close(self):
        self.sock.close()
