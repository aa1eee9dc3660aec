/*
 * t-dk-url: URL escaping of the Docker client. It is libcurl's now
 * (curl_easy_escape, per '/'-separated segment for an image reference in a
 * path); the URLs sent to the engine must stay byte-identical to what the
 * client's own escaper produced before, which is kept below as the oracle
 * (ADR 0014). Its own file: t-dk-parse links without libcurl.
 */
#include "bg.h"
#include "dk.h"
#include "dk-int.h"
#include "th.h"

#include <ctype.h>

/* The client's escaping (dk-int.h): a query value, or a path keeping '/'. */
static char *esc(const char *s, bool path)
{
	return path ? dk__url_escape_path(s) : dk__url_escape(s);
}

/* dk_url_escape as it was up to f37bc55 (dk.c:120), the reference. */
static char *old_url_escape(const char *s, bool path)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = bg_xmalloc(3 * n + 1), *p = out;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
				(path && c == '/')) {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = '\0';
	return out;
}

static void test_url_escape(void **state)
{
	char *s = esc("registry:5000/a b/c@sha256:1&x=\"y\"", false);
	assert_string_equal(s, "registry%3A5000%2Fa%20b%2Fc%40sha256%3A1%26x%3D%22y%22");
	free(s);
	s = esc("registry:5000/a/b:tag", true);
	assert_string_equal(s, "registry%3A5000/a/b%3Atag");
	free(s);
	s = esc("safe-name_1.2~", false);
	assert_string_equal(s, "safe-name_1.2~");
	free(s);
}

static void same_bytes(const char *in)
{
	for (int path = 0; path <= 1; path++) {
		char *want = old_url_escape(in, path);
		char *got = esc(in, path);
		assert_string_equal(got, want);
		free(want);
		free(got);
	}
}

static void test_url_escape_same_bytes(void **state)
{
	static const char *const inputs[] = {
		"", "/", "//", "a/", "/a", "a//b", "///x///",
		"bluegreen-test/web:v1", "registry:5000/a/b:tag",
		"registry.example.com:443/team/app@sha256:0123456789abcdef",
		"name@sha256:abc", "a b", "a+b", "100%", "%2F", "%%", "a%20b/c%2fd",
		"~-._", "ABCxyz019", "!*'();:@&=+$,/?#[]", "\"<>\\^`{|}",
		"\xc3\xbcnic\xc3\xb6\x64\x65/\xe6\x97\xa5\xe6\x9c\xac" /* "ünicöde/日本" */, "\xf0\x9f\x90\xb3:latest",
		"\x01\x1f\x7f\x80\xff", "tab\there", "new\nline",
		"{\"name\":[\"bgt-1-web\"]}", "{\"label\":[\"io.bluegreen.managed=true\"]}",
	};
	char all[256];

	for (size_t i = 0; i < BG_ARRAY_SIZE(inputs); i++) {
		same_bytes(inputs[i]);
	}
	/* Every byte but NUL, in one string and one by one. */
	for (int c = 1; c < 256; c++) {
		all[c - 1] = (char)c;
		char one[2] = {(char)c, '\0'};
		same_bytes(one);
	}
	all[255] = '\0';
	same_bytes(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_escape),
		cmocka_unit_test(test_url_escape_same_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
