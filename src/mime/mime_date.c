/* The Date field (RFC 5322 §3.3 and the obsolete syntax of §4.3): optional
 * day of week, 2- and 3-digit years, optional seconds, numeric and named
 * zones, comments anywhere. Lenient about order (ctime-like "Mon Jan 2
 * 15:04:05 2006" is accepted) so that real mail gets a date. */
#include "mime/mime_int.h"

#include <string.h>
#include <strings.h>

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec"};

static const struct {
	const char *name;
	int hours;
} zones[] = {
    {"ut", 0},   {"utc", 0},  {"gmt", 0},  {"z", 0},    {"est", -5}, {"edt", -4},
    {"cst", -6}, {"cdt", -5}, {"mst", -7}, {"mdt", -6}, {"pst", -8}, {"pdt", -7},
};

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool is_alpha(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Skips whitespace and (nested) comments from i: RFC 5322 §4.3 allows
 * CFWS around the parts of obs-time. */
static size_t skip_cfws(const uint8_t *v, size_t len, size_t i)
{
	int depth = 0;

	while (i < len) {
		if (v[i] == '(')
			depth++;
		else if (v[i] == ')' && depth > 0)
			depth--;
		else if (depth > 0 && v[i] == '\\')
			i++;
		else if (depth == 0 && v[i] != ' ' && v[i] != '\t' && v[i] != '\r' && v[i] != '\n')
			return i;
		i++;
	}
	return len;
}

static int read_2digits(const uint8_t *v, size_t len, size_t *i)
{
	int x = 0;

	while (*i < len && is_digit(v[*i])) {
		if (x < 1000)
			x = x * 10 + (v[*i] - '0');
		(*i)++;
	}
	return x;
}

int mime_date_parse(const uint8_t *v, size_t len, time_t *utc_r, int *offset_min_r)
{
	int day = -1, month = -1, hour = -1, min = 0, sec = 0, offset = 0;
	int64_t year = -1;
	bool have_zone = false;
	size_t i = 0;
	int depth = 0;

	while (i < len) {
		uint8_t c = v[i];
		if (depth > 0 || c == '(') {
			if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			else if (c == '\\')
				i++;
			i++;
			continue;
		}
		if (is_alpha(c)) {
			size_t s = i;
			while (i < len && is_alpha(v[i]))
				i++;
			size_t n = i - s;
			if (month < 0 && n >= 3) {
				for (int m = 0; m < 12; m++) {
					if (strncasecmp((const char *)v + s, months[m], 3) == 0) {
						month = m + 1;
						break;
					}
				}
				if (month > 0)
					continue;
			}
			if (!have_zone && hour >= 0) {
				/* RFC 5322 §4.3: military and unknown zones are
				 * -0000, i.e. no offset information */
				for (size_t z = 0; z < SP_N_ELEMENTS(zones); z++) {
					if (strlen(zones[z].name) == n &&
					    strncasecmp((const char *)v + s, zones[z].name, n) == 0)
						offset = zones[z].hours * 60;
				}
				have_zone = true;
			}
			continue;
		}
		if ((c == '+' || c == '-') && i + 4 < len + 0 && is_digit(v[i + 1]) &&
		    is_digit(v[i + 2]) && is_digit(v[i + 3]) && is_digit(v[i + 4]) && hour >= 0 &&
		    !have_zone) {
			int hh = (v[i + 1] - '0') * 10 + (v[i + 2] - '0');
			int mm = (v[i + 3] - '0') * 10 + (v[i + 4] - '0');
			if (mm < 60) {
				offset = (hh * 60 + mm) * (c == '-' ? -1 : 1);
				have_zone = true;
			}
			i += 5;
			continue;
		}
		if (is_digit(c)) {
			size_t s = i;
			int64_t num = 0;
			while (i < len && is_digit(v[i])) {
				if (num < 100000000)
					num = num * 10 + (v[i] - '0');
				i++;
			}
			size_t nd = i - s;
			size_t colon = skip_cfws(v, len, i);
			if (colon < len && v[colon] == ':' && hour < 0) {
				/* hh:mm[:ss] */
				int parts[3] = {(int)SP_MIN(num, 99), 0, 0}, np = 1;
				while (np < 3 && colon < len && v[colon] == ':') {
					size_t d = skip_cfws(v, len, colon + 1);
					if (d >= len || !is_digit(v[d]))
						break;
					i = d;
					parts[np++] = read_2digits(v, len, &i);
					colon = skip_cfws(v, len, i);
				}
				hour = parts[0];
				min = parts[1];
				sec = parts[2];
				continue;
			}
			if (day < 0 && nd <= 2 && num >= 1 && num <= 31 && year < 0)
				day = (int)num;
			else if (year < 0 && (nd >= 2 || day >= 0))
				year = nd <= 2 ? (num < 50 ? 2000 + num : 1900 + num)
				               : (nd == 3 ? 1900 + num : num);
			continue;
		}
		i++;
	}
	if (day < 0 || month < 0 || year < 0 || year > 9999)
		return -1;
	if (hour < 0)
		hour = 0;
	if (hour > 23 || min > 59 || sec > 60)
		return -1;
	if (sec == 60)
		sec = 59; /* a leap second is not representable in time_t */
	int64_t days = days_from_civil(year, (unsigned)month, (unsigned)day);
	int64_t t = days * 86400 + hour * 3600 + min * 60 + sec - (int64_t)offset * 60;
	*utc_r = (time_t)t;
	*offset_min_r = offset;
	return 0;
}
