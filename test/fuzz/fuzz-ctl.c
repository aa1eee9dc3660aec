/*
 * fuzz-ctl: the control socket's request parser (ctlsock.h), the text a
 * client, any local process that can reach the socket, sends the daemon.
 * The first byte sets how the rest is cut into reads (1..256 bytes each,
 * 0: one read), so line framing across reads is exercised as the daemon
 * sees it. The rest is also put through the TEXT encoding.
 *
 * Besides memory safety (ASan), it checks the parser's contract: DONE
 * means a request with exactly one of a token, a rollback site and a logs
 * site (issue 15; a tail only with logs); REFUSED means a reason
 * (never a copy of what was sent beyond a short, printable verb); MORE
 * means no reason; once decided, the answer never changes; encoding then
 * decoding gives back the text.
 */
#include "bg.h"
#include "ctlsock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const uint8_t *data, size_t size)
{
	char *text = bg_xstrndup((const char *)data, size); /* up to a NUL */
	char *enc = ctls_encode(text);
	if (strchr(enc, '\n') || strchr(enc, '\r')) {
		BG_BUG("encoded text holds a line break");
	}
	char *dec = ctls_decode(enc);
	if (strcmp(dec, text) != 0) {
		BG_BUG("decode(encode(x)) != x");
	}
	free(dec);
	free(enc);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctls_parser p;
	enum ctls_parse_rc rc = CTLS_PARSE_MORE;

	if (size == 0 || size > 4 * CTLS_LINE_MAX) {
		return 0;
	}
	size_t cut = data[0];
	data++;
	size--;
	check_text(data, size);
	ctls_parser_init(&p);
	for (size_t off = 0; off < size && rc == CTLS_PARSE_MORE;) {
		size_t n = cut ? cut : size;
		if (n > size - off) {
			n = size - off;
		}
		char *why = NULL;
		rc = ctls_parser_feed(&p, (const char *)data + off, n, &why);
		if ((rc == CTLS_PARSE_REFUSED) != (why != NULL)) {
			BG_BUG("a refusal without a reason, or a reason without a refusal");
		}
		if (why && strlen(why) > 200) {
			BG_BUG("a refusal that repeats the request");
		}
		free(why);
		off += n;
	}
	if (rc == CTLS_PARSE_DONE) {
		/* issue 15: "logs SITE" is the third verb; a tail only with it, 1..200. */
		int verbs = !!p.req.token + !!p.req.rollback_site + !!p.req.logs_site;
		if (verbs != 1) {
			BG_BUG("a complete request needs exactly one of token, rollback site and logs site");
		}
		if (p.req.logs_tail && (!p.req.logs_site || p.req.logs_tail > CTLS_LOGS_TAIL_MAX)) {
			BG_BUG("a tail without logs, or over CTLS_LOGS_TAIL_MAX");
		}
	}
	if (rc != CTLS_PARSE_MORE) {
		char *why = NULL;
		if (ctls_parser_feed(&p, "go\n", 3, &why) != rc) {
			BG_BUG("a decided request changed its answer");
		}
		free(why);
	}
	ctls_parser_release(&p);
	return 0;
}
