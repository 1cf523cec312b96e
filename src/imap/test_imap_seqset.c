/* Unit tests for sequence sets: parsing against "*", normalisation,
 * membership, iteration, counting, clamping and compact formatting. */
#include "imap/imap_seqset.h"
#include "lib/sp_test.h"

SP_TEST_MAIN_DEFS

static void test_parse(void)
{
	static const struct {
		const char *in;
		uint32_t star;
		unsigned flags;
		int rc;
		const char *norm;  /* formatted normalised set */
		const char *error; /* for rc == -1 */
	} cases[] = {
	    {.in = "1", .star = 10, .rc = 0, .norm = "1"},
	    {.in = "1:3,5,7:*", .star = 10, .rc = 0, .norm = "1:3,5,7:10"},
	    {.in = "*", .star = 42, .rc = 0, .norm = "42"},
	    {.in = "1:*", .star = 1, .rc = 0, .norm = "1"},
	    /* ranges are unordered (RFC 3501 §9 seq-range) */
	    {.in = "5:2", .star = 10, .rc = 0, .norm = "2:5"},
	    /* RFC 3501 §6.4.8: UID 559:* includes the last UID even if lower */
	    {.in = "559:*", .star = 300, .rc = 0, .norm = "300:559"},
	    {.in = "*:4", .star = 2, .rc = 0, .norm = "2:4"},
	    /* sorting and merging of overlapping and adjacent ranges */
	    {.in = "9,1,2,3,8,4:5,6", .star = 10, .rc = 0, .norm = "1:6,8:9"},
	    {.in = "10:20,15:30,1:2,31", .star = 99, .rc = 0, .norm = "1:2,10:31"},
	    {.in = "4294967295,1", .star = 1, .rc = 0, .norm = "1,4294967295"},
	    {.in = "4294967294:4294967295,1:4294967293",
	     .star = 1,
	     .rc = 0,
	     .norm = "1:4294967295"},
	    {.in = "3,3,3", .star = 9, .rc = 0, .norm = "3"},
	    {.in = "$", .flags = IMAP_SEQSET_ALLOW_SAVED, .rc = 1, .norm = ""},
	    {.in = "$", .rc = -1, .error = "'$' (saved search result) not allowed here"},
	    {.in = "1,$",
	     .flags = IMAP_SEQSET_ALLOW_SAVED,
	     .rc = -1,
	     .error = "'$' must be the whole sequence set"},
	    {.in = "", .rc = -1, .error = "Empty sequence set"},
	    {.in = "0", .rc = -1, .error = "0 is not a valid message number"},
	    {.in = "1:0", .rc = -1, .error = "0 is not a valid message number"},
	    {.in = "01", .rc = -1, .error = "Leading zero in sequence set number"},
	    {.in = "4294967296", .rc = -1, .error = "Number in sequence set too big"},
	    {.in = "99999999999999999999999", .rc = -1, .error = "Number in sequence set too big"},
	    {.in = "1,", .rc = -1, .error = "Trailing ',' in sequence set"},
	    {.in = ",1", .rc = -1, .error = "Empty element in sequence set"},
	    {.in = "1,,2", .rc = -1, .error = "Empty element in sequence set"},
	    {.in = "1:", .rc = -1, .error = "Empty element in sequence set"},
	    {.in = ":1", .rc = -1, .error = "Empty element in sequence set"},
	    {.in = "1:2:3", .rc = -1, .error = "Invalid range in sequence set"},
	    {.in = "1-3", .rc = -1, .error = "Invalid character in sequence set"},
	    {.in = "a", .rc = -1, .error = "Invalid character in sequence set"},
	    {.in = "1 ", .rc = -1, .error = "Invalid character in sequence set"},
	    {.in = "**", .rc = -1, .error = "Invalid character in sequence set"},
	    {.in = "1:*",
	     .flags = IMAP_SEQSET_NO_STAR,
	     .rc = -1,
	     .error = "'*' not allowed in this sequence set"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct imap_seqset set = IMAP_SEQSET_INIT;
		const char *error = NULL;
		int rc = imap_seqset_parse(sp_slice_from_str(cases[i].in), cases[i].star,
		                           cases[i].flags, &set, &error);
		if (rc != cases[i].rc)
			fprintf(stderr, "case \"%s\"\n", cases[i].in);
		SP_CHECK_INT(rc, cases[i].rc);
		if (rc >= 0) {
			struct sp_buf out = SP_BUF_INIT;
			imap_seqset_format(&set, &out);
			SP_CHECK_STR(sp_buf_cstr(&out), cases[i].norm);
			sp_buf_deinit(&out);
		} else {
			SP_CHECK_STR(error, cases[i].error);
			SP_CHECK_INT(set.count, 0);
		}
		SP_CHECK_INT(imap_seqset_is_valid(sp_slice_from_str(cases[i].in), cases[i].flags),
		             rc >= 0);
		imap_seqset_deinit(&set);
	}
}

static void test_membership_iter(void)
{
	struct imap_seqset set = IMAP_SEQSET_INIT;
	const char *error;
	SP_CHECK_INT(imap_seqset_parse(SP_SLICE_STR("2:4,10,20:*"), 22, 0, &set, &error), 0);
	static const struct {
		uint32_t n;
		bool in;
	} m[] = {{1, false}, {2, true},  {4, true},   {5, false}, {10, true},         {11, false},
	         {20, true}, {22, true}, {23, false}, {0, false}, {UINT32_MAX, false}};
	for (size_t i = 0; i < SP_N_ELEMENTS(m); i++)
		SP_CHECK_INT(imap_seqset_contains(&set, m[i].n), m[i].in);
	SP_CHECK(imap_seqset_count(&set) == 7);
	SP_CHECK_INT(imap_seqset_max(&set), 22);

	struct imap_seqset_iter it;
	uint32_t n, got[16];
	size_t k = 0;
	imap_seqset_iter_init(&it, &set);
	while (imap_seqset_iter_next(&it, &n) && k < 16)
		got[k++] = n;
	static const uint32_t want[] = {2, 3, 4, 10, 20, 21, 22};
	SP_CHECK_INT(k, SP_N_ELEMENTS(want));
	SP_CHECK(memcmp(got, want, sizeof(want)) == 0);

	/* clamping to the number of messages */
	imap_seqset_clamp(&set, 20);
	struct sp_buf out = SP_BUF_INIT;
	imap_seqset_format(&set, &out);
	SP_CHECK_STR(sp_buf_cstr(&out), "2:4,10,20");
	imap_seqset_clamp(&set, 3);
	sp_buf_reset(&out);
	imap_seqset_format(&set, &out);
	SP_CHECK_STR(sp_buf_cstr(&out), "2:3");
	imap_seqset_clamp(&set, 1);
	SP_CHECK_INT(set.count, 0);
	SP_CHECK_INT(imap_seqset_max(&set), 0);
	imap_seqset_iter_init(&it, &set);
	SP_CHECK(!imap_seqset_iter_next(&it, &n));

	/* iteration up to the largest UID does not wrap around */
	SP_CHECK_INT(imap_seqset_parse(SP_SLICE_STR("4294967294:*"), UINT32_MAX, 0, &set, &error),
	             0);
	imap_seqset_iter_init(&it, &set);
	k = 0;
	while (imap_seqset_iter_next(&it, &n))
		k++;
	SP_CHECK_INT(k, 2);
	SP_CHECK(imap_seqset_count(&set) == 2);
	SP_CHECK_INT(imap_seqset_parse(SP_SLICE_STR("1:*"), UINT32_MAX, 0, &set, &error), 0);
	SP_CHECK(imap_seqset_count(&set) == 4294967295ULL);
	sp_buf_deinit(&out);
	imap_seqset_deinit(&set);
}

static void test_build_format(void)
{
	/* building a set from UIDs, as for ESEARCH ALL and VANISHED */
	struct imap_seqset set = IMAP_SEQSET_INIT;
	static const uint32_t uids[] = {7, 3, 4, 5, 100, 8, 1, 6};
	for (size_t i = 0; i < SP_N_ELEMENTS(uids); i++)
		imap_seqset_add_range(&set, uids[i], uids[i]);
	imap_seqset_normalize(&set);
	struct sp_buf out = SP_BUF_INIT;
	imap_seqset_format(&set, &out);
	SP_CHECK_STR(sp_buf_cstr(&out), "1,3:8,100");
	imap_seqset_deinit(&set);
	imap_seqset_format(&set, &out); /* empty appends nothing */
	SP_CHECK_STR(sp_buf_cstr(&out), "1,3:8,100");

	/* COPYUID keeps the order: source and destination correspond */
	static const struct {
		uint32_t nums[8];
		size_t n;
		const char *out;
	} lists[] = {
	    {{3, 4, 5, 9, 1}, 5, "3:5,9,1"},
	    {{10, 11, 12}, 3, "10:12"},
	    {{5, 4, 3}, 3, "5,4,3"},
	    {{42}, 1, "42"},
	    {{4294967294u, 4294967295u, 1}, 3, "4294967294:4294967295,1"},
	    {{4294967295u, 1}, 2, "4294967295,1"},
	    {{0}, 0, ""},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(lists); i++) {
		sp_buf_reset(&out);
		imap_seq_list_format(lists[i].nums, lists[i].n, &out);
		SP_CHECK_STR(sp_buf_cstr(&out), lists[i].out);
	}
	sp_buf_deinit(&out);
}

int main(void)
{
	SP_TEST_RUN(test_parse);
	SP_TEST_RUN(test_membership_iter);
	SP_TEST_RUN(test_build_format);
	return sp_test_finish();
}
