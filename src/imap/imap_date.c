/* IMAP date-time (RFC 9051 §9 date-time, RFC 3501 §9): parsing APPEND's
 * optional date-time and formatting INTERNALDATE and SAVEDATE. Calendar
 * arithmetic is done here on the proleptic Gregorian calendar, so neither
 * the process time zone nor the range of timegm() matter. */
#include "imap/imap_fetch.h"

#include <strings.h>

static const char imap_months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of y-m-d (m 1..12). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y_r, int *m_r, int *d_r)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d_r = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m_r = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y_r = yoe + era * 400 + (*m_r <= 2);
}

/* n digits at s as a number, or -1. */
static int digits(const uint8_t *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int imap_datetime_parse(struct sp_slice text, time_t *t_r, int *offset_minutes_r)
{
	const uint8_t *s = text.ptr;
	size_t len = text.len;
	int day;

	/* date-day-fixed = (SP DIGIT) / 2DIGIT; "d-" tolerated */
	if (len > 0 && s[0] == ' ') {
		s++, len--;
	}
	if (len >= 2 && s[1] == '-') {
		day = digits(s, 1);
		s += 1, len -= 1;
	} else if (len >= 2 && text.ptr[0] != ' ') {
		day = digits(s, 2);
		s += 2, len -= 2;
	} else {
		return -1;
	}
	/* "-Mmm-yyyy hh:mm:ss +zzzz" */
	if (day < 1 || len != 24 || s[0] != '-' || s[4] != '-' || s[9] != ' ' || s[12] != ':' ||
	    s[15] != ':' || s[18] != ' ' || (s[19] != '+' && s[19] != '-'))
		return -1;
	int month = 0;
	for (int i = 0; i < 12; i++) {
		if (strncasecmp((const char *)s + 1, imap_months[i], 3) == 0) {
			month = i + 1;
			break;
		}
	}
	int year = digits(s + 5, 4);
	int hh = digits(s + 10, 2), mi = digits(s + 13, 2), ss = digits(s + 16, 2);
	int zh = digits(s + 20, 2), zm = digits(s + 22, 2);
	if (month == 0 || year < 1 || hh < 0 || hh > 23 || mi < 0 || mi > 59 || ss < 0 || ss > 60 ||
	    zh < 0 || zh > 23 || zm < 0 || zm > 59)
		return -1;
	if (day > days_in_month(year, month))
		return -1;
	int offset = (zh * 60 + zm) * (s[19] == '-' ? -1 : 1);
	int64_t t = days_from_civil(year, month, day) * 86400 + hh * 3600 + mi * 60 + ss -
	            (int64_t)offset * 60;
	*t_r = (time_t)t;
	*offset_minutes_r = offset;
	return 0;
}

void imap_datetime_format(struct sp_buf *out, time_t t, int offset_minutes)
{
	if (offset_minutes <= -24 * 60 || offset_minutes >= 24 * 60)
		offset_minutes = 0;
	int64_t local = (int64_t)t + (int64_t)offset_minutes * 60;
	int64_t days = local / 86400, secs = local % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	int64_t y;
	int m, d;
	civil_from_days(days, &y, &m, &d);
	int off = offset_minutes < 0 ? -offset_minutes : offset_minutes;
	sp_buf_printf(out, "\"%02d-%s-%04lld %02d:%02d:%02d %c%02d%02d\"", d, imap_months[m - 1],
	              (long long)y, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60),
	              offset_minutes < 0 ? '-' : '+', off / 60, off % 60);
}
