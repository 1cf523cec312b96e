/* SORT (RFC 5256 §3) and SORT=DISPLAY (RFC 5957): the command's criteria
 * and charset, the keys of a message (base subject RFC 5256 §2.1, sent
 * date §2.2, first address, display name RFC 5957 §3, msg-ids for THREAD
 * §5), i;ascii-casemap comparison (RFC 4790 §9.2) and the ordering. */
#include "imap/imap_sort.h"

#include "lib/sp_str.h"
#include "mime/mime_decode.h"

#include <string.h>

/* ---- argument parsing ---- */

static int bad(struct imap_error *err, const char *text)
{
	err->kind = IMAP_ERROR_BAD;
	err->code = NULL;
	err->text = text;
	err->tag = NULL;
	return -1;
}

/* RFC 5256 §3: the charset is mandatory; US-ASCII and UTF-8 are the ones
 * we accept (RFC 9051 §6.4.4: NO [BADCHARSET] lists the supported ones).
 * Then at least one search key, which must not look like a SEARCH option. */
static int parse_charset_and_keys(const struct imap_arg *args, size_t count, size_t pos,
                                  struct sp_arena *arena, const char **charset_r, bool *utf8_r,
                                  size_t *search_start_r, struct imap_error *err)
{
	struct sp_slice cs;

	if (pos >= count)
		return bad(err, "Missing charset");
	if (!imap_arg_get_astring(&args[pos], &cs))
		return bad(err, "Invalid charset");
	if (sp_slice_case_eq_str(cs, "UTF-8")) {
		*utf8_r = true;
	} else if (sp_slice_case_eq_str(cs, "US-ASCII")) {
		*utf8_r = false;
	} else {
		err->kind = IMAP_ERROR_NO;
		err->code = "BADCHARSET (US-ASCII UTF-8)";
		err->text = "Unsupported charset";
		err->tag = NULL;
		return -1;
	}
	*charset_r = sp_arena_strndup(arena, (const char *)cs.ptr, cs.len);
	pos++;
	if (pos >= count)
		return bad(err, "Missing search keys");
	/* imap_search_parse would read these as SEARCH's own options. */
	if (imap_arg_atom_equals(&args[pos], "CHARSET") ||
	    imap_arg_atom_equals(&args[pos], "RETURN"))
		return bad(err, "Unknown search key");
	*search_start_r = pos;
	return 0;
}

int imap_sort_parse(const struct imap_arg *args, size_t count, struct sp_arena *arena,
                    struct imap_sort_program *prog, size_t *search_start_r, struct imap_error *err)
{
	static const struct {
		const char *name;
		enum imap_sort_criterion c;
	} names[] = {
	    {"ARRIVAL", IMAP_SORT_ARRIVAL},
	    {"CC", IMAP_SORT_CC},
	    {"DATE", IMAP_SORT_DATE},
	    {"FROM", IMAP_SORT_FROM},
	    {"SIZE", IMAP_SORT_SIZE},
	    {"SUBJECT", IMAP_SORT_SUBJECT},
	    {"TO", IMAP_SORT_TO},
	    {"DISPLAYFROM", IMAP_SORT_DISPLAYFROM},
	    {"DISPLAYTO", IMAP_SORT_DISPLAYTO},
	};
	bool reverse = false;

	memset(prog, 0, sizeof(*prog));
	if (count == 0)
		return bad(err, "Missing sort criteria");
	if (args[0].type != IMAP_ARG_LIST)
		return bad(err, "Sort criteria must be a parenthesised list");
	/* RFC 5256 §4: sort-criteria = "(" sort-criterion *(SP sort-criterion)
	 * ")"; sort-criterion = ["REVERSE" SP] sort-key */
	for (size_t i = 0; i < args[0].count; i++) {
		const struct imap_arg *a = &args[0].list[i];
		if (imap_arg_atom_equals(a, "REVERSE")) {
			if (reverse)
				return bad(err, "REVERSE must be followed by a sort key");
			reverse = true;
			continue;
		}
		size_t k = 0;
		while (k < SP_N_ELEMENTS(names) && !imap_arg_atom_equals(a, names[k].name))
			k++;
		if (k == SP_N_ELEMENTS(names))
			return bad(err, "Unknown sort criterion");
		if (prog->count == IMAP_SORT_MAX_KEYS)
			return bad(err, "Too many sort criteria");
		prog->keys[prog->count].criterion = names[k].c;
		prog->keys[prog->count].reverse = reverse;
		prog->count++;
		reverse = false;
	}
	if (reverse)
		return bad(err, "REVERSE must be followed by a sort key");
	if (prog->count == 0)
		return bad(err, "Empty sort criteria");
	return parse_charset_and_keys(args, count, 1, arena, &prog->charset, &prog->utf8,
	                              search_start_r, err);
}

int imap_thread_parse(const struct imap_arg *args, size_t count, struct sp_arena *arena,
                      struct imap_thread_program *prog, size_t *search_start_r,
                      struct imap_error *err)
{
	memset(prog, 0, sizeof(*prog));
	if (count == 0)
		return bad(err, "Missing thread algorithm");
	if (imap_arg_atom_equals(&args[0], "ORDEREDSUBJECT"))
		prog->algorithm = IMAP_THREAD_ORDEREDSUBJECT;
	else if (imap_arg_atom_equals(&args[0], "REFERENCES"))
		prog->algorithm = IMAP_THREAD_REFERENCES;
	else
		return bad(err, "Unknown thread algorithm");
	return parse_charset_and_keys(args, count, 1, arena, &prog->charset, &prog->utf8,
	                              search_start_r, err);
}

/* ---- i;ascii-casemap ---- */

int imap_sort_casemap_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = SP_MIN(alen, blen);

	for (size_t i = 0; i < n; i++) {
		uint8_t x = sp_ascii_upper((uint8_t)a[i]), y = sp_ascii_upper((uint8_t)b[i]);
		if (x != y)
			return x < y ? -1 : 1;
	}
	return (alen > blen) - (alen < blen);
}

/* ---- base subject (RFC 5256 §2.1) ---- */

static bool prefix_ci(const char *s, size_t len, const char *word)
{
	size_t n = strlen(word);

	if (len < n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (sp_ascii_lower((uint8_t)s[i]) != (uint8_t)word[i])
			return false;
	}
	return true;
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP at s[a..b): its length or 0.
 * BLOBCHAR is any CHAR8 but '[' and ']' (and NUL, which CHAR8 is not). */
static size_t blob_len(const char *s, size_t a, size_t b)
{
	if (a >= b || s[a] != '[')
		return 0;
	size_t q = a + 1;
	while (q < b && s[q] != ']') {
		if (s[q] == '[' || s[q] == '\0')
			return 0;
		q++;
	}
	if (q >= b)
		return 0;
	q++;
	while (q < b && s[q] == ' ')
		q++;
	return q - a;
}

/* subj-leader = (*subj-blob subj-refwd) / WSP at s[a..b): its length or
 * 0; subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" */
static size_t leader_len(const char *s, size_t a, size_t b, bool *refwd_r)
{
	size_t q = a, k;

	if (a < b && s[a] == ' ')
		return 1;
	while ((k = blob_len(s, q, b)) > 0)
		q += k;
	if (prefix_ci(s + q, b - q, "re")) {
		q += 2;
	} else if (prefix_ci(s + q, b - q, "fw")) {
		q += 2;
		if (q < b && sp_ascii_lower((uint8_t)s[q]) == 'd')
			q++;
	} else {
		return 0;
	}
	while (q < b && s[q] == ' ')
		q++;
	q += blob_len(s, q, b);
	if (q >= b || s[q] != ':')
		return 0;
	*refwd_r = true;
	return q + 1 - a;
}

const char *imap_sort_base_subject(const uint8_t *subject, size_t len, struct sp_arena *arena,
                                   size_t *len_r, bool *is_reply_r)
{
	struct sp_buf dec = SP_BUF_INIT;
	bool reply = false, space = false;
	size_t n = 0;

	/* (1) encoded-words to UTF-8; tabs and continuations to a space;
	 * runs of spaces to one. */
	mime_rfc2047_decode(subject, len, &dec);
	char *s = sp_arena_alloc(arena, dec.len + 1);
	for (size_t i = 0; i < dec.len; i++) {
		uint8_t c = dec.data[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			if (!space)
				s[n++] = ' ';
			space = true;
		} else {
			s[n++] = (char)c;
			space = false;
		}
	}
	sp_buf_deinit(&dec);

	size_t a = 0, b = n, k;
	for (;;) {
		/* (2) subj-trailer = "(fwd)" / WSP, repeatedly */
		for (;;) {
			if (b > a && s[b - 1] == ' ') {
				b--;
			} else if (b - a >= 5 && prefix_ci(s + b - 5, 5, "(fwd)")) {
				b -= 5;
				reply = true;
			} else {
				break;
			}
		}
		/* (3)-(5): leaders, then a leading blob if text remains after
		 * it, until neither matches. The blob takes its trailing WSP
		 * and the trailers are gone, so "text remains" means a
		 * non-empty subj-base. */
		for (;;) {
			if ((k = leader_len(s, a, b, &reply)) > 0) {
				a += k;
				continue;
			}
			if ((k = blob_len(s, a, b)) > 0 && a + k < b) {
				a += k;
				continue;
			}
			break;
		}
		/* (6) subj-fwd-hdr "[fwd:" ... subj-fwd-trl "]": unwrap, redo (2) */
		if (b - a >= 6 && prefix_ci(s + a, b - a, "[fwd:") && s[b - 1] == ']') {
			a += 5;
			b -= 1;
			reply = true;
			continue;
		}
		break;
	}
	s[b] = '\0';
	*len_r = b - a;
	if (is_reply_r != NULL)
		*is_reply_r = reply;
	return s + a;
}

/* ---- keys of one message ---- */

static const char *field_value(const struct mime_message *m, const char *name,
                               struct sp_arena *scratch, size_t *len_r)
{
	const struct mime_field *f = mime_part_field(m, m->root, name);

	return f == NULL ? NULL : mime_field_value(m, f, scratch, len_r);
}

/* The local part as a string: the quotes that mime_address keeps around
 * quoted-strings are removed and quoted pairs unescaped (RFC 5322 §3.2.4),
 * as addr-mailbox in an ENVELOPE carries the content. */
static const char *unquote_local(const char *s, struct sp_arena *arena)
{
	if (s == NULL)
		return "";
	size_t n = strlen(s), o = 0;
	char *r = sp_arena_alloc(arena, n + 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			continue;
		if (s[i] == '\\' && i + 1 < n)
			i++;
		r[o++] = s[i];
	}
	r[o] = '\0';
	return r;
}

/* The first address of an address field, as its ENVELOPE shows it (a
 * group's start marker carries the group name as addr-mailbox), or NULL. */
static const struct mime_address *first_address(const struct mime_message *m, const char *name,
                                                struct sp_arena *scratch)
{
	size_t len;
	const char *v = field_value(m, name, scratch, &len);
	if (v == NULL)
		return NULL;
	unsigned count;
	const struct mime_address *list =
	    mime_address_parse((const uint8_t *)v, len, scratch, &count);
	for (unsigned i = 0; i < count; i++) {
		if (!list[i].group_end)
			return &list[i];
	}
	return NULL;
}

/* RFC 5957 §3: the decoded addr-name when not empty (undecodable words
 * stay as they are: mime_rfc2047_decode is lenient), else
 * addr-mailbox@addr-host, else addr-mailbox, else "". */
static const char *display_value(const struct mime_address *ad, struct sp_arena *arena)
{
	if (ad == NULL)
		return "";
	if (ad->name != NULL && ad->name[0] != '\0') {
		struct sp_buf b = SP_BUF_INIT;
		mime_rfc2047_decode((const uint8_t *)ad->name, strlen(ad->name), &b);
		if (b.len > 0) {
			const char *r = sp_arena_strndup(arena, (const char *)b.data, b.len);
			sp_buf_deinit(&b);
			return r;
		}
		sp_buf_deinit(&b);
	}
	const char *mbox = unquote_local(ad->mailbox, arena);
	if (ad->mailbox != NULL && ad->domain != NULL)
		return sp_arena_printf(arena, "%s@%s", mbox, ad->domain);
	return mbox;
}

/* Collects the msg-ids ("<" id ">") of v into out, without brackets and
 * normalised: RFC 5256 §5 says <"01KF8JCEOCBS0045PS"@xxx.yyy.com> and
 * <01KF8JCEOCBS0045PS@xxx.yyy.com> MUST be the same Message ID, so quotes
 * are removed and quoted pairs unescaped; whitespace outside quotes
 * (folded obs-id) is removed too. Text outside brackets, empty ids and an
 * unterminated last id are skipped. Stops after max; returns the number
 * stored. An id takes at least 3 bytes, so max = len / 3 + 1 holds all. */
static size_t scan_msgids(const char *v, size_t len, struct sp_arena *arena, const char **out,
                          size_t max)
{
	size_t i = 0, found = 0;
	char *tmp = sp_arena_alloc(arena, len + 1);

	while (i < len && found < max) {
		if (v[i] != '<') {
			i++;
			continue;
		}
		size_t j = i + 1, n = 0;
		bool quoted = false;
		for (; j < len; j++) {
			char ch = v[j];
			if (quoted) {
				if (ch == '"')
					quoted = false;
				else if (ch == '\\' && j + 1 < len)
					tmp[n++] = v[++j];
				else
					tmp[n++] = ch;
				continue;
			}
			if (ch == '>' || ch == '<')
				break;
			if (ch == '"')
				quoted = true;
			else if (ch != ' ' && ch != '\t')
				tmp[n++] = ch;
		}
		if (j >= len)
			break;
		if (v[j] == '<') {
			i = j; /* "<junk <id>": start again at the inner bracket */
			continue;
		}
		if (n > 0)
			out[found++] = sp_arena_strndup(arena, tmp, n);
		i = j + 1;
	}
	return found;
}

static void extract(const struct imap_sort_msg *msg, unsigned want, struct sp_arena *arena,
                    struct sp_arena *scratch, struct imap_sort_keys *k)
{
	memset(k, 0, sizeof(*k));
	k->base_subject = k->from = k->to = k->cc = "";
	k->display_from = k->display_to = "";
	k->sent_date = msg->internal_date;
	if (msg->header_len == 0)
		return;

	struct mime_message *m;
	const char *v;
	size_t len;
	mime_parse(msg->header, msg->header_len, NULL, scratch, &m);
	if ((want & IMAP_SORT_WANT_SUBJECT) != 0 &&
	    (v = field_value(m, "subject", scratch, &len)) != NULL)
		k->base_subject = imap_sort_base_subject((const uint8_t *)v, len, arena,
		                                         &k->base_subject_len, &k->is_reply_or_fwd);
	if ((want & IMAP_SORT_WANT_DATE) != 0 &&
	    (v = field_value(m, "date", scratch, &len)) != NULL) {
		/* RFC 5256 §2.2: an unparsable Date falls back to INTERNALDATE;
		 * mime_date_parse already gives UTC. */
		time_t t;
		int off;
		if (mime_date_parse((const uint8_t *)v, len, &t, &off) == 0)
			k->sent_date = t;
	}
	if ((want & (IMAP_SORT_WANT_ADDR | IMAP_SORT_WANT_DISPLAY)) != 0) {
		const struct mime_address *from = first_address(m, "from", scratch);
		const struct mime_address *to = first_address(m, "to", scratch);
		if ((want & IMAP_SORT_WANT_ADDR) != 0) {
			const struct mime_address *cc = first_address(m, "cc", scratch);
			k->from = from == NULL ? "" : unquote_local(from->mailbox, arena);
			k->to = to == NULL ? "" : unquote_local(to->mailbox, arena);
			k->cc = cc == NULL ? "" : unquote_local(cc->mailbox, arena);
		}
		if ((want & IMAP_SORT_WANT_DISPLAY) != 0) {
			k->display_from = display_value(from, arena);
			k->display_to = display_value(to, arena);
		}
	}
	if ((want & IMAP_SORT_WANT_IDS) != 0) {
		const char *one[1];
		if ((v = field_value(m, "message-id", scratch, &len)) != NULL &&
		    scan_msgids(v, len, scratch, one, 1) > 0)
			k->message_id = sp_arena_strdup(arena, one[0]);
		/* RFC 5256 §5 step 1: the References msg-ids, or when there
		 * are none the first valid one of In-Reply-To. */
		if ((v = field_value(m, "references", scratch, &len)) != NULL) {
			size_t max = len / 3 + 1;
			const char **refs = sp_arena_alloc(scratch, max * sizeof(*refs));
			size_t n = scan_msgids(v, len, scratch, refs, max);
			/* keep the last ones: the nearest ancestors */
			size_t skip = n > IMAP_THREAD_MAX_REFS ? n - IMAP_THREAD_MAX_REFS : 0;
			if (n > skip) {
				k->n_refs = n - skip;
				k->refs = sp_arena_alloc(arena, k->n_refs * sizeof(*k->refs));
				for (size_t i = 0; i < k->n_refs; i++)
					k->refs[i] = sp_arena_strdup(arena, refs[skip + i]);
			}
		}
		if (k->n_refs == 0 && (v = field_value(m, "in-reply-to", scratch, &len)) != NULL &&
		    scan_msgids(v, len, scratch, one, 1) > 0) {
			k->refs = sp_arena_alloc(arena, sizeof(*k->refs));
			k->refs[0] = sp_arena_strdup(arena, one[0]);
			k->n_refs = 1;
		}
	}
}

void imap_sort_keys_extract(const struct imap_sort_msg *msg, unsigned want, struct sp_arena *arena,
                            struct imap_sort_keys *keys_r)
{
	struct sp_arena *scratch = sp_arena_new(16384);
	extract(msg, want, arena, scratch, keys_r);
	sp_arena_free(&scratch);
}

struct imap_sort_keys *imap_sort_keys_extract_all(const struct imap_sort_msg *msgs, size_t n,
                                                  unsigned want, struct sp_arena *arena)
{
	struct imap_sort_keys *keys = sp_arena_alloc(arena, (n == 0 ? 1 : n) * sizeof(*keys));
	/* One scratch arena reset per message: the MIME tree and unfolded
	 * values of 100,000 messages are never alive at once. */
	struct sp_arena *scratch = sp_arena_new(16384);
	for (size_t i = 0; i < n; i++) {
		extract(&msgs[i], want, arena, scratch, &keys[i]);
		sp_arena_reset(scratch);
	}
	sp_arena_free(&scratch);
	return keys;
}

/* ---- stable merge sort of indices ---- */

static void merge_sort(size_t *v, size_t *tmp, size_t n, imap_sort_cmp_fn *cmp, const void *ctx)
{
	if (n < 2)
		return;
	if (n <= 8) {
		/* insertion sort: stable */
		for (size_t i = 1; i < n; i++) {
			size_t x = v[i], j = i;
			while (j > 0 && cmp(v[j - 1], x, ctx) > 0) {
				v[j] = v[j - 1];
				j--;
			}
			v[j] = x;
		}
		return;
	}
	size_t h = n / 2;
	merge_sort(v, tmp, h, cmp, ctx);
	merge_sort(v + h, tmp, n - h, cmp, ctx);
	if (cmp(v[h - 1], v[h], ctx) <= 0)
		return;
	memcpy(tmp, v, h * sizeof(*v));
	size_t i = 0, j = h, o = 0;
	while (i < h && j < n) {
		if (cmp(v[j], tmp[i], ctx) < 0)
			v[o++] = v[j++];
		else
			v[o++] = tmp[i++];
	}
	while (i < h)
		v[o++] = tmp[i++];
}

void imap_sort_indices(size_t *items, size_t n, imap_sort_cmp_fn *cmp, const void *ctx,
                       struct sp_arena *arena)
{
	if (n < 2)
		return;
	size_t *tmp = sp_arena_alloc(arena, (n / 2 + 1) * sizeof(*tmp));
	merge_sort(items, tmp, n, cmp, ctx);
}

/* ---- SORT ---- */

struct sort_ctx {
	const struct imap_sort_msg *msgs;
	const struct imap_sort_keys *keys;
	const struct imap_sort_program *prog;
};

static int cmp_num(uint64_t a, uint64_t b)
{
	return (a > b) - (a < b);
}

static int cmp_time(time_t a, time_t b)
{
	return (a > b) - (a < b);
}

static int cmp_str(const char *a, const char *b)
{
	return imap_sort_casemap_cmp(a, strlen(a), b, strlen(b));
}

static int sort_cmp(size_t x, size_t y, const void *vctx)
{
	const struct sort_ctx *c = vctx;
	const struct imap_sort_msg *a = &c->msgs[x], *b = &c->msgs[y];
	const struct imap_sort_keys *ka = &c->keys[x], *kb = &c->keys[y];

	for (size_t i = 0; i < c->prog->count; i++) {
		int r = 0;
		switch (c->prog->keys[i].criterion) {
		case IMAP_SORT_ARRIVAL:
			r = cmp_time(a->internal_date, b->internal_date);
			break;
		case IMAP_SORT_DATE:
			r = cmp_time(ka->sent_date, kb->sent_date);
			break;
		case IMAP_SORT_SIZE:
			r = cmp_num(a->size, b->size);
			break;
		case IMAP_SORT_SUBJECT:
			r = imap_sort_casemap_cmp(ka->base_subject, ka->base_subject_len,
			                          kb->base_subject, kb->base_subject_len);
			break;
		case IMAP_SORT_FROM:
			r = cmp_str(ka->from, kb->from);
			break;
		case IMAP_SORT_TO:
			r = cmp_str(ka->to, kb->to);
			break;
		case IMAP_SORT_CC:
			r = cmp_str(ka->cc, kb->cc);
			break;
		case IMAP_SORT_DISPLAYFROM:
			r = cmp_str(ka->display_from, kb->display_from);
			break;
		case IMAP_SORT_DISPLAYTO:
			r = cmp_str(ka->display_to, kb->display_to);
			break;
		}
		if (r != 0)
			return c->prog->keys[i].reverse ? -r : r;
	}
	/* RFC 5256 §3: equal messages stay in mailbox (sequence) order,
	 * whatever REVERSE said about the keys. */
	return cmp_num(a->seq, b->seq);
}

size_t *imap_sort_run(const struct imap_sort_msg *msgs, size_t n,
                      const struct imap_sort_program *prog, struct sp_arena *arena)
{
	if (n == 0)
		return NULL;
	unsigned want = 0;
	for (size_t i = 0; i < prog->count; i++) {
		switch (prog->keys[i].criterion) {
		case IMAP_SORT_ARRIVAL:
		case IMAP_SORT_SIZE:
			break;
		case IMAP_SORT_DATE:
			want |= IMAP_SORT_WANT_DATE;
			break;
		case IMAP_SORT_SUBJECT:
			want |= IMAP_SORT_WANT_SUBJECT;
			break;
		case IMAP_SORT_FROM:
		case IMAP_SORT_TO:
		case IMAP_SORT_CC:
			want |= IMAP_SORT_WANT_ADDR;
			break;
		case IMAP_SORT_DISPLAYFROM:
		case IMAP_SORT_DISPLAYTO:
			want |= IMAP_SORT_WANT_DISPLAY;
			break;
		}
	}
	struct sort_ctx ctx = {
	    .msgs = msgs,
	    .keys = imap_sort_keys_extract_all(msgs, n, want, arena),
	    .prog = prog,
	};
	size_t *order = sp_arena_alloc(arena, n * sizeof(*order));
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	imap_sort_indices(order, n, sort_cmp, &ctx, arena);
	return order;
}

void imap_sort_write(const struct imap_sort_msg *msgs, const size_t *order, size_t n, bool use_uid,
                     struct sp_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		const struct imap_sort_msg *m = &msgs[order[i]];
		sp_buf_printf(out, " %u", (unsigned)(use_uid ? m->uid : m->seq));
	}
}
