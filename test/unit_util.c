/*
 * Unit tests for src/util.c: the helpers (sanitising server text, dates, writes).
 * Linked into test/unit; group util in unit.c's table.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#define LIBBSD_OPENBSD_VIS
#include <bsd/vis.h>

#include "relayq.h"
#include "unit.h"

/* hostile server text; a literal with its NULs */
#define LIT(s)	{ s, sizeof(s) - 1 }
static const struct {
	const char	*s;
	size_t		 len;
} hostile[] = {
	LIT("a\x01\tb\n\r\x1b[0m\\"),
	LIT("\xc3\xa9\x7f\x80\xff z"),
	LIT("x\0" "1y\0"),
	LIT("\\\\^A\\M-a\\001"),
	LIT("\r\n.\r\nQUIT\r\n"),
};
#undef LIT

/* Printable ASCII only, and unvis(3) gives the input back. */
static void
sanitise_roundtrip(const char *in, size_t len)
{
	char	 out[512], back[512], shown[128];
	size_t	 i;
	int	 n;

	unit_escape(shown, sizeof(shown), in, len);
	util_sanitise(out, sizeof(out), in, len);
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 ||
		    (unsigned char)out[i] > 0x7e) {
			EXPECT(0, "\"%s\": raw byte 0x%02x in the output", shown,
			    (unsigned char)out[i]);
			return;
		}
	n = strunvis(back, out);
	EXPECT(n == (int)len && memcmp(back, in, len) == 0,
	    "\"%s\" sanitised to \"%s\" does not decode back", shown, out);
}

/*
 * Truncated to `sz': a prefix of the whole sanitised text that ends
 * between two escapes, so what follows it in the whole text decodes to
 * the rest of the input.  (A dangling '\\' would eat a closing quote.)
 */
static void
sanitise_prefix(const char *in, size_t len, size_t sz)
{
	char	 out[64], whole[512], back[512], shown[128];
	size_t	 ol;
	int	 n, m;

	unit_escape(shown, sizeof(shown), in, len);
	memset(out, 'Q', sizeof(out));
	util_sanitise(out, sz, in, len);
	util_sanitise(whole, sizeof(whole), in, len);
	if (memchr(out, '\0', sz) == NULL) {
		EXPECT(0, "\"%s\" into %zu bytes: not NUL-terminated", shown,
		    sz);
		return;
	}
	ol = strlen(out);
	n = strunvis(back, out);
	if (strncmp(whole, out, ol) != 0 || n < 0 || (size_t)n > len ||
	    memcmp(back, in, (size_t)n) != 0) {
		EXPECT(0, "\"%s\" into %zu bytes: \"%s\" is not a prefix of "
		    "\"%s\"", shown, sz, out, whole);
		return;
	}
	m = strunvis(back, whole + ol);
	EXPECT(m == (int)(len - (size_t)n) && memcmp(back, in + n, (size_t)m)
	    == 0, "\"%s\" into %zu bytes: \"%s\" cuts an escape of \"%s\"",
	    shown, sz, out, whole);
}

void
test_util(void)
{
	static const struct {
		const char	*in;
		time_t		 want;
	} good[] = {
		{ "90", 90 }, { "90s", 90 }, { "5m", 300 }, { "1h", 3600 },
		{ "5d", 432000 }, { "3660d", 3660LL * 86400 },
	};
	static const char *const bad[] = {
		"", "m", "s", "-1", "-5m", "99999d", "3661d", "5x", "5 m",
		"1.5h", "5mm", "0x10", "99999999999999999999999999999999",
	};
	char	 dst[256], small[16];
	time_t	 t;
	size_t	 i, j;

	CASE("util: durations in seconds, m, h, d");
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		t = -7;
		EXPECT_INT(good[i].in, util_duration(good[i].in, &t), 0);
		EXPECT_INT(good[i].in, t, good[i].want);
	}
	END();

	CASE("util: bad or over 10 year durations rejected, out untouched");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = -7;
		EXPECT_INT(bad[i], util_duration(bad[i], &t), -1);
		EXPECT_INT(bad[i], t, -7);
	}
	END();

	CASE("util: sanitise leaves printable text as it is");
	util_sanitise(dst, sizeof(dst), "250 2.0.0 Ok: queued as <ABC> ~!", 32);
	EXPECT_STR("sanitised", dst, "250 2.0.0 Ok: queued as <ABC> ~!");
	END();

	CASE("util: sanitise escapes controls, 8-bit, DEL, backslash "
	    "reversibly");
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		sanitise_roundtrip(hostile[i].s, hostile[i].len);
	END();

	CASE("util: sanitise truncates to the buffer, always NUL-terminated");
	memset(small, 'Q', sizeof(small));
	util_sanitise(small, 8, "abcdefghijklmnop", 16);
	EXPECT_MEM("8-byte buffer", small, 9, "abcdefg\0Q", 9);
	memset(small, 'Q', sizeof(small));
	util_sanitise(small, 1, "abc", 3);
	EXPECT_MEM("1-byte buffer", small, 2, "\0Q", 2);
	memset(small, 'Q', sizeof(small));
	util_sanitise(small, 0, "abc", 3);
	EXPECT(small[0] == 'Q', "0-byte buffer written");
	memset(small, 'Q', sizeof(small));
	util_sanitise(small, 6, "\x01\x01\x01\x01", 4);
	EXPECT(memchr(small, '\0', 6) != NULL, "not NUL-terminated");
	END();

	CASE("util: sanitise truncation never leaves half an escape");
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		for (j = 1; j < 40; j++)
			sanitise_prefix(hostile[i].s, hostile[i].len, j);
	END();

	{
		char	*tz = getenv("TZ") != NULL ? strdup(getenv("TZ")) : NULL;

		(void)setenv("TZ", "IST-5:30", 1);
		tzset();
		util_rfc5322_date(dst, sizeof(dst), 31536000);
		CASE("util: RFC 5322 date in local time with a numeric zone");
		EXPECT_STR("date", dst, "Fri, 01 Jan 1971 05:30:00 +0530");
		END();
		if (tz != NULL)
			(void)setenv("TZ", tz, 1);
		else
			(void)unsetenv("TZ");
		tzset();
		free(tz);
	}

	{
		int	 p[2];

		CASE("util: writeall reports a failed write");
		if (pipe(p) == -1)
			EXPECT(0, "pipe: %s", strerror(errno));
		else {
			(void)close(p[0]);
			errno = 0;
			EXPECT_INT("to a pipe nobody reads", util_writeall(p[1],
			    "abc", 3), -1);
			EXPECT_INT("errno", errno, EPIPE);
			(void)close(p[1]);
		}
		END();
	}

	CASE("util: fsync_dir on a directory, -1 on a missing one");
	EXPECT_INT("tmpdir", util_fsync_dir(tmp_dir()), 0);
	EXPECT_INT("missing", util_fsync_dir(tmp_path("no-such-dir")), -1);
	END();
}
