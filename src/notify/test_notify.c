/* The notifier: delivery to the right mailbox, unsubscribing in a callback. */
#include "lib/sp_test.h"
#include "notify/notify.h"

SP_TEST_MAIN_DEFS

static int calls_a, calls_b;
static struct notify_sub *sub_b;

static void on_a(void *ctx, const char *mailbox_id, unsigned what, const char *slot_id)
{
	calls_a++;
	SP_CHECK_STR(mailbox_id, "mbox-a");
	SP_CHECK_INT(what, NOTIFY_SPOOL);
}

static void on_b(void *ctx, const char *mailbox_id, unsigned what, const char *slot_id)
{
	calls_b++;
	/* Unsubscribing itself from inside the callback is allowed. */
	notify_unsubscribe(&sub_b);
}

static void test_dispatch(void)
{
	struct notify *n = notify_new();
	struct notify_sub *a1 = notify_subscribe(n, "mbox-a", on_a, NULL);
	struct notify_sub *a2 = notify_subscribe(n, "mbox-a", on_a, NULL);
	sub_b = notify_subscribe(n, "mbox-b", on_b, NULL);
	SP_CHECK_INT(notify_mailbox(n, "mbox-a", NOTIFY_SPOOL, NULL), 2);
	SP_CHECK_INT(calls_a, 2);
	SP_CHECK_INT(notify_mailbox(n, "mbox-b", NOTIFY_CHANGED, NULL), 1);
	SP_CHECK_INT(notify_mailbox(n, "mbox-b", NOTIFY_CHANGED, NULL), 0);
	SP_CHECK_INT(calls_b, 1);
	SP_CHECK(sub_b == NULL);
	SP_CHECK_INT(notify_mailbox(n, "nobody", NOTIFY_SPOOL, NULL), 0);
	notify_unsubscribe(&a1);
	SP_CHECK_INT(notify_mailbox(n, "mbox-a", NOTIFY_SPOOL, NULL), 1);
	notify_unsubscribe(&a2);
	notify_free(&n);
	SP_CHECK(n == NULL);
}

int main(void)
{
	SP_TEST_RUN(test_dispatch);
	return sp_test_finish();
}
