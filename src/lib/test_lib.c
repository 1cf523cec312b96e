/* Unit tests for the foundation: buffers, numbers, sizes, hex, base64, arena. */
#include "lib/sp_arena.h"
#include "lib/sp_str.h"
#include "lib/sp_test.h"

SP_TEST_MAIN_DEFS

static void test_sizes(void)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t value;
	} cases[] = {
	    {.in = "0", .rc = 0, .value = 0},
	    {.in = "20K", .rc = 0, .value = 20480},
	    {.in = "20k", .rc = 0, .value = 20480},
	    {.in = "3M", .rc = 0, .value = 3 * 1024 * 1024},
	    {.in = "1G", .rc = 0, .value = 1024ULL * 1024 * 1024},
	    {.in = "123", .rc = 0, .value = 123},
	    {.in = "", .rc = -1},
	    {.in = "K", .rc = -1},
	    {.in = "-5", .rc = -1},
	    {.in = "5T", .rc = -1},
	    {.in = " 5", .rc = -1},
	    {.in = "99999999999999999999", .rc = -1},
	    {.in = "17179869184G", .rc = -1},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		uint64_t v = 0;
		int rc = sp_parse_size(cases[i].in, &v);
		SP_CHECK_INT(rc, cases[i].rc);
		if (rc == 0)
			SP_CHECK_INT(v, cases[i].value);
	}
}

static void test_buf(void)
{
	struct sp_buf b = SP_BUF_INIT;
	SP_CHECK_STR(sp_buf_cstr(&b), "");
	sp_buf_append_str(&b, "hello");
	sp_buf_printf(&b, " %d", 42);
	SP_CHECK_STR(sp_buf_cstr(&b), "hello 42");
	sp_buf_consume(&b, 6);
	SP_CHECK_STR(sp_buf_cstr(&b), "42");
	for (int i = 0; i < 1000; i++)
		sp_buf_append_byte(&b, 'x');
	SP_CHECK_INT(b.len, 1002);
	char *s = sp_buf_steal(&b);
	SP_CHECK_INT(strlen(s), 1002);
	free(s);
	SP_CHECK(b.data == NULL);
	sp_buf_deinit(&b);
}

static void test_hex_base64(void)
{
	uint8_t bytes[4] = {0, 0xab, 0x10, 0xff}, back[4];
	char hex[9];
	sp_hex_encode(bytes, 4, hex);
	SP_CHECK_STR(hex, "00ab10ff");
	SP_CHECK_INT(sp_hex_decode("00AB10ff", back, 4), 0);
	SP_CHECK(memcmp(bytes, back, 4) == 0);
	SP_CHECK_INT(sp_hex_decode("00ab10f", back, 4), -1);
	SP_CHECK_INT(sp_hex_decode("00ab10fg", back, 4), -1);

	static const struct {
		const char *plain, *b64;
	} cases[] = {
	    {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foobar", "Zm9vYmFy"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct sp_buf e = SP_BUF_INIT, d = SP_BUF_INIT;
		sp_base64_encode((const uint8_t *)cases[i].plain, strlen(cases[i].plain), &e);
		SP_CHECK_STR(sp_buf_cstr(&e), cases[i].b64);
		SP_CHECK_INT(sp_base64_decode_strict(e.data, e.len, &d), 0);
		SP_CHECK_STR(sp_buf_cstr(&d), cases[i].plain);
		sp_buf_deinit(&e);
		sp_buf_deinit(&d);
	}
	struct sp_buf d = SP_BUF_INIT;
	SP_CHECK_INT(sp_base64_decode((const uint8_t *)"Zm9v\r\nYm!Fy", 11, &d), 1);
	SP_CHECK_STR(sp_buf_cstr(&d), "foobar");
	sp_buf_reset(&d);
	SP_CHECK_INT(sp_base64_decode_strict((const uint8_t *)"Zm9v!mFy", 8, &d), -1);
	sp_buf_deinit(&d);
}

static int cleanup_count;
static void count_cleanup(void *ctx)
{
	cleanup_count += *(int *)ctx;
}

static void test_arena(void)
{
	struct sp_arena *a = sp_arena_new(1024);
	static int one = 1;
	sp_arena_add_cleanup(a, count_cleanup, &one);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 200; i++) {
			char *s = sp_arena_printf(a, "item-%d", i);
			SP_CHECK(((uintptr_t)s & 15) == 0);
		}
		uint8_t *big = sp_arena_alloc(a, 100000);
		memset(big, 1, 100000);
		SP_CHECK_STR(sp_arena_strdup(a, "abc"), "abc");
		sp_arena_reset(a);
		sp_arena_add_cleanup(a, count_cleanup, &one);
	}
	/* Released, it holds nothing and still works. */
	sp_arena_release(a);
	SP_CHECK_INT(cleanup_count, 4);
	SP_CHECK_STR(sp_arena_strdup(a, "again"), "again");
	sp_arena_add_cleanup(a, count_cleanup, &one);
	sp_arena_free(&a);
	SP_CHECK(a == NULL);
	SP_CHECK_INT(cleanup_count, 5);
}

static void test_parse_u64(void)
{
	uint64_t v;
	SP_CHECK_INT(sp_parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
	SP_CHECK(v == UINT64_MAX);
	SP_CHECK_INT(sp_parse_u64("18446744073709551616", UINT64_MAX, &v), -1);
	SP_CHECK_INT(sp_parse_u64("10", 9, &v), -1);
	SP_CHECK_INT(sp_parse_u64("1a", 100, &v), -1);
}

int main(void)
{
	SP_TEST_RUN(test_sizes);
	SP_TEST_RUN(test_buf);
	SP_TEST_RUN(test_hex_base64);
	SP_TEST_RUN(test_arena);
	SP_TEST_RUN(test_parse_u64);
	return sp_test_finish();
}
