/* COMPRESS=DEFLATE (RFC 4978) as a connection filter: raw DEFLATE (RFC
 * 1951, no zlib or gzip header) in both directions, stacked with
 * sp_conn_push_filter() above whatever transport the connection has
 * (plain TCP, Unix socket, TLS). Protocol-neutral: IMAP uses it for
 * COMPRESS DEFLATE; anything else with the same framing may too.
 *
 * Input is inflated as it arrives, split at any byte boundary. At most the
 * connection's input_limit of inflated bytes is buffered: a small input
 * that inflates to gigabytes ("zip bomb") is inflated a window at a time
 * as the protocol consumes it, never all at once. Corrupt input (or bytes
 * after a final block) closes the connection with SP_CONN_CLOSED_ERROR.
 *
 * Output: everything the protocol queued during one loop callback is
 * deflated as one batch that ends with a Z_SYNC_FLUSH, so a short reply
 * reaches the client whole without the client sending anything, and
 * several writes of one response cost one flush. (RFC 4978 leaves this
 * implicit: a peer waiting for a reply can only decode what was flushed.)
 *
 * sp_conn_output_pending() stays meaningful: it counts the uncompressed
 * bytes queued above the filter and not yet deflated plus the compressed
 * bytes below it (and TLS records below those). The filter only deflates
 * while the layer below is under its write bound, and whenever the queue
 * above is empty everything has been flushed out of zlib, so 0 still means
 * "all handed to the kernel" (close-after-flush works); while the peer is
 * not reading, zlib itself may hold up to one block (tens of KiB) that is
 * not counted. Memory per connection: about 300 KiB of zlib state
 * (windowBits 15, memLevel 8).
 *
 * Layering (RFC 4978 §3): data is compressed before it is encrypted, so
 * the filter goes above TLS; TLS cannot be started below it afterwards
 * (in IMAP, STARTTLS and COMPRESS are never both possible in one state).
 *
 * Security: RFC 4978 §6 says only "as for TLS compression [RFC 3749]".
 * Since then CRIME and BREACH showed what that means: when data an
 * attacker chooses (mail it sends, names it makes a client use) is
 * compressed in one stream with secrets, the encrypted length tells it
 * whether its guess matched. This filter compresses the whole session
 * over TLS; enabling it is the client's choice, as the RFC intends. */
#ifndef SP_DEFLATE_H
#define SP_DEFLATE_H

#include "net/sp_conn.h"

/* Starts compression on conn (loop thread). Call it after consuming the
 * command that asked for it and after queueing the uncompressed reply
 * ("tag OK DEFLATE active"): that reply is still sent as plain bytes, and
 * every byte written afterwards is compressed. Input still buffered (sent
 * by the client after the command) is taken to be compressed and is
 * inflated; the protocol must stop parsing its current input slice, and
 * on_read runs again with the inflated bytes.
 *
 * level: 0-9, or -1 for zlib's default (6). Calling it twice on one
 * connection is a protocol error the caller must refuse itself (RFC 4978
 * §3: BAD when COMPRESS is already active); sp_conn_starttls refuses
 * afterwards (it cannot go below a filter).
 *
 * 0 ok; -1 with *error_r (static text): bad level, connection closing,
 * too many layers. On failure the connection is unchanged. */
int sp_conn_start_deflate(struct sp_conn *conn, int level, const char **error_r);

#endif
