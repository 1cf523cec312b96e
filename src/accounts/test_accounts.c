/* accounts.db: domains with postmaster, aliases, resolution, slots. */
#include "accounts/accounts.h"
#include "lib/sp_test.h"

#include <stdlib.h>
#include <unistd.h>

SP_TEST_MAIN_DEFS

static char dir[] = "/tmp/sp-accounts-XXXXXX";
static struct accounts *acc;

static void add_mailbox(const char *address, char id_r[ACCOUNTS_MAILBOX_ID_LEN + 1])
{
	struct address a;
	const char *error;
	SP_CHECK_INT(address_parse(address, &a, &error), 0);
	struct accounts_mailbox mb;
	memset(&mb, 0, sizeof(mb));
	accounts_mailbox_id_new(mb.id);
	sp_buf_append(&mb.sk_wrapped, "sk", 2);
	sp_buf_append(&mb.dek_wrapped, "dek", 3);
	SP_CHECK_INT(accounts_begin(acc), 0);
	SP_CHECK_INT(accounts_mailbox_add(acc, &mb), ACCOUNTS_OK);
	SP_CHECK_INT(accounts_alias_add(acc, &a, mb.id, NULL, 0, NULL, 0), ACCOUNTS_OK);
	SP_CHECK_INT(accounts_commit(acc), 0);
	memcpy(id_r, mb.id, sizeof(mb.id));
	accounts_mailbox_deinit(&mb);
}

static void test_domains(void)
{
	SP_CHECK_INT(accounts_domain_add(acc, "example.test"), ACCOUNTS_OK);
	SP_CHECK_INT(accounts_domain_add(acc, "example.test"), ACCOUNTS_ERR_EXISTS);
	SP_CHECK_INT(accounts_domain_add(acc, "other.test"), ACCOUNTS_OK);
	struct sp_buf out = SP_BUF_INIT;
	accounts_domain_list(acc, &out);
	SP_CHECK_STR(sp_buf_cstr(&out), "example.test\nother.test\n");
	sp_buf_deinit(&out);
	SP_CHECK_INT(accounts_domain_remove(acc, "other.test"), ACCOUNTS_OK);
	SP_CHECK_INT(accounts_domain_remove(acc, "other.test"), ACCOUNTS_ERR_NOT_FOUND);
}

static void test_resolve(void)
{
	char alice[ACCOUNTS_MAILBOX_ID_LEN + 1], bob[ACCOUNTS_MAILBOX_ID_LEN + 1];
	add_mailbox("alice@example.test", alice);
	add_mailbox("bob@example.test", bob);
	struct address a;
	const char *error;
	struct accounts_alias al;

	SP_CHECK_INT(address_parse("Alice+news@EXAMPLE.test", &a, &error), 0);
	SP_CHECK_INT(accounts_resolve(acc, &a, &al), ACCOUNTS_OK);
	SP_CHECK_STR(al.address, "alice@example.test");
	SP_CHECK_STR(al.mailbox_id, alice);

	/* Postmaster exists for every domain and falls back to the first mailbox. */
	SP_CHECK_INT(address_parse("PostMaster@example.test", &a, &error), 0);
	SP_CHECK_INT(accounts_resolve(acc, &a, &al), ACCOUNTS_OK);
	SP_CHECK(al.postmaster);
	SP_CHECK_STR(al.mailbox_id, alice);

	SP_CHECK_INT(address_parse("carol@example.test", &a, &error), 0);
	SP_CHECK_INT(accounts_resolve(acc, &a, &al), ACCOUNTS_ERR_NOT_FOUND);

	/* A forward-only alias has no mailbox. */
	SP_CHECK_INT(address_parse("list@example.test", &a, &error), 0);
	const char *fwd[] = {"x@elsewhere.test"};
	SP_CHECK_INT(accounts_alias_add(acc, &a, NULL, fwd, 1, NULL, 0), ACCOUNTS_OK);
	SP_CHECK_INT(accounts_alias_add(acc, &a, NULL, fwd, 1, NULL, 0), ACCOUNTS_ERR_EXISTS);
	SP_CHECK_INT(accounts_resolve(acc, &a, &al), ACCOUNTS_OK);
	SP_CHECK_STR(al.mailbox_id, "");
	SP_CHECK_INT(al.forwards, 1);

	/* Disabled aliases still resolve, flagged. */
	SP_CHECK_INT(address_parse("bob@example.test", &a, &error), 0);
	SP_CHECK_INT(accounts_alias_set_enabled(acc, &a, false), ACCOUNTS_OK);
	SP_CHECK_INT(accounts_resolve(acc, &a, &al), ACCOUNTS_OK);
	SP_CHECK(!al.enabled);

	/* Removing the only alias of a mailbox orphans the mailbox. */
	char orphan[ACCOUNTS_MAILBOX_ID_LEN + 1];
	SP_CHECK_INT(accounts_alias_remove(acc, &a, orphan), ACCOUNTS_OK);
	SP_CHECK_STR(orphan, bob);
	struct accounts_mailbox mb;
	memset(&mb, 0, sizeof(mb));
	SP_CHECK_INT(accounts_mailbox_get(acc, bob, &mb), ACCOUNTS_ERR_NOT_FOUND);
	SP_CHECK_INT(accounts_mailbox_get(acc, alice, &mb), ACCOUNTS_OK);
	SP_CHECK_INT(mb.dek_wrapped.len, 3);
	accounts_mailbox_deinit(&mb);

	/* The domain cannot go while aliases remain; postmaster stays. */
	SP_CHECK_INT(accounts_domain_remove(acc, "example.test"), ACCOUNTS_ERR_REFUSED);
	SP_CHECK_INT(address_parse("postmaster@example.test", &a, &error), 0);
	SP_CHECK_INT(accounts_alias_remove(acc, &a, orphan), ACCOUNTS_OK);
	SP_CHECK_INT(accounts_resolve(acc, &a, &al), ACCOUNTS_OK);
}

static int count_slot(const struct accounts_slot *slot, void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

static void test_slots(void)
{
	char id[ACCOUNTS_MAILBOX_ID_LEN + 1];
	add_mailbox("slots@example.test", id);
	struct accounts_slot s;
	memset(&s, 0, sizeof(s));
	memcpy(s.mailbox_id, id, sizeof(s.mailbox_id));
	memcpy(s.id, "abcdefgh", 9);
	memcpy(s.kind, "password", 9);
	sp_buf_append(&s.record, "rec", 3);
	SP_CHECK_INT(accounts_slot_add(acc, &s), ACCOUNTS_OK);
	memcpy(s.id, "bcdefghi", 9);
	memcpy(s.kind, "app", 4);
	memcpy(s.label, "phone", 6);
	SP_CHECK_INT(accounts_slot_add(acc, &s), ACCOUNTS_OK);
	memcpy(s.id, "cdefghij", 9);
	SP_CHECK_INT(accounts_slot_add(acc, &s), ACCOUNTS_ERR_EXISTS);
	accounts_slot_deinit(&s);
	int n = 0;
	accounts_slot_foreach(acc, id, count_slot, &n);
	SP_CHECK_INT(n, 2);
	struct accounts_slot got;
	memset(&got, 0, sizeof(got));
	SP_CHECK_INT(accounts_slot_get(acc, id, "bcdefghi", &got), ACCOUNTS_OK);
	SP_CHECK_STR(got.label, "phone");
	SP_CHECK_INT(got.record.len, 3);
	accounts_slot_deinit(&got);
	char removed[ACCOUNTS_SLOT_ID_LEN + 1];
	SP_CHECK_INT(accounts_slot_remove_label(acc, id, "phone", removed), ACCOUNTS_OK);
	SP_CHECK_STR(removed, "bcdefghi");
	SP_CHECK_INT(accounts_slot_get(acc, id, "bcdefghi", &got), ACCOUNTS_ERR_NOT_FOUND);
}

static void test_reopen(void)
{
	/* Migrations are idempotent: reopening keeps the data. */
	char path[64];
	snprintf(path, sizeof(path), "%s/accounts.db", dir);
	accounts_close(&acc);
	const char *error;
	SP_CHECK_INT(accounts_open(path, false, &acc, &error), 0);
	SP_CHECK(accounts_domain_exists(acc, "example.test"));
}

int main(void)
{
	char path[64];
	const char *error;
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/accounts.db", dir);
	if (accounts_open(path, true, &acc, &error) < 0) {
		fprintf(stderr, "%s\n", error);
		return 1;
	}
	SP_TEST_RUN(test_domains);
	SP_TEST_RUN(test_resolve);
	SP_TEST_RUN(test_slots);
	SP_TEST_RUN(test_reopen);
	accounts_close(&acc);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return sp_test_finish();
}
