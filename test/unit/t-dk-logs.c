/*
 * t-dk-logs: the log stream framing (dk-logs.h) as pure functions over
 * bytes: frames of both streams, frames split across reads at every byte,
 * a TTY's raw bytes, a truncated frame and a header that is not framing,
 * then the line splitter (partial lines, CRLF, overlong lines). The real
 * engine's streams are in test/docker/t-logs.c.
 */
#include "bg.h"
#include "dk-logs.h"
#include "th.h"

/* What the demultiplexer and the line splitter hand over, as text:
 * "1:abc|2:err|" for emitted pieces or lines. */
struct sink {
	struct bg_buf b;
};

static void sink_emit(void *arg, enum dk_log_stream s, const char *data, size_t len)
{
	struct sink *k = arg;
	bg_buf_addf(&k->b, "%d:", (int)s);
	bg_buf_add(&k->b, data, len);
	bg_buf_addch(&k->b, '|');
}

static void sink_line(void *arg, size_t index, enum dk_log_stream s, const char *line,
		size_t len)
{
	struct sink *k = arg;
	bg_buf_addf(&k->b, "%zu.%d:", index, (int)s);
	bg_buf_add(&k->b, line, len);
	bg_buf_addch(&k->b, '|');
}

/* One frame: header + payload appended to b. */
static void frame(struct bg_buf *b, int stream, const char *payload)
{
	size_t n = strlen(payload);
	unsigned char h[8] = {(unsigned char)stream, 0, 0, 0, (unsigned char)(n >> 24),
		(unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
	bg_buf_add(b, h, sizeof(h));
	bg_buf_add(b, payload, n);
}

/* The demultiplexer feeding one line splitter per stream (index 0). */
struct chain {
	struct dk_logs_lines l[3];
	struct sink lines;
};

static void chain_emit(void *arg, enum dk_log_stream s, const char *data, size_t len)
{
	struct chain *c = arg;
	dk_logs_lines_feed(&c->l[s], data, len, sink_line, &c->lines, 0, s);
}

/* Demultiplex in, fed in pieces of `step` bytes, into lines; *len their size. */
static char *demux_lines(const struct bg_buf *in, size_t step, bool tty, int *fin,
		size_t *len)
{
	struct dk_logs_demux dm;
	struct chain c = {.lines = {BG_BUF_INIT}};

	for (int s = 0; s < 3; s++) {
		dk_logs_lines_init(&c.l[s]);
	}
	dk_logs_demux_init(&dm, tty);
	for (size_t off = 0; off < in->len; off += step) {
		size_t n = in->len - off < step ? in->len - off : step;
		assert_int_equal(dk_logs_demux_feed(&dm, in->data + off, n, chain_emit, &c), 0);
	}
	*fin = dk_logs_demux_finish(&dm);
	for (int s = 0; s < 3; s++) {
		dk_logs_lines_flush(&c.l[s], sink_line, &c.lines, 0, (enum dk_log_stream)s);
		dk_logs_lines_release(&c.l[s]);
	}
	return bg_buf_detach(&c.lines.b, len);
}

static void test_frames(void **state)
{
	struct bg_buf in = BG_BUF_INIT;
	(void)state;

	frame(&in, 1, "out one\n");
	frame(&in, 2, "err one\n");
	frame(&in, 1, "");          /* empty frame: legal, nothing */
	frame(&in, 1, "out two\nout three\n");
	frame(&in, 2, "err ");      /* one line in two frames */
	frame(&in, 2, "two\n");
	/* Every split point, down to one byte per read, gives the same lines. */
	for (size_t step = 1; step <= in.len; step++) {
		int fin = -1;
		char *got = demux_lines(&in, step, false, &fin, NULL);
		assert_int_equal(fin, 0);
		assert_string_equal(got, "0.1:out one|0.2:err one|0.1:out two|0.1:out three|"
				"0.2:err two|");
		free(got);
	}
	bg_buf_release(&in);
}

static void test_tty_raw(void **state)
{
	/* A TTY's bytes look nothing like frames and must pass untouched,
	 * even ones that would be a header: all stdout. */
	static const char raw[] = "\x01\x00\x00\x00hello\r\nworld\r\n";
	struct bg_buf in = BG_BUF_INIT;
	int fin = -1;
	(void)state;

	bg_buf_add(&in, raw, sizeof(raw) - 1);
	for (size_t step = 1; step <= in.len; step++) {
		size_t len = 0;
		char *got = demux_lines(&in, step, true, &fin, &len);
		static const char want[] = "0.1:\x01\x00\x00\x00hello|0.1:world|";
		assert_int_equal(fin, 0);
		assert_int_equal(len, sizeof(want) - 1);
		assert_memory_equal(got, want, len);
		free(got);
	}
	bg_buf_release(&in);
}

static void test_truncated(void **state)
{
	struct bg_buf in = BG_BUF_INIT;
	int fin = 0;
	char *got;
	(void)state;

	/* Payload cut short: what came is delivered, finish says so. */
	frame(&in, 1, "whole\n");
	frame(&in, 1, "cut off here\n");
	in.len -= 6;
	got = demux_lines(&in, 3, false, &fin, NULL);
	assert_int_equal(fin, BG_EPARSE);
	assert_string_equal(got, "0.1:whole|0.1:cut off|");
	free(got);
	/* A header cut short. */
	bg_buf_reset(&in);
	frame(&in, 2, "x\n");
	bg_buf_add(&in, "\x01\x00\x00", 3);
	got = demux_lines(&in, 1, false, &fin, NULL);
	assert_int_equal(fin, BG_EPARSE);
	assert_string_equal(got, "0.2:x|");
	free(got);
	bg_buf_release(&in);
}

static void test_bad_header(void **state)
{
	struct dk_logs_demux dm;
	struct sink k = {BG_BUF_INIT};
	(void)state;

	/* Stream type 7, and non-zero padding: not the framing. */
	dk_logs_demux_init(&dm, false);
	assert_int_equal(dk_logs_demux_feed(&dm, "\x07\x00\x00\x00\x00\x00\x00\x01x", 9,
			sink_emit, &k), BG_EPARSE);
	assert_int_equal(dk_logs_demux_feed(&dm, "\x01", 1, sink_emit, &k), BG_EPARSE);
	assert_int_equal(dk_logs_demux_finish(&dm), BG_EPARSE);
	dk_logs_demux_init(&dm, false);
	assert_int_equal(dk_logs_demux_feed(&dm, "\x01\x00\x01\x00\x00\x00\x00\x01x", 9,
			sink_emit, &k), BG_EPARSE);
	assert_int_equal(k.b.len, 0);
	bg_buf_release(&k.b);
}

static void test_lines(void **state)
{
	struct dk_logs_lines l;
	struct sink k = {BG_BUF_INIT};
	char *big = bg_xmalloc(DK_LOG_LINE_MAX + 10);
	(void)state;

	dk_logs_lines_init(&l);
	dk_logs_lines_feed(&l, "a\r\nb\rb", 6, sink_line, &k, 3, DK_LOG_STDERR);
	dk_logs_lines_feed(&l, "c\n\nd", 4, sink_line, &k, 3, DK_LOG_STDERR);
	dk_logs_lines_flush(&l, sink_line, &k, 3, DK_LOG_STDERR);
	dk_logs_lines_flush(&l, sink_line, &k, 3, DK_LOG_STDERR); /* nothing left */
	assert_string_equal(k.b.data, "3.2:a|3.2:b\rbc|3.2:|3.2:d|");
	/* An overlong line comes out in pieces of DK_LOG_LINE_MAX. */
	bg_buf_reset(&k.b);
	memset(big, 'x', DK_LOG_LINE_MAX + 9);
	big[DK_LOG_LINE_MAX + 9] = '\n';
	dk_logs_lines_feed(&l, "yy", 2, sink_line, &k, 0, DK_LOG_STDOUT);
	dk_logs_lines_feed(&l, big, DK_LOG_LINE_MAX + 10, sink_line, &k, 0, DK_LOG_STDOUT);
	assert_int_equal(k.b.len, 2 * 4 + DK_LOG_LINE_MAX + 11 + 2);
	assert_memory_equal(k.b.data, "0.1:yyxx", 8);
	assert_string_equal(k.b.data + k.b.len - 17, "|0.1:xxxxxxxxxxx|");
	dk_logs_lines_release(&l);
	dk_logs_lines_release(NULL);
	bg_buf_release(&k.b);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_tty_raw),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
