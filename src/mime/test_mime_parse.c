/* Unit tests for the structure parser, BODYSTRUCTURE, ENVELOPE and
 * sections on hand-written messages. Each message is written with LF
 * line ends; it is tested in its served form made in one piece and made
 * byte by byte by the streaming converter (the parser itself takes whole
 * messages), and both must give the same answers. */
#include "mime/mime_decode.h"
#include "lib/sp_test.h"

SP_TEST_MAIN_DEFS

static void served(const char *lf, bool trickle, struct sp_buf *out)
{
	const uint8_t *p = (const uint8_t *)lf;
	size_t len = strlen(lf);

	if (!trickle) {
		mime_crlf_normalize(p, len, out);
		return;
	}
	struct mime_crlf_state st = MIME_CRLF_STATE_INIT;
	for (size_t i = 0; i < len; i++)
		mime_crlf_feed(&st, p + i, 1, out);
	mime_crlf_finish(&st, out);
}

static const struct {
	const char *name, *msg, *bodystructure, *body;
	unsigned defects; /* bits that must be set */
} structure_cases[] = {
    {
        .name = "no content-type: RFC 2045 §5.2 default",
        .msg = "Subject: x\n\nhello\nworld\n",
        .bodystructure = "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 14 2 "
                         "NIL NIL NIL NIL)",
        .body = "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 14 2)",
    },
    {
        .name = "text without charset gets us-ascii",
        .msg = "Content-Type: text/html\nContent-Transfer-Encoding: Base64\n\nPGI+\n",
        .bodystructure = "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"Base64\" 6 1 "
                         "NIL NIL NIL NIL)",
    },
    {
        .name = "alternative inside mixed, with extension data",
        .msg = "Content-Type: multipart/mixed; boundary=\"outer\"\n"
               "\n"
               "preamble\n"
               "--outer\n"
               "Content-Type: multipart/alternative; boundary=inner\n"
               "\n"
               "--inner\n"
               "Content-Type: text/plain; charset=utf-8\n"
               "\n"
               "plain\n"
               "--inner\n"
               "Content-Type: text/html; charset=utf-8\n"
               "Content-Language: en, fr\n"
               "\n"
               "<b>html</b>\n"
               "--inner--\n"
               "--outer\n"
               "Content-Type: application/pdf; name=\"a b.pdf\"\n"
               "Content-Disposition: Attachment; filename*=utf-8''%E2%82%AC.pdf\n"
               "Content-Transfer-Encoding: base64\n"
               "Content-ID: <id@x>\n"
               "Content-Description: the file\n"
               "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
               "Content-Location: http://x/a.pdf\n"
               "\n"
               "JVBERi0=\n"
               "--outer--\n"
               "epilogue\n",
        .bodystructure =
            "(((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL)"
            "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 11 0 NIL NIL (\"en\" "
            "\"fr\") NIL)"
            " \"alternative\" (\"boundary\" \"inner\") NIL NIL NIL)"
            "(\"application\" \"pdf\" (\"name\" \"a b.pdf\") \"<id@x>\" \"the file\" \"base64\" 8 "
            "\"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"Attachment\" (\"filename*\" "
            "\"utf-8''%E2%82%AC.pdf\")) NIL "
            "\"http://x/a.pdf\")"
            " \"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)",
        .body =
            "(((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 5 0)"
            "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 11 0) \"alternative\")"
            "(\"application\" \"pdf\" (\"name\" \"a b.pdf\") \"<id@x>\" \"the file\" \"base64\" 8)"
            " \"mixed\")",
    },
    {
        .name = "message/rfc822 with envelope and lines",
        .msg = "Content-Type: message/rfc822\n"
               "\n"
               "From: A <a@x>\n"
               "Subject: inner\n"
               "\n"
               "body\n",
        .bodystructure =
            "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 39 "
            "(NIL \"inner\" ((\"A\" NIL \"a\" \"x\")) ((\"A\" NIL \"a\" \"x\")) "
            "((\"A\" NIL \"a\" \"x\")) NIL NIL NIL NIL NIL) "
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL)"
            " 4 NIL NIL NIL NIL)",
    },
    {
        .name = "message/global is encapsulated too (RFC 6532 §3.7)",
        .msg = "Content-Type: message/global\n\nSubject: s\n\nx",
        .bodystructure =
            "(\"message\" \"global\" NIL NIL NIL \"7bit\" 15 "
            "(NIL \"s\" NIL NIL NIL NIL NIL NIL NIL NIL) "
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL)"
            " 2 NIL NIL NIL NIL)",
    },
    {
        .name = "digest parts default to message/rfc822 (RFC 2046 §5.1.5)",
        .msg = "Content-Type: multipart/digest; boundary=d\n"
               "\n"
               "--d\n"
               "\n"
               "Subject: one\n"
               "\n"
               "1\n"
               "--d--\n",
        .bodystructure =
            "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 17 "
            "(NIL \"one\" NIL NIL NIL NIL NIL NIL NIL NIL) "
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL)"
            " 2 NIL NIL NIL NIL) \"digest\" (\"boundary\" \"d\") NIL NIL NIL)",
    },
    {
        .name = "missing close delimiter",
        .msg = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nonly\n",
        .bodystructure = "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL "
                         "NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)",
        .defects = MIME_DEFECT_NO_CLOSE_BOUNDARY,
    },
    {
        .name = "no delimiter at all: an empty stand-in part keeps the grammar",
        .msg = "Content-Type: multipart/mixed; boundary=b\n\nno parts here\n",
        .bodystructure = "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL "
                         "NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)",
        .defects = MIME_DEFECT_NO_START_BOUNDARY,
    },
    {
        .name = "multipart without boundary parameter",
        .msg = "Content-Type: multipart/mixed\n\n--b\n\nx\n",
        .bodystructure = "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL "
                         "NIL NIL NIL) \"mixed\" NIL NIL NIL NIL)",
        .defects = MIME_DEFECT_NO_BOUNDARY_PARAM,
    },
    {
        .name = "boundary followed by junk and transport padding",
        .msg = "Content-Type: multipart/mixed; boundary=b\n\n--b   \n\nA\n--bjunk\n\nB\n--b--  \n",
        .bodystructure =
            "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL "
            "NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 "
            "NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)",
    },
    {
        .name = "an outer boundary closes an unclosed inner multipart",
        .msg = "Content-Type: multipart/mixed; boundary=o\n\n--o\n"
               "Content-Type: multipart/mixed; boundary=i\n\n--i\n\nin\n--o\n\nnext\n--o--\n",
        .bodystructure =
            "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0 NIL "
            "NIL NIL NIL) \"mixed\" (\"boundary\" \"i\") NIL NIL NIL)"
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0 NIL NIL NIL NIL)"
            " \"mixed\" (\"boundary\" \"o\") NIL NIL NIL)",
        .defects = MIME_DEFECT_NO_CLOSE_BOUNDARY,
    },
    {
        .name = "RFC 2231 continuations and charset, RFC 2047 in a quoted name",
        .msg = "Content-Type: application/octet-stream;\n"
               " name*0*=utf-8''caf%C3%A9;\n"
               " name*1=\" menu.txt\";\n"
               " title=\"=?utf-8?Q?x?=\"\n"
               "\n"
               "z",
        .bodystructure =
            "(\"application\" \"octet-stream\" (\"name*\" \"utf-8''caf%C3%A9%20menu.txt\" "
            "\"title\" \"=?utf-8?Q?x?=\") NIL NIL \"7bit\" 1 NIL NIL NIL NIL)",
    },
    {
        .name = "header without a blank line: all header",
        .msg = "From: a@b\nSubject: no body",
        .bodystructure = "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL "
                         "NIL NIL NIL)",
        .defects = MIME_DEFECT_NO_HEADER_END,
    },
    {
        .name = "unparsable content-type is text/plain",
        .msg = "Content-Type: garbage\n\nx\n",
        .bodystructure = "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL "
                         "NIL NIL NIL)",
        .defects = MIME_DEFECT_BAD_CONTENT_TYPE,
    },
    {
        .name = "NUL and bare line ends in the raw input are recorded",
        .msg = "Subject: a\n\nb\n",
        .bodystructure = "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL "
                         "NIL NIL NIL)",
    },
};

static void test_structure(void)
{
	for (size_t i = 0; i < SP_N_ELEMENTS(structure_cases); i++) {
		for (int trickle = 0; trickle < 2; trickle++) {
			struct sp_buf msg = SP_BUF_INIT, out = SP_BUF_INIT;
			struct sp_arena *arena = sp_arena_new(4096);
			struct mime_message *m;
			sp_test_current = structure_cases[i].name;
			served(structure_cases[i].msg, trickle != 0, &msg);
			SP_CHECK_INT(mime_parse(msg.data, msg.len, NULL, arena, &m), 0);
			mime_bodystructure(m, m->root, true, 0, &out);
			SP_CHECK_STR(sp_buf_cstr(&out), structure_cases[i].bodystructure);
			if (structure_cases[i].body != NULL) {
				sp_buf_reset(&out);
				mime_bodystructure(m, m->root, false, 0, &out);
				SP_CHECK_STR(sp_buf_cstr(&out), structure_cases[i].body);
			}
			SP_CHECK((m->defects & structure_cases[i].defects) ==
			         structure_cases[i].defects);
			SP_CHECK((m->defects & MIME_DEFECT_BARE_EOL) == 0);
			sp_arena_free(&arena);
			sp_buf_deinit(&msg);
			sp_buf_deinit(&out);
		}
	}
	sp_test_current = "test_structure";
}

static void test_raw_defects(void)
{
	static const char raw[] = "Subject: a\n\nb\0c\r";
	struct sp_arena *arena = sp_arena_new(4096);
	struct mime_message *m;

	mime_parse((const uint8_t *)raw, sizeof(raw) - 1, NULL, arena, &m);
	SP_CHECK((m->defects & MIME_DEFECT_NUL) != 0);
	SP_CHECK((m->defects & MIME_DEFECT_BARE_EOL) != 0);
	SP_CHECK_INT(m->root->body_off, 12);
	SP_CHECK_INT(m->root->body_len, 4);
	SP_CHECK((m->defects & MIME_DEFECT_8BIT_HEADER) == 0);
	mime_parse((const uint8_t *)"Subject: \xe9\n\n", 13, NULL, arena, &m);
	SP_CHECK((m->defects & MIME_DEFECT_8BIT_HEADER) != 0);
	/* an empty message is a message too */
	mime_parse(NULL, 0, NULL, arena, &m);
	SP_CHECK_INT(m->n_parts, 1);
	SP_CHECK_INT(m->root->body_len, 0);
	sp_arena_free(&arena);
}

static void test_envelope(void)
{
	static const struct {
		const char *msg, *envelope;
		unsigned flags;
	} cases[] = {
	    {
	        .msg = "Date: Thu, 13 Sep 2001 17:28:42 -0400\n"
	               "Subject: =?utf-8?Q?caf=C3=A9?= \"quoted\"\n"
	               "From: \"Doe, J\" <jd@x.org>\n"
	               "To: A Group: a@x, B <b@y>;, c@z\n"
	               "Cc: <@r1,@r2:u@h>\n"
	               "In-Reply-To: <p@x>\n"
	               "Message-ID: <m@x>\n\n",
	        .envelope =
	            "(\"Thu, 13 Sep 2001 17:28:42 -0400\" "
	            "\"=?utf-8?Q?caf=C3=A9?= \\\"quoted\\\"\" "
	            "((\"Doe, J\" NIL \"jd\" \"x.org\")) ((\"Doe, J\" NIL \"jd\" \"x.org\")) "
	            "((\"Doe, J\" NIL \"jd\" \"x.org\")) "
	            "((NIL NIL \"A Group\" NIL)(NIL NIL \"a\" \"x\")(\"B\" NIL \"b\" \"y\")"
	            "(NIL NIL NIL NIL)(NIL NIL \"c\" \"z\")) "
	            "((NIL \"@r1,@r2\" \"u\" \"h\")) NIL \"<p@x>\" \"<m@x>\")",
	    },
	    {
	        /* folded subject: CRLF removed, WSP kept (RFC 5322
	         * §2.2.3); Sender given; Reply-To empty -> From;
	         * two To fields are joined */
	        .msg = "Subject: one\n two\nFrom: a@x\nSender: s@x\nReply-To:\n"
	               "To: t1@x\nTo: t2@x\nBcc: foo\n\n",
	        .envelope =
	            "(NIL \"one two\" ((NIL NIL \"a\" \"x\")) ((NIL NIL \"s\" \"x\")) "
	            "((NIL NIL \"a\" \"x\")) ((NIL NIL \"t1\" \"x\")(NIL NIL \"t2\" \"x\")) NIL "
	            "((NIL NIL \"foo\" \"MISSING_DOMAIN\")) NIL NIL)",
	    },
	    {
	        /* raw 8-bit: a literal in plain mode, quoted with UTF8=ACCEPT */
	        .msg = "Subject: J\xc3\xbcrgen\n\n",
	        .envelope = "(NIL {7}\r\nJ\xc3\xbcrgen NIL NIL NIL NIL NIL NIL NIL NIL)",
	    },
	    {
	        .msg = "Subject: J\xc3\xbcrgen\n\n",
	        .flags = MIME_IMAP_UTF8,
	        .envelope = "(NIL \"J\xc3\xbcrgen\" NIL NIL NIL NIL NIL NIL NIL NIL)",
	    },
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		for (int trickle = 0; trickle < 2; trickle++) {
			struct sp_buf msg = SP_BUF_INIT, out = SP_BUF_INIT;
			struct sp_arena *arena = sp_arena_new(4096);
			struct mime_message *m;
			served(cases[i].msg, trickle != 0, &msg);
			mime_parse(msg.data, msg.len, NULL, arena, &m);
			mime_envelope(m, m->root, cases[i].flags, &out);
			SP_CHECK_STR(sp_buf_cstr(&out), cases[i].envelope);
			sp_arena_free(&arena);
			sp_buf_deinit(&msg);
			sp_buf_deinit(&out);
		}
	}
}

/* A message to address: 1 text, 2 message/rfc822 holding a multipart
 * (2.1, 2.2), 3 a multipart (3.1). */
static const char section_msg[] = "From: top@x\n"
                                  "Content-Type: multipart/mixed; boundary=o\n"
                                  "\n"
                                  "--o\n"
                                  "Content-Type: text/plain\n"
                                  "\n"
                                  "one\n"
                                  "--o\n"
                                  "Content-Type: message/rfc822\n"
                                  "\n"
                                  "Subject: inner\n"
                                  "X-A: 1\n"
                                  "Content-Type: multipart/alternative; boundary=i\n"
                                  "\n"
                                  "--i\n"
                                  "\n"
                                  "i1\n"
                                  "--i\n"
                                  "Content-Type: text/html\n"
                                  "\n"
                                  "i2\n"
                                  "--i--\n"
                                  "--o\n"
                                  "Content-Type: multipart/mixed; boundary=n\n"
                                  "\n"
                                  "--n\n"
                                  "\n"
                                  "n1\n"
                                  "--n--\n"
                                  "--o--\n";

static void test_sections(void)
{
	static const struct {
		const char *spec, *bytes; /* NULL: no such part */
	} cases[] = {
	    {.spec = "1", .bytes = "one"},
	    {.spec = "1.MIME", .bytes = "Content-Type: text/plain\r\n\r\n"},
	    {.spec = "2.HEADER",
	     .bytes = "Subject: inner\r\nX-A: 1\r\n"
	              "Content-Type: multipart/alternative; boundary=i\r\n\r\n"},
	    {.spec = "2.HEADER.FIELDS (x-a SUBJECT)", .bytes = "Subject: inner\r\nX-A: 1\r\n\r\n"},
	    {.spec = "2.HEADER.FIELDS.NOT (Content-Type)",
	     .bytes = "Subject: inner\r\nX-A: 1\r\n\r\n"},
	    {.spec = "2.TEXT",
	     .bytes = "--i\r\n\r\ni1\r\n--i\r\nContent-Type: text/html\r\n\r\ni2\r\n--i--"},
	    {.spec = "2.1", .bytes = "i1"},
	    {.spec = "2.2", .bytes = "i2"},
	    {.spec = "2.2.MIME", .bytes = "Content-Type: text/html\r\n\r\n"},
	    {.spec = "2.MIME", .bytes = "Content-Type: message/rfc822\r\n\r\n"},
	    {.spec = "3.1", .bytes = "n1"},
	    {.spec = "3.1.1", .bytes = "n1"},
	    {.spec = "HEADER.FIELDS (From)", .bytes = "From: top@x\r\n\r\n"},
	    {.spec = "HEADER.FIELDS (Nope)", .bytes = "\r\n"},
	    {.spec = "4", .bytes = NULL},
	    {.spec = "2.3", .bytes = NULL},
	    {.spec = "1.2", .bytes = NULL},
	    /* HEADER/TEXT only address messages (RFC 3501 §6.4.5) */
	    {.spec = "1.HEADER", .bytes = NULL},
	    {.spec = "3.TEXT", .bytes = NULL},
	};
	for (int trickle = 0; trickle < 2; trickle++) {
		struct sp_buf msg = SP_BUF_INIT;
		struct sp_arena *arena = sp_arena_new(4096);
		struct mime_message *m;
		served(section_msg, trickle != 0, &msg);
		mime_parse(msg.data, msg.len, NULL, arena, &m);
		for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
			struct mime_section sec;
			struct mime_section_result res;
			const char *error;
			sp_test_current = cases[i].spec;
			SP_CHECK_INT(mime_section_parse(cases[i].spec, &sec, arena, &error), 0);
			int rc = mime_section_fetch(m, &sec, &res, NULL);
			SP_CHECK_INT(rc, cases[i].bytes == NULL ? -1 : 0);
			if (rc != 0 || cases[i].bytes == NULL)
				continue;
			char *got = res.built
			                ? sp_strndup((const char *)res.bytes.data, res.bytes.len)
			                : sp_strndup((const char *)msg.data + res.off, res.len);
			SP_CHECK_STR(got, cases[i].bytes);
			free(got);
			sp_buf_deinit(&res.bytes);
		}
		/* BODY[] and BODY[TEXT] of the top level */
		struct mime_section sec;
		struct mime_section_result res;
		const char *error;
		mime_section_parse("", &sec, arena, &error);
		SP_CHECK_INT(mime_section_fetch(m, &sec, &res, NULL), 0);
		SP_CHECK(res.off == 0 && res.len == msg.len);
		sp_arena_free(&arena);
		sp_buf_deinit(&msg);
	}
	sp_test_current = "test_sections";

	/* RFC 3501 §6.4.5: a single-part message's part 1 is its body */
	struct sp_buf msg = SP_BUF_INIT;
	struct sp_arena *arena = sp_arena_new(4096);
	struct mime_message *m;
	served("Subject: s\n\nbody\n", false, &msg);
	mime_parse(msg.data, msg.len, NULL, arena, &m);
	unsigned one = 1;
	SP_CHECK(mime_part_by_path(m, &one, 1) == m->root);
	sp_arena_free(&arena);
	sp_buf_deinit(&msg);

	/* a top-level message/rfc822 whose message is single-part: 1 is the
	 * whole encapsulated message, 1.1 its body (RFC 3501 §6.4.5) */
	static const struct {
		const char *spec, *bytes;
	} enc[] = {
	    {.spec = "1", .bytes = "Subject: in\r\n\r\ninner body\r\n"},
	    {.spec = "1.1", .bytes = "inner body\r\n"},
	    {.spec = "1.HEADER", .bytes = "Subject: in\r\n\r\n"},
	    {.spec = "1.TEXT", .bytes = "inner body\r\n"},
	    {.spec = "TEXT", .bytes = "Subject: in\r\n\r\ninner body\r\n"},
	};
	arena = sp_arena_new(4096);
	served("Content-Type: message/rfc822\n\nSubject: in\n\ninner body\n", false, &msg);
	mime_parse(msg.data, msg.len, NULL, arena, &m);
	for (size_t i = 0; i < SP_N_ELEMENTS(enc); i++) {
		struct mime_section sec;
		struct mime_section_result res;
		const char *error;
		sp_test_current = enc[i].spec;
		SP_CHECK_INT(mime_section_parse(enc[i].spec, &sec, arena, &error), 0);
		SP_CHECK_INT(mime_section_fetch(m, &sec, &res, NULL), 0);
		char *got = sp_strndup((const char *)msg.data + res.off, res.len);
		SP_CHECK_STR(got, enc[i].bytes);
		free(got);
	}
	sp_test_current = "test_sections";
	sp_arena_free(&arena);
	sp_buf_deinit(&msg);
}

static void test_section_parse(void)
{
	static const struct {
		const char *spec;
		int rc;
		unsigned path_len;
		enum mime_section_kind kind;
		unsigned n_fields;
	} cases[] = {
	    {.spec = "", .kind = MIME_SECTION_BODY},
	    {.spec = "1.2.3", .path_len = 3, .kind = MIME_SECTION_BODY},
	    {.spec = "header", .kind = MIME_SECTION_HEADER},
	    {.spec = "4.1.MIME", .path_len = 2, .kind = MIME_SECTION_MIME},
	    {.spec = "1.TEXT", .path_len = 1, .kind = MIME_SECTION_TEXT},
	    {.spec = "HEADER.FIELDS (A B \"C D\")", .kind = MIME_SECTION_FIELDS, .n_fields = 3},
	    {.spec = "2.HEADER.FIELDS.NOT (X)",
	     .path_len = 1,
	     .kind = MIME_SECTION_FIELDS_NOT,
	     .n_fields = 1},
	    {.spec = "MIME", .rc = -1},
	    {.spec = "0", .rc = -1},
	    {.spec = "1.", .rc = -1},
	    {.spec = "1.FOO", .rc = -1},
	    {.spec = "HEADER.FIELDS ()", .rc = -1},
	    {.spec = "HEADER.FIELDS (A", .rc = -1},
	    {.spec = "HEADER.FIELDS A", .rc = -1},
	    {.spec = "TEXT junk", .rc = -1},
	    {.spec = "99999999999", .rc = -1},
	};
	struct sp_arena *arena = sp_arena_new(4096);
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct mime_section sec;
		const char *error = NULL;
		sp_test_current = cases[i].spec;
		int rc = mime_section_parse(cases[i].spec, &sec, arena, &error);
		SP_CHECK_INT(rc, cases[i].rc);
		if (rc == 0) {
			SP_CHECK_INT(sec.path_len, cases[i].path_len);
			SP_CHECK_INT(sec.kind, cases[i].kind);
			SP_CHECK_INT(sec.n_fields, cases[i].n_fields);
		} else {
			SP_CHECK(error != NULL);
		}
	}
	sp_arena_free(&arena);
	sp_test_current = "test_section_parse";
}

/* Nesting deeper than the limit: the rest is an opaque leaf. */
static void test_limits(void)
{
	struct sp_buf msg = SP_BUF_INIT;
	struct sp_arena *arena = sp_arena_new(4096);
	struct mime_message *m;
	struct mime_limits lim = {.max_depth = 3, .max_parts = 100, .max_header_bytes = 4096};

	for (int i = 0; i < 10; i++)
		sp_buf_printf(&msg, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n",
		              i, i);
	sp_buf_append_str(&msg, "\r\nleaf\r\n");
	mime_parse(msg.data, msg.len, &lim, arena, &m);
	SP_CHECK((m->defects & MIME_DEFECT_DEPTH_LIMIT) != 0);
	SP_CHECK_INT(m->n_parts, 4);
	const struct mime_part *p = m->root;
	while (p->children != NULL)
		p = p->children;
	SP_CHECK_INT(p->depth, 3);
	SP_CHECK_STR(p->type, "multipart"); /* kept as written, parsed as a leaf */
	struct sp_buf bs = SP_BUF_INIT;
	mime_bodystructure(m, m->root, true, 0, &bs);
	SP_CHECK(strstr(sp_buf_cstr(&bs), "\"mixed\" (\"boundary\" \"b3\")") != NULL);

	/* a deep chain of message/rfc822 with the default limit: no crash,
	 * 41 levels parsed (depth 0..40) */
	sp_buf_reset(&msg);
	for (int i = 0; i < 5000; i++)
		sp_buf_append_str(&msg, "Content-Type: message/rfc822\r\n\r\n");
	mime_parse(msg.data, msg.len, NULL, arena, &m);
	SP_CHECK((m->defects & MIME_DEFECT_DEPTH_LIMIT) != 0);
	SP_CHECK_INT(m->n_parts, 41);
	sp_buf_reset(&bs);
	mime_bodystructure(m, m->root, true, 0, &bs);
	SP_CHECK(bs.len > 0);

	/* more parts than allowed: the rest are not built */
	lim = (struct mime_limits){.max_depth = 10, .max_parts = 5, .max_header_bytes = 4096};
	sp_buf_reset(&msg);
	sp_buf_append_str(&msg, "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (int i = 0; i < 20; i++)
		sp_buf_printf(&msg, "--b\r\n\r\npart %d\r\n", i);
	sp_buf_append_str(&msg, "--b--\r\n");
	mime_parse(msg.data, msg.len, &lim, arena, &m);
	SP_CHECK_INT(m->n_parts, 5);
	SP_CHECK_INT(m->root->n_children, 4);
	SP_CHECK((m->defects & MIME_DEFECT_PARTS_LIMIT) != 0);
	SP_CHECK_INT(m->root->body_off + m->root->body_len, msg.len);

	/* a header larger than the limit still ends where it ends */
	lim = (struct mime_limits){.max_depth = 10, .max_parts = 5, .max_header_bytes = 64};
	sp_buf_reset(&msg);
	sp_buf_append_str(&msg, "Subject: first\r\n");
	for (int i = 0; i < 50; i++)
		sp_buf_printf(&msg, "X-Filler-%d: %040d\r\n", i, i);
	sp_buf_append_str(&msg, "Content-Type: text/html\r\n\r\nbody");
	mime_parse(msg.data, msg.len, &lim, arena, &m);
	SP_CHECK((m->defects & MIME_DEFECT_HEADER_LIMIT) != 0);
	SP_CHECK_INT(m->root->body_len, 4);
	SP_CHECK(mime_part_field(m, m->root, "subject") != NULL);
	SP_CHECK_STR(m->root->subtype, "plain"); /* Content-Type was past the limit */

	sp_buf_deinit(&bs);
	sp_buf_deinit(&msg);
	sp_arena_free(&arena);
}

static void test_text(void)
{
	static const struct {
		const char *msg, *text;
	} cases[] = {
	    {.msg = "Content-Type: text/plain; charset=iso-8859-1\n"
	            "Content-Transfer-Encoding: quoted-printable\n\ncaf=E9 cr=\n=E8me\n",
	     .text = "caf\xc3\xa9 cr\xc3\xa8me\r\n\n"},
	    {.msg = "Content-Type: multipart/alternative; boundary=b\n\n--b\n"
	            "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
	            "PHA+SGk8L3A+\n--b\nContent-Type: image/png\n\nPNG\n--b--\n",
	     .text = "\nHi\n\n"},
	    {.msg = "Content-Type: message/rfc822\n\nSubject: x\nContent-Type: text/plain; "
	            "charset=koi8-r\n\n\xf0\xd2\xc9\xd7\xc5\xd4\n",
	     .text = "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\r\n\n"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct sp_buf msg = SP_BUF_INIT, out = SP_BUF_INIT;
		struct sp_arena *arena = sp_arena_new(4096);
		struct mime_message *m;
		served(cases[i].msg, false, &msg);
		mime_parse(msg.data, msg.len, NULL, arena, &m);
		mime_message_text(m, &out);
		SP_CHECK_STR(sp_buf_cstr(&out), cases[i].text);
		sp_arena_free(&arena);
		sp_buf_deinit(&msg);
		sp_buf_deinit(&out);
	}

	/* BINARY[]: transfer decoding, and UNKNOWN-CTE */
	struct sp_buf msg = SP_BUF_INIT, out = SP_BUF_INIT;
	struct sp_arena *arena = sp_arena_new(4096);
	struct mime_message *m;
	served("Content-Transfer-Encoding: base64\n\nAAEC/w==\n", false, &msg);
	mime_parse(msg.data, msg.len, NULL, arena, &m);
	SP_CHECK_INT(mime_part_decode_body(m, m->root, &out), 0);
	SP_CHECK(out.len == 4 && memcmp(out.data, "\x00\x01\x02\xff", 4) == 0);
	sp_buf_reset(&msg);
	served("Content-Transfer-Encoding: x-uuencode\n\nbegin\n", false, &msg);
	mime_parse(msg.data, msg.len, NULL, arena, &m);
	SP_CHECK_INT(mime_part_decode_body(m, m->root, &out), -1);
	SP_CHECK((m->defects & MIME_DEFECT_BAD_ENCODING) != 0);
	sp_arena_free(&arena);
	sp_buf_deinit(&msg);
	sp_buf_deinit(&out);
}

/* Decoded parameter values (the API the store indexes), not the IMAP form. */
static void test_params(void)
{
	static const struct {
		const char *header, *name, *value;
	} cases[] = {
	    {.header = "Content-Type: text/plain; charset=\"ISO-8859-1\"",
	     .name = "charset",
	     .value = "ISO-8859-1"},
	    {.header = "Content-Type: application/x; name*0*=utf-8''caf%C3%A9; name*1=\" menu\"",
	     .name = "name",
	     .value = "caf\xc3\xa9 menu"},
	    {.header = "Content-Type: application/x; NAME*=iso-8859-1'fr'%E9t%E9",
	     .name = "name",
	     .value = "\xc3\xa9t\xc3\xa9"},
	    {.header = "Content-Type: application/x; name*1=b; name*0=a",
	     .name = "name",
	     .value = "ab"},
	    {.header = "Content-Type: application/x; name=\"=?utf-8?B?w6k=?=.txt\"",
	     .name = "name",
	     .value = "\xc3\xa9.txt"},
	    {.header = "Content-Type: application/x; name=My File.pdf; x=1",
	     .name = "name",
	     .value = "My File.pdf"},
	    {.header = "Content-Type: application/x; name=\"a\\\"b\"",
	     .name = "name",
	     .value = "a\"b"},
	    {.header = "Content-Type: application/x; (comment) name = v ;",
	     .name = "name",
	     .value = "v"},
	    {.header = "Content-Disposition: attachment; filename*=UTF-8''%E2%82%AC.pdf",
	     .name = "filename",
	     .value = "\xe2\x82\xac.pdf"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct sp_buf msg = SP_BUF_INIT;
		struct sp_arena *arena = sp_arena_new(4096);
		struct mime_message *m;
		sp_test_current = cases[i].header;
		sp_buf_printf(&msg, "%s\r\n\r\nx", cases[i].header);
		mime_parse(msg.data, msg.len, NULL, arena, &m);
		const struct mime_part *p = m->root;
		const char *v =
		    strncmp(cases[i].header, "Content-Disposition", 19) == 0
		        ? mime_param_get(p->disp_params, p->n_disp_params, cases[i].name)
		        : mime_param_get(p->params, p->n_params, cases[i].name);
		SP_CHECK_STR(v, cases[i].value);
		sp_arena_free(&arena);
		sp_buf_deinit(&msg);
	}
	sp_test_current = "test_params";
}

int main(void)
{
	SP_TEST_RUN(test_structure);
	SP_TEST_RUN(test_raw_defects);
	SP_TEST_RUN(test_envelope);
	SP_TEST_RUN(test_sections);
	SP_TEST_RUN(test_section_parse);
	SP_TEST_RUN(test_limits);
	SP_TEST_RUN(test_text);
	SP_TEST_RUN(test_params);
	return sp_test_finish();
}
