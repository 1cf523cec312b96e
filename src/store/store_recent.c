/* \Recent (RFC 3501 §2.3.2): "the first session to be notified about a
 * message" sees it as recent. Each folder keeps a recent floor, the
 * highest UID claimed so far; a session claims the UIDs above it under
 * the file's write lock, so two sessions, in one process or several,
 * never both see a message as recent. */
#include "store/store_private.h"

/* The folder's floor and the last UID it gave out (uidnext - 1). */
static int floor_get(struct store_session *s, int64_t folder_id, uint32_t *floor_r,
                     uint32_t *last_r, const char **error_r)
{
	sqlite3_stmt *st =
	    store_prepare(s, "SELECT recent_floor, uidnext - 1 FROM folders WHERE id = ?", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, folder_id);
	int rc = store_step(st);
	if (rc == SQLITE_ROW) {
		*floor_r = (uint32_t)sqlite3_column_int64(st, 0);
		*last_r = (uint32_t)sqlite3_column_int64(st, 1);
	}
	store_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return store_fail(s, STORE_ERR_NONEXISTENT, error_r, "folder no longer exists");
	return store_fail_db(s, error_r, "recent floor");
}

int store_recent_claim(struct store_session *s, int64_t folder_id, uint32_t up_to, bool read_only,
                       uint32_t *old_r, const char **error_r)
{
	uint32_t floor, last;
	/* Most calls (NOOP, IDLE, a second SELECT) have nothing to claim: a
	 * read answers them without the write lock. The floor only rises,
	 * so a floor already at up_to stays the right answer. */
	if (store_read_begin(s, error_r) < 0)
		return -1;
	int rc = floor_get(s, folder_id, &floor, &last, error_r);
	store_read_end(s);
	if (rc < 0)
		return -1;
	if (read_only || SP_MIN(up_to, last) <= floor) {
		*old_r = floor;
		return 0;
	}
	if (store_write_begin_flags(s, error_r) < 0)
		return -1;
	bool ok = floor_get(s, folder_id, &floor, &last, error_r) == 0;
	/* A UID not given out yet cannot be in the caller's view: claiming
	 * it would hide the message that later gets it from every session. */
	uint32_t target = SP_MIN(up_to, last);
	if (ok && target > floor) {
		sqlite3_stmt *st =
		    store_prepare(s, "UPDATE folders SET recent_floor = ? WHERE id = ?", error_r);
		ok = st != NULL;
		if (ok) {
			sqlite3_bind_int64(st, 1, target);
			sqlite3_bind_int64(st, 2, folder_id);
			ok = store_step(st) == SQLITE_DONE;
			if (!ok)
				store_fail_db(s, error_r, "recent floor");
			store_finalize(st);
		}
	}
	if (store_write_end(s, ok, error_r) < 0)
		return -1;
	*old_r = floor;
	return 0;
}
