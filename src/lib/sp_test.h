/* A minimal table-friendly unit test harness. Each test binary calls
 * SP_TEST_RUN for its cases and returns sp_test_finish(), which prints the
 * closing "N passed, N failed" line and the exit status for CTest. */
#ifndef SP_TEST_H
#define SP_TEST_H

#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <stdbool.h>

extern int sp_test_checks_failed;
extern int sp_test_cases_passed;
extern int sp_test_cases_failed;
extern const char *sp_test_current;

#define SP_CHECK(cond)                                                                             \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__,       \
			        sp_test_current, #cond);                                           \
			sp_test_checks_failed++;                                                   \
		}                                                                                  \
	} while (0)

#define SP_CHECK_INT(a, b)                                                                         \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		if (a_ != b_) {                                                                    \
			fprintf(stderr, "%s:%d: %s: %s == %lld, expected %s == %lld\n", __FILE__,  \
			        __LINE__, sp_test_current, #a, a_, #b, b_);                        \
			sp_test_checks_failed++;                                                   \
		}                                                                                  \
	} while (0)

#define SP_CHECK_STR(a, b)                                                                         \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                             \
			fprintf(stderr, "%s:%d: %s: %s\n  got:      \"%s\"\n  expected: \"%s\"\n", \
			        __FILE__, __LINE__, sp_test_current, #a, a_ ? a_ : "(null)",       \
			        b_ ? b_ : "(null)");                                               \
			sp_test_checks_failed++;                                                   \
		}                                                                                  \
	} while (0)

#define SP_TEST_RUN(fn)                                                                            \
	do {                                                                                       \
		int before_ = sp_test_checks_failed;                                               \
		sp_test_current = #fn;                                                             \
		fn();                                                                              \
		if (sp_test_checks_failed == before_)                                              \
			sp_test_cases_passed++;                                                    \
		else                                                                               \
			sp_test_cases_failed++;                                                    \
	} while (0)

#define SP_TEST_MAIN_DEFS                                                                          \
	int sp_test_checks_failed, sp_test_cases_passed, sp_test_cases_failed;                     \
	const char *sp_test_current = "";

static inline int sp_test_finish(void)
{
	printf("%d passed, %d failed\n", sp_test_cases_passed, sp_test_cases_failed);
	return sp_test_cases_failed == 0 ? 0 : 1;
}

#endif
