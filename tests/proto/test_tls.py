"""TLS as an administrator configures it (issue 2): the configured
certificate is served, SNI picks the per-domain one, SIGHUP after the files
are replaced serves the new certificate while an existing connection stays
open. Exercised over LMTP's STARTTLS on the real binary."""
import hashlib
import os
import signal
import smtplib
import ssl
import subprocess
import time

import sp


def make_cert(directory, name, cn):
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=DNS:" + cn, "-days", "2",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def fingerprint(pem_path):
    with open(pem_path) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


class TlsTest(sp.DataDirTest):
    init_args = ("--demo",)

    def connect(self, sni=None):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = smtplib.LMTP()
        # smtplib sends its _host as the SNI name; names here do not resolve.
        c._host = sni
        c.connect("127.0.0.1", self.port)
        c.ehlo("client.test")
        self.assertTrue(c.has_extn("starttls"))
        c.starttls(context=ctx)
        der = c.sock.getpeercert(binary_form=True)
        return c, hashlib.sha256(der).hexdigest()

    def test_certificates_sni_and_reload(self):
        tls = os.path.join(self.dir, "tls")
        other_cert, other_key = make_cert(tls, "other", "other.test")
        with open(os.path.join(self.dir, "sealpost.conf"), "a") as f:
            f.write("\n[tls]\nsni = other.test tls/other.pem tls/other.key\n")
        default_fp = fingerprint(os.path.join(tls, "cert.pem"))
        self.server = self.serve()
        self.port = self.lmtp_port()

        c1, fp = self.connect()
        self.assertEqual(fp, default_fp)
        c2, fp = self.connect(sni="other.test")
        self.assertEqual(fp, fingerprint(other_cert))
        c3, fp = self.connect(sni="unknown.test")
        self.assertEqual(fp, default_fp)
        c3.quit()
        # TLS session: LHLO again, then a delivery works over it.
        c1.ehlo("client.test")
        self.assertEqual(c1.sendmail("a@b.test", ["demo@example.test"], "Subject: t\r\n\r\nx\r\n"),
                         {})

        # Replace the default certificate and reload.
        new_cert, new_key = make_cert(tls, "new", "mail.example.test")
        os.replace(new_cert, os.path.join(tls, "cert.pem"))
        os.replace(new_key, os.path.join(tls, "key.pem"))
        self.server.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        c4, fp = self.connect()
        self.assertEqual(fp, fingerprint(os.path.join(tls, "cert.pem")))
        self.assertNotEqual(fp, default_fp)
        # The connections opened before the reload still work.
        self.assertEqual(c1.noop()[0], 250)
        self.assertEqual(c2.noop()[0], 250)
        for c in (c1, c2, c4):
            c.quit()
        self.assertEqual(self.stop(self.server), 0)
        self.assertIn("event=reloaded", self.server_log(self.server))

    def test_starttls_discards_pipelined_plaintext(self):
        self.server = self.serve()
        port = self.lmtp_port()
        c = sp.Client(port)
        c.reply()
        c.send("LHLO x\r\n")
        c.reply()
        # Bytes after STARTTLS in the same packet must not survive into the
        # TLS session (CVE-2011-0411).
        c.send("STARTTLS\r\nRSET\r\n")
        self.assertEqual(c.reply(), ["220 2.0.0 Ready to start TLS"])
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        tls = ctx.wrap_socket(c.sock, server_hostname="mail.example.test")
        tls.settimeout(10)
        tls.sendall(b"NOOP\r\n")
        self.assertEqual(tls.recv(100), b"250 2.0.0 OK\r\n")
        tls.sendall(b"STARTTLS\r\n")
        self.assertEqual(tls.recv(100), b"503 5.5.1 TLS already active\r\n")
        tls.close()
