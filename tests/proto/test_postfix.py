"""Postfix in front of Sealpost (issue 11 acceptance): Debian's Postfix,
started on loopback by ../shared/peers/postfix.sh with its LMTP delivery
pointed at Sealpost, takes 2,000 messages from smtp-source over 20
connections; all of them reach the mailbox, none twice."""
import os
import re
import subprocess
import time

import sp

PEERS = os.environ.get("SP_PEERS", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                "../../../shared/peers"))
COUNT = int(os.environ.get("SP_POSTFIX_MESSAGES", "2000"))


class PostfixTest(sp.DataDirTest):
    init_args = ("--demo",)

    def postfix(self, cmd, port=None, lmtp=None):
        env = dict(os.environ, DOMAIN="example.test")
        if port:
            env.update(SMTP_PORT=str(port), LMTP_TARGET=lmtp)
        return subprocess.run(["bash", os.path.join(PEERS, "postfix.sh"), cmd, self.pf_dir],
                              env=env, capture_output=True, text=True, timeout=300)

    def test_postfix_delivers_into_sealpost(self):
        password, _ = self.add_alias("user@example.test")
        self.server = self.serve()
        lmtp_port = self.lmtp_port()
        smtp_port = sp.free_port()
        # Postfix's daemons run as user postfix: they must reach the queue.
        os.chmod(self.tmp.name, 0o755)
        self.pf_dir = os.path.join(self.tmp.name, "postfix")
        r = self.postfix("start", smtp_port, f"inet:127.0.0.1:{lmtp_port}")
        try:
            self.assertEqual(r.returncode, 0, r.stderr)
            self.deliver_and_check(smtp_port, password)
        finally:
            self.postfix("stop")

    def deliver_and_check(self, smtp_port, password):
        r = subprocess.run(["smtp-source", "-s", "20", "-m", str(COUNT), "-l", "4096",
                            "-f", "sender@remote.test", "-t", "user@example.test",
                            f"127.0.0.1:{smtp_port}"], capture_output=True, text=True,
                           timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        deadline = time.time() + 300
        while time.time() < deadline:
            n = sum(len(v) for v in self.spool_entries().values())
            if n >= COUNT:
                break
            time.sleep(0.5)
        time.sleep(1)
        n = sum(len(v) for v in self.spool_entries().values())
        if n != COUNT:
            with open(os.path.join(self.pf_dir, "postfix.log")) as f:
                log = f.read().splitlines()
            self.fail(f"{n} of {COUNT} delivered; Postfix log:\n" +
                      "\n".join(l for l in log if "status=sent" not in l)[-3000:])
        out = os.path.join(self.tmp.name, "export")
        r = self.sp("mailbox", "export", "user@example.test", "--format", "eml", "--out", out,
                    stdin=password + "\n")
        self.assertEqual(r.code, 0, r)
        inbox = os.path.join(out, "INBOX")
        files = os.listdir(inbox)
        self.assertEqual(len(files), COUNT)
        queue_ids = set()
        for name in files:
            with open(os.path.join(inbox, name), "rb") as f:
                data = f.read()
            self.assertTrue(data.startswith(b"Return-Path: <sender@remote.test>\r\n"
                                            b"Delivered-To: user@example.test\r\n"), name)
            # Postfix's own Received line names its queue id: one per message.
            m = re.search(rb"by peer-postfix\.test \(Postfix\) with E?SMTP id (\w+)", data)
            self.assertIsNotNone(m, name)
            queue_ids.add(m.group(1))
        self.assertEqual(len(queue_ids), COUNT, "a message was delivered twice")
