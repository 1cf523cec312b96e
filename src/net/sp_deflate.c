/* COMPRESS=DEFLATE (RFC 4978 §3) as a libevent filter layer of an
 * sp_conn, above TLS: raw DEFLATE (RFC 1951; zlib windowBits -15, RFC 4978
 * §4) inflated on input a bounded window at a time, deflated on output
 * with a Z_SYNC_FLUSH at the end of every batch of queued output. The
 * contract is in sp_deflate.h. */
#include "net/sp_deflate.h"
#include "net/net_private.h"
#include "lib/sp_log.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

/* RFC 4978 §4: raw DEFLATE (negative windowBits), no zlib header. */
#define DEFLATE_WINDOW_BITS (-15)
#define DEFLATE_MEM_LEVEL 8
/* Bytes handed to zlib, or taken from it, per step. */
#define DEFLATE_CHUNK (16 * 1024)
/* Inflate bound per callback when the layer above has no read watermark
 * (sp_conn always sets one; this is the fallback). */
#define DEFLATE_IN_MAX (64 * 1024)

struct sp_deflate {
	z_stream zin, zout;
	bool zin_ready, zout_ready;
	uint64_t conn_id;
	/* Set once the layer exists; both outlive every callback of ours
	 * (libevent frees the filter, and us with it, after them). */
	struct bufferevent *top, *under;
	struct evbuffer_cb_entry *in_cb;
	/* inflate filled its output space last time: it may hold more
	 * output even though no input is left below. */
	bool in_more;
	bool in_ended;  /* a final block was seen; nothing may follow */
	bool out_dirty; /* deflated since the last sync flush */
	bool failed;
};

static voidpf deflate_zalloc(voidpf opaque, uInt items, uInt size)
{
	(void)opaque;
	return sp_calloc(items, size);
}

static void deflate_zfree(voidpf opaque, voidpf address)
{
	(void)opaque;
	free(address);
}

static void deflate_free(void *ctx)
{
	struct sp_deflate *df = ctx;
	if (df->zin_ready)
		inflateEnd(&df->zin);
	if (df->zout_ready)
		deflateEnd(&df->zout);
	if (df->in_cb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_input(df->top), df->in_cb);
	free(df);
}

/* Corrupt or impossible input: the connection ends with an I/O error.
 * libevent 2.1 ignores a filter's BEV_ERROR, so the error event is raised
 * on the layer above ourselves (deferred: never inside a handler). */
static enum bufferevent_filter_result deflate_fail(struct sp_deflate *df, struct evbuffer *src,
                                                   const char *reason)
{
	sp_log_info("net", "conn=%llu event=deflate_error reason=\"%s\"",
	            (unsigned long long)df->conn_id, reason);
	df->failed = true;
	evbuffer_drain(src, evbuffer_get_length(src));
	if (df->top != NULL)
		bufferevent_trigger_event(df->top, BEV_EVENT_READING | BEV_EVENT_ERROR,
		                          BEV_TRIG_DEFER_CALLBACKS);
	return BEV_ERROR;
}

/* src: compressed bytes from the layer below; dst: the protocol's input.
 * At most dst_limit bytes are produced per call, so a tiny input that
 * inflates hugely only ever fills the input buffer up to its limit. */
static enum bufferevent_filter_result deflate_in(struct evbuffer *src, struct evbuffer *dst,
                                                 ev_ssize_t dst_limit,
                                                 enum bufferevent_flush_mode mode, void *ctx)
{
	struct sp_deflate *df = ctx;
	(void)mode;
	if (df->failed) {
		evbuffer_drain(src, evbuffer_get_length(src));
		return BEV_ERROR;
	}
	size_t budget = dst_limit >= 0 ? (size_t)dst_limit : DEFLATE_IN_MAX;
	size_t produced = 0;
	uint8_t buf[DEFLATE_CHUNK];
	while (produced < budget) {
		struct evbuffer_iovec v = {0};
		size_t avail = evbuffer_peek(src, -1, NULL, &v, 1) > 0 ? v.iov_len : 0;
		if (df->in_ended) {
			if (avail > 0)
				return deflate_fail(df, src, "data after the final block");
			break;
		}
		if (avail == 0 && !df->in_more)
			break;
		size_t room = SP_MIN(sizeof(buf), budget - produced);
		df->zin.next_in = avail > 0 ? v.iov_base : (Bytef *)buf;
		df->zin.avail_in = (uInt)SP_MIN(avail, (size_t)UINT32_MAX);
		df->zin.next_out = buf;
		df->zin.avail_out = (uInt)room;
		uInt in_before = df->zin.avail_in;
		int r = inflate(&df->zin, Z_SYNC_FLUSH);
		size_t used = in_before - df->zin.avail_in;
		size_t got = room - df->zin.avail_out;
		evbuffer_drain(src, used);
		if (got > 0)
			evbuffer_add(dst, buf, got);
		produced += got;
		if (r == Z_STREAM_END) {
			df->in_ended = true;
			df->in_more = false;
			continue;
		}
		if (r == Z_BUF_ERROR) {
			/* No progress possible: needs more input. */
			df->in_more = false;
			break;
		}
		if (r != Z_OK)
			return deflate_fail(df, src, df->zin.msg != NULL ? df->zin.msg : "inflate");
		df->in_more = df->zin.avail_out == 0;
		if (used == 0 && got == 0)
			break;
	}
	/* BEV_OK tells libevent to run the protocol's read callback and to
	 * call again while input is left: only when there is news. */
	return produced > 0 ? BEV_OK : BEV_NEED_MORE;
}

/* Runs deflate over [in, in + n) with flush, appending everything zlib
 * emits to dst. */
static int deflate_run(struct sp_deflate *df, const uint8_t *in, size_t n, int flush,
                       struct evbuffer *dst)
{
	uint8_t buf[DEFLATE_CHUNK];
	df->zout.next_in = (Bytef *)(uintptr_t)in;
	df->zout.avail_in = (uInt)n;
	do {
		df->zout.next_out = buf;
		df->zout.avail_out = sizeof(buf);
		int r = deflate(&df->zout, flush);
		if (r != Z_OK && r != Z_BUF_ERROR)
			return -1;
		size_t got = sizeof(buf) - df->zout.avail_out;
		if (got > 0)
			evbuffer_add(dst, buf, got);
	} while (df->zout.avail_out == 0);
	return 0;
}

/* src: what the protocol queued (uncompressed); dst: the layer below.
 * Output callbacks of src are deferred (see sp_conn_start_deflate), so src
 * holds everything one loop callback wrote: deflate it while the layer
 * below has room, and once src is empty end the batch with a sync flush so
 * nothing waits inside zlib: the peer is waiting for this reply. */
static enum bufferevent_filter_result deflate_out(struct evbuffer *src, struct evbuffer *dst,
                                                  ev_ssize_t dst_limit,
                                                  enum bufferevent_flush_mode mode, void *ctx)
{
	struct sp_deflate *df = ctx;
	(void)mode;
	if (df->failed) {
		evbuffer_drain(src, evbuffer_get_length(src));
		return BEV_ERROR;
	}
	size_t start = evbuffer_get_length(dst);
	bool progress = false;
	while (evbuffer_get_length(src) > 0 &&
	       (dst_limit < 0 || evbuffer_get_length(dst) - start < (size_t)dst_limit)) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(src, DEFLATE_CHUNK, NULL, &v, 1) < 1)
			break;
		size_t n = SP_MIN(v.iov_len, (size_t)DEFLATE_CHUNK);
		if (deflate_run(df, v.iov_base, n, Z_NO_FLUSH, dst) < 0)
			return deflate_fail(df, src, "deflate");
		evbuffer_drain(src, n);
		df->out_dirty = true;
		progress = true;
	}
	if (evbuffer_get_length(src) == 0 && df->out_dirty) {
		if (deflate_run(df, NULL, 0, Z_SYNC_FLUSH, dst) < 0)
			return deflate_fail(df, src, "deflate");
		df->out_dirty = false;
		progress = true;
	}
	return progress ? BEV_OK : BEV_NEED_MORE;
}

/* The protocol consumed input. libevent re-runs the input filter only when
 * compressed bytes wait below; inflated output still inside zlib (the last
 * input bytes expanded past the limit) would wait for the peer to send
 * more, which it will not do before it gets a reply. */
static void deflate_input_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info,
                                  void *arg)
{
	struct sp_deflate *df = arg;
	if (info->n_deleted == 0 || df->failed || !df->in_more)
		return;
	size_t high = 0;
	bufferevent_getwatermark(df->top, EV_READ, NULL, &high);
	if (high != 0 && evbuffer_get_length(buf) >= high)
		return;
	bufferevent_trigger(df->under, EV_READ,
	                    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

int sp_conn_start_deflate(struct sp_conn *conn, int level, const char **error_r)
{
	if (level < -1 || level > 9) {
		*error_r = "bad compression level";
		return -1;
	}
	struct sp_deflate *df = sp_calloc(1, sizeof(*df));
	df->conn_id = sp_conn_id(conn);
	df->zin.zalloc = df->zout.zalloc = deflate_zalloc;
	df->zin.zfree = df->zout.zfree = deflate_zfree;
	df->zout_ready = deflateInit2(&df->zout, level, Z_DEFLATED, DEFLATE_WINDOW_BITS,
	                              DEFLATE_MEM_LEVEL, Z_DEFAULT_STRATEGY) == Z_OK;
	df->zin_ready = inflateInit2(&df->zin, DEFLATE_WINDOW_BITS) == Z_OK;
	if (!df->zin_ready || !df->zout_ready) {
		deflate_free(df);
		*error_r = "cannot initialise zlib";
		return -1;
	}
	if (sp_conn_push_filter(conn, deflate_in, deflate_out, df, deflate_free, error_r) < 0) {
		deflate_free(df);
		return -1;
	}
	/* Our callbacks run later (libevent defers them), so the layers can
	 * be recorded now. */
	df->top = conn->layers[conn->n_layers - 1];
	df->under = conn->layers[conn->n_layers - 2];
	/* Batch: the filter sees all a callback wrote at once, not each
	 * sp_conn_write, so one sync flush ends a whole response. */
	evbuffer_defer_callbacks(bufferevent_get_output(df->top), bufferevent_get_base(df->top));
	df->in_cb = evbuffer_add_cb(bufferevent_get_input(df->top), deflate_input_drained, df);
	sp_log_debug("net", "conn=%llu event=compress algorithm=deflate level=%d",
	             (unsigned long long)df->conn_id, level);
	return 0;
}
