"""The sealpost CLI as administrators and scripts use it (DESIGN section 8):
messages and exit codes for bad input, canonical addresses, passwords and
key slots, rekey, raw keys, and no partial state after a failure."""
import os
import re
import sqlite3

import sp


class InitTest(sp.DataDirTest):
    init_args = None

    def test_init_creates_an_empty_data_directory(self):
        r = self.sp("init", "--hostname", "mail.example.test")
        self.assertEqual(r.code, 0, r)
        for name in ("sealpost.conf", "accounts.db", "tls/cert.pem", "tls/key.pem"):
            self.assertTrue(os.path.exists(os.path.join(self.dir, name)), name)
        self.assertEqual(os.stat(os.path.join(self.dir, "tls/key.pem")).st_mode & 0o777, 0o600)
        self.assertEqual(self.sp("domain", "list").out, "")
        with open(os.path.join(self.dir, "sealpost.conf")) as f:
            conf = f.read()
        self.assertIn("hostname = mail.example.test", conf)
        self.assertIn("#", conf)
        again = self.sp("init")
        self.assertEqual(again.code, 1)
        self.assertIn("already initialised", again.err)

    def test_init_demo_prints_password_last(self):
        r = self.sp("init", "--demo")
        self.assertEqual(r.code, 0, r)
        self.assertRegex(r.out, r"(?m)^Recovery key: R-")
        self.assertRegex(r.last_line, r"^[a-z2-9]{8}-[a-z2-9]{26}$")
        self.assertIn("demo@example.test", self.sp("alias", "list").out)

    def test_commands_need_init(self):
        r = self.sp("domain", "add", "example.test")
        self.assertEqual(r.code, 1)
        self.assertIn("sealpost init", r.err)


class CliTest(sp.DataDirTest):
    init_args = ()

    def setUp(self):
        super().setUp()
        self.assertEqual(self.sp("domain", "add", "example.test").code, 0)

    def test_usage_errors_exit_2(self):
        for args in (("frobnicate",), ("domain",), ("domain", "add"), ("alias", "add"),
                     ("alias", "add", "a@example.test", "--bogus"), ("rekey",),
                     ("serve", "--nonsense")):
            r = self.sp(*args)
            self.assertEqual(r.code, 2, (args, r))
            self.assertTrue(r.err.strip(), args)

    def test_help_on_every_command(self):
        for args in (("init",), ("serve",), ("status",), ("domain", "add"), ("domain", "list"),
                     ("domain", "remove"), ("alias", "add"), ("alias", "list"),
                     ("alias", "remove"), ("password",), ("rekey",), ("mailbox", "key")):
            r = self.sp(*args, "--help")
            self.assertEqual(r.code, 0, (args, r))
            self.assertIn("usage: sealpost", r.out)

    def test_bad_input_messages(self):
        cases = [
            (("domain", "add", "example.test"), "already exists"),
            (("domain", "add", "bad_domain.test"), "invalid domain"),
            (("domain", "add", "localhost"), "invalid domain"),
            (("domain", "remove", "nowhere.test"), "unknown domain"),
            (("alias", "add", "alice@nowhere.test"), "unknown domain"),
            (("alias", "add", "not-an-address"), "malformed address"),
            (("alias", "add", "al ice@example.test"), "malformed address"),
            (("alias", "add", "a..b@example.test"), "malformed address"),
            (("alias", "add", "alice+tag@example.test"), "+tag"),
            (("alias", "add", "list@example.test", "--no-mailbox"), "deliver nowhere"),
            (("alias", "add", "x@example.test", "--quota", "12Q"), "invalid size"),
            (("alias", "add", "x@example.test", "--forward", "nope"), "malformed forward"),
            (("alias", "add", "x@example.test", "--webhook", "ftp://h/x"), "invalid webhook"),
            (("alias", "remove", "ghost@example.test"), "no such alias"),
            (("password", "ghost@example.test"), "unknown address"),
        ]
        for args, message in cases:
            r = self.sp(*args, stdin="whatever\n")
            self.assertEqual(r.code, 1, (args, r))
            self.assertIn(message, r.err, (args, r))
            self.assertEqual(len(r.err.strip().splitlines()), 1, (args, r))
            self.assertTrue(r.err.startswith("sealpost: "), r)

    def test_duplicate_alias_leaves_no_partial_state(self):
        self.add_alias("alice@example.test")
        before = self.mailbox_files()
        r = self.sp("alias", "add", "ALICE@example.test")
        self.assertEqual(r.code, 1)
        self.assertIn("already exists", r.err)
        self.assertEqual(self.mailbox_files(), before)
        self.assertEqual(self.sp("alias", "list").out.count("alice@example.test"), 1)

    def test_canonical_addresses(self):
        password, _ = self.add_alias("Alice@EXAMPLE.test")
        listing = self.sp("alias", "list").out
        self.assertIn("alice@example.test\tmailbox", listing)
        # A +tag subaddress and any case resolve to the alias.
        r = self.sp("mailbox", "key", "ALICE+news@example.test", stdin=password + "\n")
        self.assertEqual(r.code, 0, r)
        self.assertRegex(r.last_line, r"^raw:[0-9a-f]{64}$")

    def test_idna_domain(self):
        r = self.sp("domain", "add", "Bücher.Example")
        self.assertEqual(r.code, 0, r)
        self.assertIn("xn--bcher-kva.example", self.sp("domain", "list").out.splitlines())
        self.add_alias("anna@bücher.example")
        self.assertIn("anna@xn--bcher-kva.example", self.sp("alias", "list").out)

    def test_postmaster_exists_for_every_domain(self):
        self.assertIn("postmaster@example.test\tpostmaster", self.sp("alias", "list").out)
        r = self.sp("alias", "remove", "postmaster@example.test")
        self.assertEqual(r.code, 0, r)
        self.assertIn("postmaster@example.test", self.sp("alias", "list").out)
        # A domain with only its postmaster left can be removed.
        self.assertEqual(self.sp("domain", "add", "gone.test").code, 0)
        self.assertEqual(self.sp("domain", "remove", "gone.test").code, 0)
        self.add_alias("bob@example.test")
        r = self.sp("domain", "remove", "example.test")
        self.assertEqual(r.code, 1)
        self.assertIn("remove them first", r.err)

    def test_forward_only_alias_and_later_release_note(self):
        r = self.sp("alias", "add", "list@example.test", "--no-mailbox", "--forward",
                    "Someone@Elsewhere.test", "--webhook", "https://hooks.example.test/in")
        self.assertEqual(r.code, 0, r)
        self.assertNotIn("Recovery key", r.out)
        self.assertIn("later release", r.err)
        self.assertIn("list@example.test\tforward-only\tenabled\t1 forward",
                      self.sp("alias", "list").out)
        self.assertEqual(self.mailbox_files(), [])

    def test_wrong_password_and_recovery_key(self):
        password, recovery = self.add_alias("carol@example.test")
        r = self.sp("mailbox", "key", "carol@example.test", stdin="wrong-password\n")
        self.assertEqual(r.code, 1)
        self.assertIn("wrong password", r.err)
        # Well-formed but wrong: same slot id, other secret.
        forged = password[:9] + ("a" * 26 if password[9:] != "a" * 26 else "b" * 26)
        r = self.sp("mailbox", "key", "carol@example.test", stdin=forged + "\n")
        self.assertEqual(r.code, 1)
        r1 = self.sp("mailbox", "key", "carol@example.test", stdin=password + "\n")
        r2 = self.sp("mailbox", "key", "carol@example.test", stdin=recovery + "\n")
        self.assertEqual((r1.code, r2.code), (0, 0), (r1, r2))
        self.assertEqual(r1.last_line, r2.last_line)
        # The recovery key is accepted with spaces instead of dashes, any case.
        r3 = self.sp("mailbox", "key", "carol@example.test",
                     stdin=recovery.replace("-", " ").upper() + "\n")
        self.assertEqual(r3.last_line, r1.last_line, r3)

    def test_password_change_and_app_passwords(self):
        old, recovery = self.add_alias("dave@example.test")
        r = self.sp("password", "dave@example.test", stdin=old + "\n")
        self.assertEqual(r.code, 0, r)
        new = r.last_line
        self.assertNotEqual(new, old)
        self.assertEqual(self.sp("mailbox", "key", "dave@example.test", stdin=old + "\n").code, 1)
        key = self.sp("mailbox", "key", "dave@example.test", stdin=new + "\n")
        self.assertEqual(key.code, 0, key)
        # App password.
        r = self.sp("password", "dave@example.test", "--label", "phone", stdin=new + "\n")
        self.assertEqual(r.code, 0, r)
        app = r.last_line
        self.assertEqual(self.sp("mailbox", "key", "dave@example.test",
                                 stdin=app + "\n").last_line, key.last_line)
        dup = self.sp("password", "dave@example.test", "--label", "phone", stdin=new + "\n")
        self.assertEqual(dup.code, 1)
        self.assertIn("already exists", dup.err)
        # Revoke needs no password; the app password stops working.
        r = self.sp("password", "dave@example.test", "--revoke", "phone")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.sp("mailbox", "key", "dave@example.test",
                                 stdin=app + "\n").code, 1)
        r = self.sp("password", "dave@example.test", "--revoke", "phone")
        self.assertEqual(r.code, 1)
        self.assertIn("no key slot with this label", r.err)
        # The recovery key can set a new main password.
        r = self.sp("password", "dave@example.test", stdin=recovery + "\n")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.sp("mailbox", "key", "dave@example.test", stdin=new + "\n").code, 1)

    def test_raw_key_opens_the_file_in_a_sqlite3mc_tool(self):
        password, _ = self.add_alias("erin@example.test")
        r = self.sp("mailbox", "key", "erin@example.test", stdin=password + "\n")
        raw = r.last_line
        path = os.path.join(self.dir, "mailboxes", self.mailbox_files()[0])
        ok = self.sqlite(path, f"PRAGMA cipher='chacha20'; PRAGMA key='{raw}'; "
                               "SELECT count(*) FROM sqlite_master;")
        self.assertEqual(ok.code, 0, ok)
        bad = self.sqlite(path, "PRAGMA cipher='chacha20'; PRAGMA key='raw:" + "0" * 64 +
                          "'; SELECT count(*) FROM sqlite_master;")
        self.assertEqual(bad.code, 1, bad)
        # Plain SQLite cannot read it either: the file is encrypted.
        with self.assertRaises(sqlite3.DatabaseError):
            sqlite3.connect(path).execute("SELECT count(*) FROM sqlite_master").fetchall()
        with open(path, "rb") as f:
            data = f.read()
        self.assertNotIn(b"SQLite format 3", data)
        self.assertNotIn(b"erin", data)

    def test_rekey_keeps_passwords_and_retires_the_raw_key(self):
        password, recovery = self.add_alias("frank@example.test")
        app = self.sp("password", "frank@example.test", "--label", "mua",
                      stdin=password + "\n").last_line
        path = os.path.join(self.dir, "mailboxes", self.mailbox_files()[0])
        old_raw = self.sp("mailbox", "key", "frank@example.test", stdin=password + "\n").last_line
        self.assertEqual(self.sqlite(path, f"PRAGMA cipher='chacha20'; PRAGMA key='{old_raw}';"
                                           "CREATE TABLE marker(x); INSERT INTO marker "
                                           "VALUES ('kept across rekey');").code, 0)
        r = self.sp("rekey", "frank@example.test", stdin=password + "\n")
        self.assertEqual(r.code, 0, r)
        for secret in (password, recovery, app):
            r = self.sp("mailbox", "key", "frank@example.test", stdin=secret + "\n")
            self.assertEqual(r.code, 0, r)
            new_raw = r.last_line
        self.assertNotEqual(new_raw, old_raw)
        self.assertEqual(self.sqlite(path, f"PRAGMA cipher='chacha20'; PRAGMA key='{old_raw}';"
                                           "SELECT x FROM marker;").code, 1)
        r = self.sqlite(path, f"PRAGMA cipher='chacha20'; PRAGMA key='{new_raw}';"
                              "SELECT x FROM marker;")
        self.assertEqual((r.code, r.last_line), (0, "kept across rekey"), r)
        self.assertEqual(self.sp("rekey", "frank@example.test", stdin="nope\n").code, 1)

    def test_alias_remove_deletes_the_mailbox(self):
        self.add_alias("gina@example.test")
        self.assertEqual(len(self.mailbox_files()), 1)
        r = self.sp("alias", "remove", "Gina@example.test")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.mailbox_files(), [])

    def test_quota_sizes(self):
        self.add_alias("hank@example.test", "--quota", "20K")
        db = sqlite3.connect(os.path.join(self.dir, "accounts.db"))
        self.assertEqual(db.execute("SELECT quota FROM mailboxes").fetchall(), [(20480,)])

    def test_mailbox_ids_never_reveal_the_address(self):
        self.add_alias("ivan@example.test")
        name = self.mailbox_files()[0]
        self.assertRegex(name, r"^[a-z2-7]{26}\.sqlite$")
        self.assertNotIn("ivan", name)
