#!/usr/bin/env python3
"""Login and mailbox-open times over IMAP (issue 3's benchmark): Sealpost's
cold login (Argon2id on a key slot), warm login (the login cache) and
SELECT of a 2,000-message INBOX (opening the encrypted file), next to
Dovecot and Dovecot with mail_crypt started in the same run. Medians.

    bench/login.py [RUNS]          (needs build/sealpost: scripts/run.sh
                                    or cmake --preset release)

Each cold login uses a fresh app password (a new key slot), so every one
runs Argon2id with the production parameters. Loopback, plaintext LOGIN."""
import imaplib
import os
import re
import shutil
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.environ.get("SEALPOST_BIN", os.path.join(ROOT, "build/sealpost"))
PEERS = os.path.join(ROOT, "../shared/peers")
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
MESSAGES = 2000


def msg(i):
    return (f"From: sender{i % 50}@remote.test\r\nTo: user@example.test\r\n"
            f"Subject: benchmark message {i}\r\nMessage-ID: <b{i}@remote.test>\r\n\r\n"
            + "text line\r\n" * 40).encode()


def timed(fn):
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def fill(lmtp_port, rcpt):
    with smtplib.LMTP("127.0.0.1", lmtp_port) as c:
        for i in range(MESSAGES):
            c.sendmail("s@remote.test", [rcpt], msg(i))


def measure(port, user, passwords, warm_password):
    """(cold logins, warm logins, login+SELECT) in ms."""
    cold, warm, select = [], [], []
    for pw in passwords:
        c = imaplib.IMAP4("127.0.0.1", port)
        cold.append(timed(lambda: c.login(user, pw)))
        c.logout()
    for _ in range(RUNS):
        c = imaplib.IMAP4("127.0.0.1", port)
        warm.append(timed(lambda: c.login(user, warm_password)))
        select.append(timed(lambda: c.select("INBOX")))
        c.logout()
    return cold, warm, select


def sealpost(tmp):
    data = os.path.join(tmp, "sealpost")
    env = dict(os.environ)
    env.pop("SEALPOST_TEST_KDF", None)  # production Argon2id parameters

    def sp(*args, stdin=None):
        return subprocess.run([BIN, "--data-dir", data, *args], input=stdin, env=env,
                              capture_output=True, text=True, check=True).stdout

    sp("init")
    sp("domain", "add", "example.test")
    password = sp("alias", "add", "user@example.test").strip().splitlines()[-1]
    apps = [sp("password", "user@example.test", "--label", f"app{i}",
               stdin=password + "\n").strip().splitlines()[-1] for i in range(min(RUNS, 10))]
    p = subprocess.Popen([BIN, "--data-dir", data, "serve", "--foreground",
                          "--imap=127.0.0.1:0", "--imaps=", "--lmtp=127.0.0.1:0"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    banner = ""
    while "control socket" not in banner:
        banner += p.stdout.readline()
    imap = int(re.search(r"imap: 127\.0\.0\.1:(\d+)", banner).group(1))
    lmtp = int(re.search(r"lmtp: 127\.0\.0\.1:(\d+)", banner).group(1))
    try:
        fill(lmtp, "user@example.test")
        # The first login drains the spool; wait until all is in.
        c = imaplib.IMAP4("127.0.0.1", imap)
        c.login("user@example.test", password)
        while int(re.search(rb"MESSAGES (\d+)", c.status("INBOX", "(MESSAGES)")[1][0]).group(1)) \
                < MESSAGES:
            time.sleep(0.2)
        c.logout()
        return measure(imap, "user@example.test", apps, password)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait()


def dovecot(tmp, crypt):
    d = os.path.join(tmp, "dovecot-crypt" if crypt else "dovecot")
    env = dict(os.environ, CRYPT="1" if crypt else "")
    if not crypt:
        env.pop("CRYPT")
    subprocess.run(["bash", os.path.join(PEERS, "dovecot.sh"), "start", d], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        fill(10024, "user1")
        return measure(10143, "user1", ["pass"] * min(RUNS, 10), "pass")
    finally:
        subprocess.run(["bash", os.path.join(PEERS, "dovecot.sh"), "stop", d], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    tmp = tempfile.mkdtemp(prefix="bench-login-")
    os.chmod(tmp, 0o755)  # Dovecot's mail user must reach its directory
    try:
        rows = [("Sealpost", sealpost(tmp)), ("Dovecot", dovecot(tmp, False)),
                ("Dovecot mail_crypt", dovecot(tmp, True))]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"# medians in ms; {MESSAGES} messages in INBOX; warm/SELECT over {RUNS} runs")
    print(f"{'server':<20} {'cold login':>11} {'warm login':>11} {'SELECT':>8} {'warm+SELECT':>12}")
    for name, (cold, warm, sel) in rows:
        both = [w + s for w, s in zip(warm, sel)]
        print(f"{name:<20} {statistics.median(cold):11.2f} {statistics.median(warm):11.2f} "
              f"{statistics.median(sel):8.2f} {statistics.median(both):12.2f}")


if __name__ == "__main__":
    main()
