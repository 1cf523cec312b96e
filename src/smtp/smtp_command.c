/* SMTP-family command grammar: verbs (RFC 5321 §4.1.1, LHLO of RFC 2033
 * §4.1, BDAT of RFC 3030, STARTTLS of RFC 3207, AUTH of RFC 4954), paths
 * (smtp_path.c) and the ESMTP parameters of RFC 1870 (SIZE), RFC 6152 and
 * RFC 3030 (BODY), RFC 6531 (SMTPUTF8), RFC 3461 (RET, ENVID, NOTIFY,
 * ORCPT) and RFC 4954 §5 (AUTH=). Reply codes follow RFC 5321 §4.2.4 and
 * the enhanced codes RFC 3463. */
#include "smtp/smtp_parser_private.h"

#include "lib/sp_str.h"

#include <string.h>
#include <strings.h>

#define ENVID_MAX 100      /* RFC 3461 §4.4 */
#define ORCPT_MAX 500      /* RFC 3461 §4.2 */
#define SIZE_DIGITS_MAX 20 /* RFC 1870 §4: size-value = 1*20DIGIT */
#define MECH_MAX 20        /* RFC 4422 §3.1 */

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
    {"HELO", SMTP_VERB_HELO}, {"EHLO", SMTP_VERB_EHLO},         {"LHLO", SMTP_VERB_LHLO},
    {"MAIL", SMTP_VERB_MAIL}, {"RCPT", SMTP_VERB_RCPT},         {"DATA", SMTP_VERB_DATA},
    {"BDAT", SMTP_VERB_BDAT}, {"RSET", SMTP_VERB_RSET},         {"NOOP", SMTP_VERB_NOOP},
    {"QUIT", SMTP_VERB_QUIT}, {"VRFY", SMTP_VERB_VRFY},         {"EXPN", SMTP_VERB_EXPN},
    {"HELP", SMTP_VERB_HELP}, {"STARTTLS", SMTP_VERB_STARTTLS}, {"AUTH", SMTP_VERB_AUTH},
};

const char *smtp_verb_name(enum smtp_verb verb)
{
	for (size_t i = 0; i < SP_N_ELEMENTS(verbs); i++)
		if (verbs[i].verb == verb)
			return verbs[i].name;
	return "";
}

static const struct {
	unsigned code;
	const char *enhanced;
	const char *text;
} error_table[] = {
    [SMTP_ERR_NONE] = {0, "", ""},
    [SMTP_ERR_LINE_TOO_LONG] = {500, "5.5.2", "Line too long"},
    [SMTP_ERR_BARE_LF] = {500, "5.5.2", "Bare LF in command line, CRLF required"},
    [SMTP_ERR_BARE_CR] = {500, "5.5.2", "Bare CR in command line"},
    [SMTP_ERR_NUL] = {500, "5.5.2", "NUL byte in command line"},
    [SMTP_ERR_EMPTY_LINE] = {500, "5.5.2", "Empty command line"},
    [SMTP_ERR_UNKNOWN_VERB] = {500, "5.5.1", "Unknown command"},
    [SMTP_ERR_SYNTAX] = {501, "5.5.2", "Syntax error"},
    [SMTP_ERR_ARGUMENT] = {501, "5.5.4", "Invalid arguments"},
    [SMTP_ERR_SENDER_SYNTAX] = {501, "5.1.7", "Bad sender address syntax"},
    [SMTP_ERR_RCPT_SYNTAX] = {501, "5.1.3", "Bad recipient address syntax"},
    [SMTP_ERR_PARAM_UNKNOWN] = {555, "5.5.4", "Unsupported parameter"},
    [SMTP_ERR_PARAM_INVALID] = {501, "5.5.4", "Invalid parameter"},
    [SMTP_ERR_UTF8_REQUIRED] = {553, "5.6.7", "Non-ASCII address requires SMTPUTF8"},
    [SMTP_ERR_TOO_LARGE] = {552, "5.3.4", "Message size exceeds fixed maximum"},
};

void smtp_error_set(struct smtp_error *err, enum smtp_error_kind kind, enum smtp_verb verb,
                    const char *text)
{
	sp_assert((size_t)kind < SP_N_ELEMENTS(error_table) && kind != SMTP_ERR_NONE);
	err->kind = kind;
	err->code = error_table[kind].code;
	err->enhanced = error_table[kind].enhanced;
	err->text = text != NULL ? text : error_table[kind].text;
	err->verb = verb;
}

/* Parsing context for one line. */
struct cmd_ctx {
	const uint8_t *s; /* the arguments after the verb and its spaces */
	size_t len;
	struct smtp_scratch *scratch;
	struct smtp_event *ev;
	enum smtp_verb verb;
};

static void fail(struct cmd_ctx *c, enum smtp_error_kind kind, const char *text)
{
	memset(&c->ev->cmd, 0, sizeof(c->ev->cmd));
	c->ev->type = SMTP_EVENT_ERROR;
	smtp_error_set(&c->ev->error, kind, c->verb, text);
}

static bool is_alnum(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static size_t skip_spaces(const uint8_t *s, size_t len, size_t i)
{
	while (i < len && s[i] == ' ')
		i++;
	return i;
}

/* Splits the next space-delimited token off c->s starting at *i. */
static struct sp_slice next_token(const struct cmd_ctx *c, size_t *i)
{
	size_t start = skip_spaces(c->s, c->len, *i), end = start;
	while (end < c->len && c->s[end] != ' ')
		end++;
	*i = end;
	return (struct sp_slice){c->s + start, end - start};
}

/* ---- ESMTP parameters ---- */

enum param_bit {
	P_SIZE = 1 << 0,
	P_BODY = 1 << 1,
	P_SMTPUTF8 = 1 << 2,
	P_RET = 1 << 3,
	P_ENVID = 1 << 4,
	P_AUTH = 1 << 5,
	P_NOTIFY = 1 << 6,
	P_ORCPT = 1 << 7,
};

static const struct {
	const char *name;
	enum param_bit bit;
	enum smtp_verb verb;
	bool value; /* takes a value */
} params[] = {
    {"SIZE", P_SIZE, SMTP_VERB_MAIL, true},          {"BODY", P_BODY, SMTP_VERB_MAIL, true},
    {"SMTPUTF8", P_SMTPUTF8, SMTP_VERB_MAIL, false}, {"RET", P_RET, SMTP_VERB_MAIL, true},
    {"ENVID", P_ENVID, SMTP_VERB_MAIL, true},        {"AUTH", P_AUTH, SMTP_VERB_MAIL, true},
    {"NOTIFY", P_NOTIFY, SMTP_VERB_RCPT, true},      {"ORCPT", P_ORCPT, SMTP_VERB_RCPT, true},
};

/* size-value = 1*20DIGIT; values beyond 2^64-1 saturate (the session
 * refuses them with 552 like any other size over its limit). */
static int parse_size_value(struct sp_slice v, uint64_t *size_r)
{
	if (v.len == 0 || v.len > SIZE_DIGITS_MAX)
		return -1;
	uint64_t n = 0;
	for (size_t i = 0; i < v.len; i++) {
		if (v.ptr[i] < '0' || v.ptr[i] > '9')
			return -1;
		unsigned d = (unsigned)(v.ptr[i] - '0');
		n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d;
	}
	*size_r = n;
	return 0;
}

static int parse_notify(struct sp_slice v, unsigned *notify_r)
{
	unsigned bits = 0;
	size_t i = 0;
	while (i <= v.len) {
		size_t start = i;
		while (i < v.len && v.ptr[i] != ',')
			i++;
		struct sp_slice item = {v.ptr + start, i - start};
		if (sp_slice_case_eq_str(item, "NEVER"))
			bits |= SMTP_NOTIFY_NEVER;
		else if (sp_slice_case_eq_str(item, "SUCCESS"))
			bits |= SMTP_NOTIFY_SUCCESS;
		else if (sp_slice_case_eq_str(item, "FAILURE"))
			bits |= SMTP_NOTIFY_FAILURE;
		else if (sp_slice_case_eq_str(item, "DELAY"))
			bits |= SMTP_NOTIFY_DELAY;
		else
			return -1;
		i++; /* the comma, or past the end */
	}
	/* RFC 3461 §4.1: NEVER stands alone. */
	if ((bits & SMTP_NOTIFY_NEVER) && bits != SMTP_NOTIFY_NEVER)
		return -1;
	*notify_r = bits;
	return 0;
}

/* One esmtp-param (RFC 5321 §4.1.2) already split into keyword and value. */
static int parse_param(struct cmd_ctx *c, struct sp_slice key, bool has_value,
                       struct sp_slice value, unsigned *seen)
{
	struct smtp_params *pr = &c->ev->cmd.params;
	size_t k;
	for (k = 0; k < SP_N_ELEMENTS(params); k++)
		if (params[k].verb == c->verb && sp_slice_case_eq_str(key, params[k].name))
			break;
	if (k == SP_N_ELEMENTS(params)) {
		fail(c, SMTP_ERR_PARAM_UNKNOWN, "Unsupported parameter");
		return -1;
	}
	if (*seen & params[k].bit) {
		fail(c, SMTP_ERR_PARAM_INVALID, "Parameter given twice");
		return -1;
	}
	*seen |= params[k].bit;
	if (has_value != params[k].value) {
		fail(c, SMTP_ERR_PARAM_INVALID,
		     has_value ? "Parameter takes no value" : "Parameter needs a value");
		return -1;
	}
	const char *bad = NULL;
	switch (params[k].bit) {
	case P_SIZE:
		pr->has_size = true;
		if (parse_size_value(value, &pr->size) < 0)
			bad = "Invalid SIZE value";
		break;
	case P_BODY:
		if (sp_slice_case_eq_str(value, "7BIT"))
			pr->body = SMTP_BODY_7BIT;
		else if (sp_slice_case_eq_str(value, "8BITMIME"))
			pr->body = SMTP_BODY_8BITMIME;
		else if (sp_slice_case_eq_str(value, "BINARYMIME"))
			pr->body = SMTP_BODY_BINARYMIME;
		else
			bad = "Invalid BODY value";
		break;
	case P_SMTPUTF8:
		pr->smtputf8 = true;
		break;
	case P_RET:
		if (sp_slice_case_eq_str(value, "FULL"))
			pr->ret = SMTP_RET_FULL;
		else if (sp_slice_case_eq_str(value, "HDRS"))
			pr->ret = SMTP_RET_HDRS;
		else
			bad = "Invalid RET value";
		break;
	case P_ENVID:
		pr->has_envid = true;
		if (value.len > ENVID_MAX ||
		    smtp_xtext_decode(value.ptr, value.len, false, c->scratch, &pr->envid) < 0)
			bad = "Invalid ENVID value";
		break;
	case P_AUTH:
		pr->has_auth = true;
		if (smtp_xtext_decode(value.ptr, value.len, false, c->scratch, &pr->auth) < 0)
			bad = "Invalid AUTH value";
		break;
	case P_NOTIFY:
		if (parse_notify(value, &pr->notify) < 0)
			bad = "Invalid NOTIFY value";
		break;
	case P_ORCPT: {
		/* orcpt-parameter = "ORCPT=" addr-type ";" xtext; addr-type is
		 * an atom ("rfc822", or "utf-8" whose unitext may hold UTF-8,
		 * RFC 6533 §3; its \x{..} escapes are passed on as they are). */
		pr->has_orcpt = true;
		const uint8_t *semi = memchr(value.ptr, ';', value.len);
		size_t tlen = semi ? (size_t)(semi - value.ptr) : 0;
		bool type_ok = semi != NULL && tlen > 0 && value.len <= ORCPT_MAX;
		for (size_t i = 0; type_ok && i < tlen; i++)
			type_ok = is_alnum(value.ptr[i]) || value.ptr[i] == '-';
		if (!type_ok) {
			bad = "Invalid ORCPT value";
			break;
		}
		pr->orcpt_type = (struct sp_slice){value.ptr, tlen};
		bool utf8 = sp_slice_case_eq_str(pr->orcpt_type, "utf-8");
		if (smtp_xtext_decode(semi + 1, value.len - tlen - 1, utf8, c->scratch,
		                      &pr->orcpt) < 0 ||
		    pr->orcpt.len == 0)
			bad = "Invalid ORCPT value";
		break;
	}
	}
	if (bad != NULL) {
		fail(c, SMTP_ERR_PARAM_INVALID, bad);
		return -1;
	}
	return 0;
}

/* Mail-parameters / Rcpt-parameters: esmtp-param *(SP esmtp-param). */
static int parse_params(struct cmd_ctx *c, size_t i)
{
	unsigned seen = 0;
	for (;;) {
		i = skip_spaces(c->s, c->len, i);
		if (i >= c->len)
			return 0;
		size_t kstart = i;
		while (i < c->len && c->s[i] != ' ' && c->s[i] != '=')
			i++;
		struct sp_slice key = {c->s + kstart, i - kstart}, value = {c->s + i, 0};
		bool has_value = i < c->len && c->s[i] == '=';
		if (has_value) {
			size_t vstart = ++i;
			while (i < c->len && c->s[i] != ' ')
				i++;
			value = (struct sp_slice){c->s + vstart, i - vstart};
		}
		/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
		bool ok = key.len > 0 && is_alnum(key.ptr[0]);
		for (size_t k = 1; ok && k < key.len; k++)
			ok = is_alnum(key.ptr[k]) || key.ptr[k] == '-';
		/* esmtp-value = 1*(%d33-60 / %d62-126 / UTF8-non-ascii) */
		ok = ok && (!has_value || value.len > 0);
		for (size_t k = 0; ok && k < value.len;) {
			uint8_t b = value.ptr[k];
			size_t n = b >= 0x80 ? smtp_utf8_seq_len(value.ptr + k, value.len - k) : 1;
			ok = n > 0 && (b >= 0x80 || (b >= 33 && b <= 126 && b != '='));
			k += n;
		}
		if (!ok) {
			fail(c, SMTP_ERR_PARAM_INVALID, "Malformed parameter");
			return -1;
		}
		if (parse_param(c, key, has_value, value, &seen) < 0)
			return -1;
	}
}

/* ---- commands ---- */

static void parse_mail_rcpt(struct cmd_ctx *c)
{
	bool mail = c->verb == SMTP_VERB_MAIL;
	const char *prefix = mail ? "FROM:" : "TO:";
	size_t plen = strlen(prefix);
	enum smtp_error_kind addr_err = mail ? SMTP_ERR_SENDER_SYNTAX : SMTP_ERR_RCPT_SYNTAX;
	if (c->len < plen || strncasecmp((const char *)c->s, prefix, plen) != 0) {
		fail(c, SMTP_ERR_SYNTAX,
		     mail ? "Syntax: MAIL FROM:<address>" : "Syntax: RCPT TO:<address>");
		return;
	}
	/* A space after the colon is not in the grammar but widely sent. */
	size_t i = skip_spaces(c->s, c->len, plen), used;
	const char *why = NULL;
	struct smtp_command *cmd = &c->ev->cmd;
	if (smtp_path_parse(c->s + i, c->len - i, mail ? SMTP_PATH_REVERSE : SMTP_PATH_FORWARD,
	                    c->scratch, &cmd->path, &used, &why) < 0) {
		fail(c, addr_err, why);
		return;
	}
	i += used;
	if (i < c->len && c->s[i] != ' ') {
		fail(c, addr_err, "Unexpected text after address");
		return;
	}
	if (parse_params(c, i) < 0)
		return;
	/* RFC 6531 §3.4: a non-ASCII reverse path needs SMTPUTF8 on MAIL. */
	if (mail && cmd->path.utf8 && !cmd->params.smtputf8)
		fail(c, SMTP_ERR_UTF8_REQUIRED, NULL);
}

static void parse_hello(struct cmd_ctx *c)
{
	size_t i = 0;
	struct sp_slice domain = next_token(c, &i);
	if (domain.len == 0) {
		fail(c, SMTP_ERR_ARGUMENT, "Domain name required");
		return;
	}
	/* The greeting comes before SMTPUTF8 is known: ASCII only. */
	if (i < c->len || !smtp_domain_is_valid(domain.ptr, domain.len, false)) {
		fail(c, SMTP_ERR_ARGUMENT, "Invalid domain name");
		return;
	}
	c->ev->cmd.arg = domain;
}

static void parse_bdat(struct cmd_ctx *c)
{
	size_t i = 0;
	struct sp_slice size = next_token(c, &i), last = next_token(c, &i);
	uint64_t n;
	if (sp_parse_u64_slice(size, UINT64_MAX, &n) < 0) {
		fail(c, SMTP_ERR_ARGUMENT, "Syntax: BDAT size [LAST]");
		return;
	}
	if ((last.len > 0 && !sp_slice_case_eq_str(last, "LAST")) || i < c->len) {
		fail(c, SMTP_ERR_ARGUMENT, "Syntax: BDAT size [LAST]");
		return;
	}
	c->ev->cmd.bdat_size = n;
	c->ev->cmd.bdat_last = last.len > 0;
}

/* base64 (RFC 4648 §4) with padding, or "=" for an empty response. */
static bool is_base64(struct sp_slice s)
{
	if (s.len == 1 && s.ptr[0] == '=')
		return true;
	if (s.len == 0 || s.len % 4 != 0)
		return false;
	size_t pad = 0;
	for (size_t i = 0; i < s.len; i++) {
		uint8_t b = s.ptr[i];
		if (b == '=') {
			pad++;
		} else if (pad > 0 || !(is_alnum(b) || b == '+' || b == '/')) {
			return false;
		}
	}
	return pad <= 2;
}

static void parse_auth(struct cmd_ctx *c)
{
	size_t i = 0;
	struct sp_slice mech = next_token(c, &i), resp = next_token(c, &i);
	bool ok = mech.len > 0 && mech.len <= MECH_MAX && i == c->len;
	for (size_t k = 0; ok && k < mech.len; k++)
		ok = is_alnum(mech.ptr[k]) || mech.ptr[k] == '-' || mech.ptr[k] == '_';
	if (!ok) {
		fail(c, SMTP_ERR_ARGUMENT, "Syntax: AUTH mechanism [initial-response]");
		return;
	}
	if (resp.len > 0 && !is_base64(resp)) {
		fail(c, SMTP_ERR_SYNTAX, "Invalid base64 data"); /* RFC 4954 §4 */
		return;
	}
	c->ev->cmd.arg = mech;
	c->ev->cmd.has_auth_response = resp.len > 0;
	c->ev->cmd.auth_response = (struct sp_slice){resp.ptr, resp.len == 1 ? 0 : resp.len};
}

void smtp_command_parse(enum smtp_mode mode, const uint8_t *line, size_t len,
                        struct smtp_scratch *scratch, struct smtp_event *ev)
{
	struct cmd_ctx c = {.scratch = scratch, .ev = ev, .verb = SMTP_VERB_NONE};
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	size_t vlen = 0;
	while (vlen < len && line[vlen] != ' ')
		vlen++;
	struct sp_slice vtext = {line, vlen};
	for (size_t i = 0; i < SP_N_ELEMENTS(verbs); i++)
		if (sp_slice_case_eq_str(vtext, verbs[i].name))
			c.verb = verbs[i].verb;
	size_t args = skip_spaces(line, len, vlen);
	c.s = line + args;
	c.len = len - args;

	ev->type = SMTP_EVENT_COMMAND;
	ev->cmd.verb = c.verb;
	if (len == 0) {
		fail(&c, SMTP_ERR_EMPTY_LINE, NULL);
		return;
	}
	switch (c.verb) {
	case SMTP_VERB_NONE:
		fail(&c, SMTP_ERR_UNKNOWN_VERB, NULL);
		return;
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		if (mode == SMTP_MODE_LMTP) {
			/* RFC 2033 §4.1: an LMTP server must not accept them. */
			fail(&c, SMTP_ERR_UNKNOWN_VERB, "Unknown command, use LHLO for LMTP");
			return;
		}
		parse_hello(&c);
		return;
	case SMTP_VERB_LHLO:
		if (mode != SMTP_MODE_LMTP) {
			fail(&c, SMTP_ERR_UNKNOWN_VERB, NULL);
			return;
		}
		parse_hello(&c);
		return;
	case SMTP_VERB_MAIL:
	case SMTP_VERB_RCPT:
		parse_mail_rcpt(&c);
		return;
	case SMTP_VERB_DATA:
	case SMTP_VERB_RSET:
	case SMTP_VERB_QUIT:
	case SMTP_VERB_STARTTLS:
		if (c.len > 0)
			fail(&c, SMTP_ERR_ARGUMENT, "No arguments allowed");
		return;
	case SMTP_VERB_NOOP:
	case SMTP_VERB_HELP:
		ev->cmd.arg = (struct sp_slice){c.s, c.len};
		return;
	case SMTP_VERB_VRFY:
	case SMTP_VERB_EXPN:
		if (c.len == 0) {
			fail(&c, SMTP_ERR_ARGUMENT, "Argument required");
			return;
		}
		ev->cmd.arg = (struct sp_slice){c.s, c.len};
		return;
	case SMTP_VERB_BDAT:
		parse_bdat(&c);
		return;
	case SMTP_VERB_AUTH:
		parse_auth(&c);
		return;
	}
}
