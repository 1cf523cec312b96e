/* SQL functions registered on every mailbox connection:
 *   x REGEXP p / regexp(p, x)   PCRE2 (UTF, match limit): a pattern that
 *                               backtracks past STORE_REGEX_MATCH_LIMIT
 *                               stops the statement with an error
 *   sp_header(headers, name)    the values of header field name in the
 *                               "Name: value\n" text the index keeps
 *   sp_icontains(text, needle)  ASCII case-insensitive substring, the
 *                               i;ascii-casemap of RFC 9051 §6.4.4
 *   sp_uid_in(uid, set)         uid is in a bound struct store_uidset
 *   sp_address_text(value)      an address-list value as parsed
 *                               (mime_address_text); NULL for NULL */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "store/store_private.h"
#include "mime/mime_decode.h"

#include <pcre2.h>
#include <string.h>
#include <strings.h>

#define REGEX_LIMIT_MSG "regular expression match limit exceeded"

struct regex_cache {
	pcre2_code *code;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
};

static void regex_cache_free(void *p)
{
	struct regex_cache *rc = p;
	pcre2_match_data_free(rc->md);
	pcre2_match_context_free(rc->mctx);
	pcre2_code_free(rc->code);
	free(rc);
}

static void fn_regexp(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL ||
	    sqlite3_value_type(argv[1]) == SQLITE_NULL) {
		sqlite3_result_int(ctx, 0);
		return;
	}
	struct regex_cache *rc = sqlite3_get_auxdata(ctx, 0);
	if (rc == NULL) {
		const unsigned char *pat = sqlite3_value_text(argv[0]);
		int plen = sqlite3_value_bytes(argv[0]);
		int err;
		PCRE2_SIZE erroff;
		pcre2_code *code =
		    pcre2_compile(pat, (PCRE2_SIZE)plen, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err,
		                  &erroff, NULL);
		if (code == NULL) {
			sqlite3_result_error(ctx, "invalid regular expression", -1);
			return;
		}
		rc = sp_calloc(1, sizeof(*rc));
		rc->code = code;
		rc->md = pcre2_match_data_create_from_pattern(code, NULL);
		rc->mctx = pcre2_match_context_create(NULL);
		pcre2_set_match_limit(rc->mctx, STORE_REGEX_MATCH_LIMIT);
		pcre2_set_depth_limit(rc->mctx, 10000);
		pcre2_set_heap_limit(rc->mctx, 20 * 1024); /* KiB */
		sqlite3_set_auxdata(ctx, 0, rc, regex_cache_free);
		rc = sqlite3_get_auxdata(ctx, 0);
		if (rc == NULL) {
			sqlite3_result_error_nomem(ctx);
			return;
		}
	}
	const unsigned char *subj = sqlite3_value_text(argv[1]);
	int slen = sqlite3_value_bytes(argv[1]);
	int m = pcre2_match(rc->code, subj, (PCRE2_SIZE)slen, 0, 0, rc->md, rc->mctx);
	if (m >= 0) {
		sqlite3_result_int(ctx, 1);
	} else if (m == PCRE2_ERROR_NOMATCH) {
		sqlite3_result_int(ctx, 0);
	} else if (m == PCRE2_ERROR_MATCHLIMIT || m == PCRE2_ERROR_DEPTHLIMIT ||
	           m == PCRE2_ERROR_HEAPLIMIT) {
		sqlite3_result_error(ctx, REGEX_LIMIT_MSG, -1);
	} else {
		sqlite3_result_int(ctx, 0);
	}
}

/* Lines "Name: value" whose name is name (case-insensitive). */
static void fn_header(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	const char *h = (const char *)sqlite3_value_text(argv[0]);
	const char *name = (const char *)sqlite3_value_text(argv[1]);
	if (h == NULL || name == NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	size_t nlen = strlen(name);
	struct sp_buf out = SP_BUF_INIT;
	bool found = false;
	for (const char *line = h; *line != '\0';) {
		const char *eol = strchr(line, '\n');
		size_t len = eol != NULL ? (size_t)(eol - line) : strlen(line);
		if (len >= nlen + 2 && strncasecmp(line, name, nlen) == 0 && line[nlen] == ':' &&
		    line[nlen + 1] == ' ') {
			if (found)
				sp_buf_append_byte(&out, '\n');
			sp_buf_append(&out, line + nlen + 2, len - nlen - 2);
			found = true;
		}
		line += len + (eol != NULL);
	}
	if (found)
		sqlite3_result_text(ctx, sp_buf_cstr(&out), (int)out.len, SQLITE_TRANSIENT);
	else
		sqlite3_result_null(ctx);
	sp_buf_deinit(&out);
}

static void fn_icontains(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	const char *t = (const char *)sqlite3_value_text(argv[0]);
	const char *n = (const char *)sqlite3_value_text(argv[1]);
	if (t == NULL || n == NULL) {
		sqlite3_result_int(ctx, 0);
		return;
	}
	sqlite3_result_int(ctx, strcasestr(t, n) != NULL);
}

static void fn_address_text(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	const unsigned char *v = sqlite3_value_text(argv[0]);
	if (v == NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	struct sp_buf out = SP_BUF_INIT;
	mime_address_text(v, (size_t)sqlite3_value_bytes(argv[0]), &out);
	sqlite3_result_text(ctx, sp_buf_cstr(&out), (int)out.len, SQLITE_TRANSIENT);
	sp_buf_deinit(&out);
}

static void fn_uid_in(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	const struct store_uidset *set = sqlite3_value_pointer(argv[1], "store_uidset");
	if (set == NULL) {
		sqlite3_result_int(ctx, 0);
		return;
	}
	sqlite3_result_int(ctx, store_uidset_has(set, (uint32_t)sqlite3_value_int64(argv[0])));
}

int store_sql_functions(struct store_session *s)
{
	int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
	if (sqlite3_create_function(s->db, "regexp", 2, flags, NULL, fn_regexp, NULL, NULL) !=
	        SQLITE_OK ||
	    sqlite3_create_function(s->db, "sp_header", 2, flags, NULL, fn_header, NULL, NULL) !=
	        SQLITE_OK ||
	    sqlite3_create_function(s->db, "sp_icontains", 2, flags, NULL, fn_icontains, NULL,
	                            NULL) != SQLITE_OK ||
	    sqlite3_create_function(s->db, "sp_uid_in", 2, SQLITE_UTF8, NULL, fn_uid_in, NULL,
	                            NULL) != SQLITE_OK ||
	    sqlite3_create_function(s->db, "sp_address_text", 1, flags, NULL, fn_address_text, NULL,
	                            NULL) != SQLITE_OK)
		return store_fail_db(s, NULL, "functions");
	return 0;
}

bool store_regex_limit_error(const char *msg)
{
	return msg != NULL && strstr(msg, REGEX_LIMIT_MSG) != NULL;
}
