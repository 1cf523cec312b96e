/* LIST, LSUB and STATUS: arguments to structs, folders to untagged
 * responses (RFC 9051 §6.3.9, §6.3.11, §7.3.1, §7.3.4; RFC 3501 §6.3.9
 * LSUB; RFC 5258 LIST-EXTENDED; RFC 5819 LIST-STATUS; RFC 6154
 * SPECIAL-USE; RFC 3348 CHILDREN; RFC 6855 UTF8=ACCEPT; RFC 8438
 * STATUS=SIZE; RFC 7162 HIGHESTMODSEQ; RFC 7889 APPENDLIMIT), and the
 * conversions between protocol mailbox names and the store's names.
 *
 * Pure: no store calls, no I/O. The store's names are UTF-8 with '/' as
 * the delimiter and "INBOX" upper-case; on the wire they are modified
 * UTF-7 (RFC 3501 §5.1.3) unless the session enabled UTF8=ACCEPT
 * (IMAP_NAME_UTF8), then UTF-8 (RFC 6855 §3).
 *
 * Errors come back as struct imap_error with kind IMAP_ERROR_BAD and a
 * static text (never the client's name); the tag is left NULL. */
#ifndef IMAP_LIST_H
#define IMAP_LIST_H

#include "imap/imap_parser.h"
#include "store/store.h"

enum imap_name_flags {
	IMAP_NAME_UTF8 = 1u << 0, /* UTF8=ACCEPT enabled: names are UTF-8 */
};

/* ---- Mailbox names ---- */

/* Converts a client's mailbox name (the octets of an astring) to the
 * store's UTF-8 name in arena: modified UTF-7 is decoded (strictly, see
 * imap_utf7.h) unless IMAP_NAME_UTF8, where the octets must be UTF-8.
 * Either way the result may not hold C0/C1 controls, DEL, U+2028 or
 * U+2029 (RFC 6855 §3). Any case of "INBOX", alone or as the first level
 * ("inbox/x"), becomes "INBOX" (RFC 9051 §5.1). 0, or -1 with a static
 * *error_r (for a tagged BAD). Store rules (empty, "//", length) are the
 * store's to check. */
int imap_mailbox_name_decode(struct sp_slice in, unsigned flags, struct sp_arena *arena,
                             const char **name_r, const char **error_r);

/* The same for a command argument, which must be an astring (atom,
 * quoted, non-streamed literal; NIL is the name "NIL"). */
int imap_mailbox_name_from_arg(const struct imap_arg *arg, unsigned flags, struct sp_arena *arena,
                               const char **name_r, struct imap_error *error_r);

/* Appends a store name as a protocol mailbox string: modified UTF-7 (or
 * UTF-8 with IMAP_NAME_UTF8) as a quoted string, or as a synchronizing
 * literal "{n}\r\n..." when it holds CR, LF or NUL. -1 (nothing appended)
 * when name is not valid UTF-8 in UTF-7 mode. */
int imap_mailbox_name_write(const char *name, unsigned flags, struct sp_buf *out);

/* ---- STATUS ---- */

enum imap_status_item {
	IMAP_STATUS_MESSAGES,
	IMAP_STATUS_UIDNEXT,
	IMAP_STATUS_UIDVALIDITY,
	IMAP_STATUS_UNSEEN,
	IMAP_STATUS_DELETED,       /* RFC 9051 */
	IMAP_STATUS_SIZE,          /* RFC 8438 */
	IMAP_STATUS_RECENT,        /* RFC 3501; always 0 (no \Recent) */
	IMAP_STATUS_HIGHESTMODSEQ, /* RFC 7162 §3.1.2.1 */
	IMAP_STATUS_APPENDLIMIT,   /* RFC 7889 §4 */
	IMAP_STATUS_MAILBOXID,     /* RFC 8474 §4.2 */
	IMAP_STATUS_ITEM_COUNT,
};

struct imap_status_items {
	unsigned bits;                         /* 1u << enum imap_status_item */
	uint8_t order[IMAP_STATUS_ITEM_COUNT]; /* as requested, duplicates dropped */
	size_t count;
};

/* Parses a parenthesised, non-empty list of status-att atoms (any case).
 * 0, or -1 with BAD "Unknown STATUS item" / "STATUS items must be a
 * non-empty list" ... */
int imap_status_items_parse(const struct imap_arg *list, struct imap_status_items *items_r,
                            struct imap_error *error_r);

struct imap_status_cmd {
	const char *name; /* the store's UTF-8 name, in arena */
	struct imap_status_items items;
};

/* STATUS mailbox (items) — args after the command name. */
int imap_status_parse(const struct imap_arg *args, size_t count, unsigned flags,
                      struct sp_arena *arena, struct imap_status_cmd *cmd_r,
                      struct imap_error *error_r);

/* Appends `* STATUS "name" (MESSAGES 3 UIDNEXT 7 ...)\r\n`, the items in
 * their requested order, the name from st->folder.name. appendlimit is
 * the folder's APPENDLIMIT; 0 means none and is sent as NIL (RFC 7889). A
 * name that cannot be encoded appends nothing (see imap_mailbox_name_write). */
void imap_status_format(const struct store_status *st, const struct imap_status_items *items,
                        uint64_t appendlimit, unsigned flags, struct sp_buf *out);

/* ---- LIST and LSUB ---- */

enum imap_list_select {
	IMAP_LIST_SEL_SUBSCRIBED = 1u << 0,     /* RFC 5258 §3.1 */
	IMAP_LIST_SEL_REMOTE = 1u << 1,         /* accepted; we have no remote names */
	IMAP_LIST_SEL_RECURSIVEMATCH = 1u << 2, /* needs SUBSCRIBED or SPECIAL-USE */
	IMAP_LIST_SEL_SPECIAL_USE = 1u << 3,    /* RFC 6154 §3 */
};

enum imap_list_return {
	IMAP_LIST_RET_SUBSCRIBED = 1u << 0,
	IMAP_LIST_RET_CHILDREN = 1u << 1,
	IMAP_LIST_RET_SPECIAL_USE = 1u << 2,
	IMAP_LIST_RET_STATUS = 1u << 3, /* RFC 5819; items in status */
};

#define IMAP_LIST_MAX_PATTERNS 100

struct imap_list_cmd {
	bool lsub;
	bool extended;       /* selection options, a pattern list or RETURN used */
	bool delimiter_only; /* basic LIST with an empty pattern (RFC 9051 §6.3.9) */
	unsigned select;     /* imap_list_select bits */
	unsigned ret;        /* imap_list_return bits */
	struct imap_status_items status;
	const char *reference;       /* UTF-8, in arena */
	const char *const *patterns; /* UTF-8, in arena; the empty ones of an
	                              * extended LIST dropped (RFC 5258 §3) */
	size_t n_patterns;
};

/* Parses the arguments of LIST (lsub false) or LSUB (after the command
 * name):
 *   LIST [(sel-opts)] reference (pattern / "(" pattern *(SP pattern) ")")
 *        [RETURN (ret-opts)]
 *   LSUB reference pattern
 * Reference and patterns are decoded like mailbox names (wildcards kept).
 * 0, or -1 with a BAD: unknown selection or return option, RECURSIVEMATCH
 * without SUBSCRIBED or SPECIAL-USE (RFC 5258 §3), a bad encoding, extra
 * arguments, more than IMAP_LIST_MAX_PATTERNS patterns. */
int imap_list_parse(const struct imap_arg *args, size_t count, bool lsub, unsigned flags,
                    struct sp_arena *arena, struct imap_list_cmd *cmd_r,
                    struct imap_error *error_r);

/* True when name (UTF-8) matches pattern (UTF-8): '*' matches any
 * octets, '%' any but '/' (RFC 9051 §6.3.9); the "INBOX" part of INBOX
 * and its children is matched without regard to case. Time is O(name x
 * pattern / 64), never exponential. */
bool imap_list_match(const char *pattern, const char *name);

/* RFC 5819: fills *st_r for a selectable name; return 0 to send its
 * STATUS line, anything else to leave it out (an error, or the selected
 * mailbox). Strings in *st_r need only live during the call. */
typedef int imap_list_status_fn(void *ctx, const char *name_utf8, struct store_status *st_r);

/* Appends the untagged LIST (or LSUB) responses for cmd to out, given the
 * account's folders (any order, names unique). A folder with id 0 is a
 * subscription to a name that does not exist. Rules (RFC 5258, RFC 3501):
 *  - names are matched as reference+pattern (the reference is ignored for
 *    a pattern starting with '/'; wildcards in the reference are literal);
 *    levels of hierarchy that have folders below them but do not exist
 *    themselves are listed too, flagged \NonExistent (extended LIST) or
 *    \Noselect (basic LIST);
 *  - \HasChildren/\HasNoChildren are always sent; special-use attributes
 *    are always sent in LIST (RFC 6154 §1 allows it; clients use them
 *    without asking), never in LSUB; \Subscribed with RETURN (SUBSCRIBED)
 *    or the SUBSCRIBED selection;
 *  - SUBSCRIBED / SPECIAL-USE selection: only names that satisfy all
 *    given criteria; with RECURSIVEMATCH also a name with a descendant
 *    that satisfies them but matches no pattern, and CHILDINFO for every
 *    listed name with a descendant that satisfies them (RFC 5258 §3.5);
 *  - LSUB: subscribed names, and (\Noselect) for a name with a subscribed
 *    descendant that the pattern does not reach (RFC 3501 §6.3.9 "%");
 *  - RETURN (STATUS ...): status_fn (not NULL then) per existing name,
 *    its STATUS line right after the LIST line (RFC 5819 §2).
 * Order: INBOX and its children first, then by octets. Returns the number
 * of LIST/LSUB lines. */
size_t imap_list_format(const struct imap_list_cmd *cmd, const struct store_folder *folders,
                        size_t n, unsigned flags, imap_list_status_fn *status_fn, void *ctx,
                        uint64_t appendlimit, struct sp_arena *arena, struct sp_buf *out);

#endif
