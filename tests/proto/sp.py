"""Helpers for Sealpost's whole-binary tests: a fresh data directory per
test, the real `sealpost` binary, ephemeral loopback ports."""
import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest

BIN = os.environ.get("SEALPOST_BIN", "../../build/src/sealpost")
SQLITE = os.environ.get("SP_SQLITE_BIN", "../../build/tests/sp-sqlite")


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
        if self.init_args is not None:
            r = self.sp("init", "--hostname", "mail.example.test", *self.init_args)
            self.assertEqual(r.code, 0, r)

    def tearDown(self):
        for p in self.servers:
            if p.poll() is None:
                p.kill()
                p.wait()
            for f in (p.stdout, p.stderr):
                if f is not None:
                    f.close()
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
        return r.last_line, recovery[0][len("Recovery key: "):]

    def serve(self, *args, wait_for=None):
        """Starts `serve --foreground` and waits for its banner."""
        p = subprocess.Popen([BIN, "--data-dir", self.dir, "serve", "--foreground", *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
            self.fail("server exited: " + "".join(banner) + p.stderr.read())
        self.banner = "".join(banner)
        return p

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
