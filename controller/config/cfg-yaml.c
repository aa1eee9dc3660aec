/*
 * cfg-yaml: YAML text to a generic tree, through libyaml's event parser.
 * This is where hostile input is met, so every limit is enforced here,
 * before any work is done on what the input asks for: the file size, the
 * nesting depth (an explicit stack, no recursion), and the number of
 * values once aliases are expanded (each alias is charged the size of
 * what it repeats, so a "billion laughs" file stops after a few thousand
 * events). Anything libyaml refuses becomes one located message; libyaml's
 * marks are 0-based, ours 1-based. Duplicate keys and merge keys are
 * reported without stopping, so the rest of the file is still checked.
 */
#include "bg.h"
#include "cfg-int.h"

#include <yaml.h>

void cfg__arena_release(struct cfg__arena *a)
{
	if (!a) {
		return;
	}
	for (size_t i = 0; i < a->n; i++) {
		struct cfg__node *n = a->nodes[i];
		free(n->str);
		free(n->items);
		free(n->pairs);
		free(n);
	}
	free(a->nodes);
	a->nodes = NULL;
	a->n = a->cap = 0;
}

struct cfg__node *cfg__node_new(struct cfg__arena *a, enum cfg__node_kind kind,
		const struct bg_loc *loc)
{
	struct cfg__node *n = bg_xcalloc(1, sizeof(*n));
	n->kind = kind;
	n->size = 1;
	if (loc) {
		n->loc = *loc;
	}
	BG_GROW(a->nodes, a->cap, a->n + 1);
	a->nodes[a->n++] = n;
	return n;
}

void cfg__seq_push(struct cfg__node *seq, struct cfg__node *item)
{
	BG_GROW(seq->items, seq->cap_items, seq->n_items + 1);
	seq->items[seq->n_items++] = item;
}

void cfg__map_push(struct cfg__node *map, struct cfg__node *key, struct cfg__node *val)
{
	BG_GROW(map->pairs, map->cap_pairs, map->n_pairs + 1);
	map->pairs[map->n_pairs].key = key;
	map->pairs[map->n_pairs].val = val;
	map->n_pairs++;
}

const struct cfg__pair *cfg__map_pair(const struct cfg__node *map, const char *key)
{
	if (!map || map->kind != CFG__MAP) {
		return NULL;
	}
	for (size_t i = 0; i < map->n_pairs; i++) {
		if (strcmp(map->pairs[i].key->str, key) == 0) {
			return &map->pairs[i];
		}
	}
	return NULL;
}

struct cfg__node *cfg__map_get(const struct cfg__node *map, const char *key)
{
	const struct cfg__pair *p = cfg__map_pair(map, key);
	return p ? p->val : NULL;
}

struct strref {
	const char *s;
	size_t i;
};

static int strref_cmp(const void *a, const void *b)
{
	const struct strref *x = a, *y = b;
	int r = strcmp(x->s, y->s);
	if (r) {
		return r;
	}
	return x->i < y->i ? -1 : x->i > y->i;
}

size_t *cfg__repeats(const char *const *strs, size_t n)
{
	size_t *first = bg_xcalloc(n ? n : 1, sizeof(*first));
	struct strref *refs = bg_xcalloc(n ? n : 1, sizeof(*refs));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (strs[i]) {
			refs[k].s = strs[i];
			refs[k].i = i;
			k++;
		}
	}
	qsort(refs, k, sizeof(*refs), strref_cmp);
	for (size_t j = 1, head = 0; j < k; j++) {
		if (strcmp(refs[j].s, refs[head].s) == 0) {
			first[refs[j].i] = refs[head].i + 1;
		} else {
			head = j;
		}
	}
	free(refs);
	return first;
}

static int pair_cmp(const void *a, const void *b)
{
	const struct cfg__pair *x = *(const struct cfg__pair *const *)a;
	const struct cfg__pair *y = *(const struct cfg__pair *const *)b;
	return strcmp(x->key->str, y->key->str);
}

const struct cfg__pair **cfg__pairs_sorted(const struct cfg__node *map)
{
	size_t n = map && map->kind == CFG__MAP ? map->n_pairs : 0;
	const struct cfg__pair **v = bg_xcalloc(n ? n : 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		v[i] = &map->pairs[i];
	}
	qsort(v, n, sizeof(*v), pair_cmp);
	return v;
}

static int pair_key_cmp(const void *key, const void *elem)
{
	return strcmp(key, (*(const struct cfg__pair *const *)elem)->key->str);
}

const struct cfg__pair *cfg__pairs_find(const struct cfg__pair *const *sorted, size_t n,
		const char *key)
{
	const struct cfg__pair *const *hit;

	if (n == 0) {
		return NULL; /* bsearch wants a valid array even for n == 0 */
	}
	hit = bsearch(key, sorted, n, sizeof(*sorted), pair_key_cmp);
	return hit ? *hit : NULL;
}

static size_t name_hash(const char *s)
{
	/* FNV-1a: file names are short, and this is not exposed to an attacker
	 * who could pick colliding names (they are the operator's own files). */
	size_t h = 1469598103934665603ull & SIZE_MAX;
	for (; *s; s++) {
		h = (h ^ (unsigned char)*s) * (1099511628211ull & SIZE_MAX);
	}
	return h;
}

static void pool_rehash(struct cfg__pool *p, size_t n_slots)
{
	free(p->slots);
	p->slots = bg_xcalloc(n_slots, sizeof(*p->slots));
	p->n_slots = n_slots;
	for (size_t i = 0; i < p->names.n; i++) {
		size_t j = name_hash(p->names.v[i]) & (n_slots - 1);
		while (p->slots[j]) {
			j = (j + 1) & (n_slots - 1);
		}
		p->slots[j] = i + 1;
	}
}

const char *cfg__pool_intern(struct cfg__pool *p, const char *name)
{
	if (p->n_slots < 2 * (p->names.n + 1)) {
		pool_rehash(p, p->n_slots ? 2 * p->n_slots : 64);
	}
	size_t j = name_hash(name) & (p->n_slots - 1);
	while (p->slots[j]) {
		const char *have = p->names.v[p->slots[j] - 1];
		if (strcmp(have, name) == 0) {
			return have;
		}
		j = (j + 1) & (p->n_slots - 1);
	}
	bg_strv_push(&p->names, name);
	p->slots[j] = p->names.n;
	return p->names.v[p->names.n - 1];
}

void cfg__pool_release(struct cfg__pool *p)
{
	if (p) {
		bg_strv_release(&p->names);
		free(p->slots);
		p->slots = NULL;
		p->n_slots = 0;
	}
}

/* ---- scalar types (YAML 1.2 core schema) ---- */

static bool all_in(const char *s, const char *set)
{
	if (!*s) {
		return false;
	}
	return s[strspn(s, set)] == '\0';
}

static bool is_core_int(const char *s)
{
	if (s[0] == '0' && s[1] == 'o') {
		return all_in(s + 2, "01234567");
	}
	if (s[0] == '0' && s[1] == 'x') {
		return all_in(s + 2, "0123456789abcdefABCDEF");
	}
	if (*s == '-' || *s == '+') {
		s++;
	}
	return all_in(s, "0123456789");
}

static bool is_core_float(const char *s)
{
	static const char *const special[] = {".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN"};
	const char *p = s;
	if (*p == '-' || *p == '+') {
		p++;
	}
	for (size_t i = 0; i < BG_ARRAY_SIZE(special); i++) {
		/* .nan takes no sign. */
		if (strcmp(i < 3 ? p : s, special[i]) == 0) {
			return true;
		}
	}
	size_t digits = strspn(p, "0123456789");
	p += digits;
	if (*p == '.') {
		size_t frac = strspn(p + 1, "0123456789");
		if (!digits && !frac) {
			return false;
		}
		p += 1 + frac;
	} else if (!digits) {
		return false;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+') {
			p++;
		}
		size_t exp = strspn(p, "0123456789");
		if (!exp) {
			return false;
		}
		p += exp;
	}
	return *p == '\0';
}

enum cfg__stype cfg__text_type(const char *s)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	static const char *const bools[] = {"true", "True", "TRUE", "false", "False", "FALSE"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(nulls); i++) {
		if (strcmp(s, nulls[i]) == 0) {
			return CFG__S_NULL;
		}
	}
	for (size_t i = 0; i < BG_ARRAY_SIZE(bools); i++) {
		if (strcmp(s, bools[i]) == 0) {
			return CFG__S_BOOL;
		}
	}
	if (is_core_int(s)) {
		return CFG__S_INT;
	}
	if (is_core_float(s)) {
		return CFG__S_FLOAT;
	}
	return CFG__S_STR;
}

enum cfg__stype cfg__scalar_type(const struct cfg__node *n)
{
	if (n->kind != CFG__SCALAR || !n->plain) {
		return CFG__S_STR;
	}
	return cfg__text_type(n->str);
}

char *cfg__quote(const char *s)
{
	struct bg_buf b = BG_BUF_INIT;
	const size_t max = 60;
	const unsigned char *p = (const unsigned char *)s;

	for (; *p; p++) {
		/* Cut only at the start of a UTF-8 character. */
		if (b.len >= max && (*p & 0xc0) != 0x80) {
			bg_buf_adds(&b, "...");
			break;
		}
		if (*p == '\\' || *p == '"' || *p == '\'') {
			bg_buf_addch(&b, '\\');
			bg_buf_addch(&b, (char)*p);
		} else if (*p < 0x20 || *p == 0x7f) {
			bg_buf_addf(&b, "\\x%02x", *p);
		} else {
			bg_buf_addch(&b, (char)*p);
		}
	}
	return bg_buf_detach(&b, NULL);
}

char *cfg__describe(const struct cfg__node *n)
{
	if (n->kind == CFG__MAP) {
		return bg_xstrdup("a mapping");
	}
	if (n->kind == CFG__SEQ) {
		return bg_xstrdup("a list");
	}
	char *q = cfg__quote(n->str);
	char *out;
	enum cfg__stype t = cfg__scalar_type(n);
	if (t == CFG__S_NULL && !*n->str) {
		out = bg_xstrdup("nothing");
	} else if (!*n->str) {
		out = bg_xstrdup("an empty string");
	} else if (t != CFG__S_STR) {
		out = bg_xasprintf("%s", q);
	} else if (!n->plain && cfg__text_type(n->str) != CFG__S_STR) {
		/* "8080" in quotes: say why it is not the number it looks like. */
		out = bg_xasprintf("the string \"%s\"", q);
	} else {
		out = bg_xasprintf("\"%s\"", q);
	}
	free(q);
	return out;
}

/* ---- the parser ---- */

/* Anchor name -> node, open addressing; anchors may be redefined. */
struct anchor_slot {
	char *name;
	struct cfg__node *node;
};

struct anchors {
	struct anchor_slot *slots;
	size_t n, cap; /* cap is 0 or a power of two */
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++) {
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	}
	return h;
}

static struct anchor_slot *anchors_find(struct anchors *t, const char *name)
{
	if (!t->cap) {
		return NULL;
	}
	for (size_t i = hash_str(name) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		if (!t->slots[i].name || strcmp(t->slots[i].name, name) == 0) {
			return &t->slots[i];
		}
	}
}

static void anchors_set(struct anchors *t, const char *name, struct cfg__node *node)
{
	if ((t->n + 1) * 2 > t->cap) {
		struct anchors bigger = {
			.cap = t->cap ? t->cap * 2 : 16,
		};
		bigger.slots = bg_xcalloc(bigger.cap, sizeof(*bigger.slots));
		for (size_t i = 0; i < t->cap; i++) {
			if (t->slots[i].name) {
				*anchors_find(&bigger, t->slots[i].name) = t->slots[i];
				bigger.n++;
			}
		}
		free(t->slots);
		*t = bigger;
	}
	struct anchor_slot *s = anchors_find(t, name);
	if (!s->name) {
		s->name = bg_xstrdup(name);
		t->n++;
	}
	s->node = node;
}

static void anchors_release(struct anchors *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		free(t->slots[i].name);
	}
	free(t->slots);
}

/*
 * Key index of a mapping under construction, so duplicate keys are found
 * in constant time even in a mapping of 100000 keys.
 */
struct keyset {
	size_t *slots; /* pair index + 1; 0 = empty */
	size_t cap;
};

struct frame {
	struct cfg__node *node;
	struct cfg__node *key; /* mapping: the key waiting for its value */
	bool drop_value;       /* mapping: that key was refused */
	char *anchor;          /* registered when the collection ends */
	struct keyset keys;
};

struct parser {
	struct cfg__arena *arena;
	const char *name;
	const char *data;
	size_t len;
	struct bg_diag *d;
	struct frame *stack;
	size_t depth, cap;
	struct anchors anchors;
	size_t total; /* values so far, aliases expanded */
	struct cfg__node *root;
	bool failed;
};

static struct bg_loc mark_loc(const struct parser *p, yaml_mark_t m)
{
	struct bg_loc loc = {.file = p->name, .line = (unsigned)m.line + 1,
			.col = (unsigned)m.column + 1};
	return loc;
}

static void fail(struct parser *p, const struct bg_loc *loc, const char *fmt, ...)
	BG_PRINTF(3, 4);

static void fail(struct parser *p, const struct bg_loc *loc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bg_diag_vadd(p->d, BG_SEV_ERROR, loc, fmt, ap);
	va_end(ap);
	p->failed = true;
}

static size_t keyset_find(const struct keyset *ks, const struct cfg__node *map,
		const char *key, size_t *slot)
{
	size_t i = hash_str(key) & (ks->cap - 1);
	for (;; i = (i + 1) & (ks->cap - 1)) {
		size_t v = ks->slots[i];
		if (!v || strcmp(map->pairs[v - 1].key->str, key) == 0) {
			*slot = i;
			return v;
		}
	}
}

static void keyset_add(struct keyset *ks, const struct cfg__node *map, size_t index)
{
	size_t slot;
	if ((map->n_pairs + 1) * 2 > ks->cap) {
		free(ks->slots);
		ks->cap = ks->cap ? ks->cap * 2 : 16;
		ks->slots = bg_xcalloc(ks->cap, sizeof(*ks->slots));
		for (size_t i = 0; i < map->n_pairs; i++) {
			if (i == index) {
				continue;
			}
			keyset_find(ks, map, map->pairs[i].key->str, &slot);
			ks->slots[slot] = i + 1;
		}
	}
	keyset_find(ks, map, map->pairs[index].key->str, &slot);
	ks->slots[slot] = index + 1;
}

static bool charge(struct parser *p, size_t n, const struct bg_loc *loc)
{
	p->total += n;
	if (p->total > CFG_MAX_NODES) {
		fail(p, loc, "document is too large: more than %d values once "
				"aliases are expanded", CFG_MAX_NODES);
		return false;
	}
	return true;
}

/* A finished node (scalar, alias or collection) goes to its parent. */
static void add_value(struct parser *p, struct cfg__node *n, const struct bg_loc *loc)
{
	if (p->depth == 0) {
		p->root = n;
		return;
	}
	struct frame *f = &p->stack[p->depth - 1];
	f->node->size += n->size;
	if (f->node->kind == CFG__SEQ) {
		cfg__seq_push(f->node, n);
		return;
	}
	if (f->key) {
		if (!f->drop_value) {
			cfg__map_push(f->node, f->key, n);
			keyset_add(&f->keys, f->node, f->node->n_pairs - 1);
		}
		f->key = NULL;
		f->drop_value = false;
		return;
	}
	if (n->kind != CFG__SCALAR) {
		fail(p, loc, "a mapping key must be a plain string, not %s",
				n->kind == CFG__MAP ? "a mapping" : "a list");
		return;
	}
	f->key = n;
	f->drop_value = false;
	if (n->plain && strcmp(n->str, "<<") == 0) {
		/* Not an error that stops the parse: the rest is still checked. */
		bg_diag_error(p->d, &n->loc, "merge keys ('<<') are not supported: "
				"write the keys out, or use an alias as a whole value");
		f->drop_value = true;
		return;
	}
	if (f->keys.cap) {
		size_t slot;
		size_t prev = keyset_find(&f->keys, f->node, n->str, &slot);
		if (prev) {
			char *q = cfg__quote(n->str);
			bg_diag_error(p->d, &n->loc, "duplicate key '%s' (first defined at line %u)",
					q, f->node->pairs[prev - 1].key->loc.line);
			free(q);
			f->drop_value = true;
		}
	}
}

static bool check_tag(struct parser *p, const yaml_char_t *tag, const struct bg_loc *loc)
{
	if (!tag) {
		return true;
	}
	char *q = cfg__quote((const char *)tag);
	fail(p, loc, "YAML tags are not supported (found '%s')", q);
	free(q);
	return false;
}

static void push_collection(struct parser *p, enum cfg__node_kind kind,
		const yaml_char_t *anchor, const struct bg_loc *loc)
{
	if (p->depth >= CFG_MAX_DEPTH) {
		fail(p, loc, "nesting is too deep (more than %d levels)", CFG_MAX_DEPTH);
		return;
	}
	if (!charge(p, 1, loc)) {
		return;
	}
	BG_GROW(p->stack, p->cap, p->depth + 1);
	struct frame *f = &p->stack[p->depth++];
	memset(f, 0, sizeof(*f));
	f->node = cfg__node_new(p->arena, kind, loc);
	f->anchor = anchor ? bg_xstrdup((const char *)anchor) : NULL;
}

static void pop_collection(struct parser *p)
{
	struct frame f = p->stack[--p->depth];
	if (f.anchor) {
		anchors_set(&p->anchors, f.anchor, f.node);
	}
	free(f.anchor);
	free(f.keys.slots);
	add_value(p, f.node, &f.node->loc);
}

static void on_scalar(struct parser *p, const yaml_event_t *ev, const struct bg_loc *loc)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;

	if (!check_tag(p, ev->data.scalar.tag, loc) || !charge(p, 1, loc)) {
		return;
	}
	if (memchr(v, '\0', len)) {
		fail(p, loc, "NUL characters are not allowed in values");
		return;
	}
	struct cfg__node *n = cfg__node_new(p->arena, CFG__SCALAR, loc);
	n->str = bg_xstrndup(v, len);
	n->len = len;
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	if (ev->data.scalar.anchor) {
		anchors_set(&p->anchors, (const char *)ev->data.scalar.anchor, n);
	}
	add_value(p, n, loc);
}

static void on_alias(struct parser *p, const yaml_event_t *ev, const struct bg_loc *loc)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct anchor_slot *s = anchors_find(&p->anchors, name);
	if (!s || !s->name) {
		char *q = cfg__quote(name);
		fail(p, loc, "unknown anchor '%s' (an alias must follow its anchor, "
				"outside of it)", q);
		free(q);
		return;
	}
	/* The alias is charged what it repeats: this is what stops "billion laughs". */
	if (!charge(p, s->node->size, loc)) {
		return;
	}
	add_value(p, s->node, loc);
}

/* libyaml's reader errors carry a byte offset, not a mark. */
static struct bg_loc offset_loc(const struct parser *p, size_t off)
{
	struct bg_loc loc = {.file = p->name, .line = 1, .col = 1};
	if (off > p->len) {
		off = p->len;
	}
	for (size_t i = 0; i < off; i++) {
		unsigned char c = (unsigned char)p->data[i];
		if (c == '\n') {
			loc.line++;
			loc.col = 1;
		} else if ((c & 0xc0) != 0x80) {
			loc.col++;
		}
	}
	return loc;
}

static void report_yaml_error(struct parser *p, const yaml_parser_t *yp)
{
	struct bg_loc loc;
	switch (yp->error) {
	case YAML_MEMORY_ERROR:
		fail(p, NULL, "%s: out of memory while parsing", p->name);
		return;
	case YAML_READER_ERROR:
		loc = offset_loc(p, yp->problem_offset);
		if (yp->problem_value >= 0 && strstr(yp->problem, "control")) {
			fail(p, &loc, "control characters are not allowed (byte 0x%02x): "
					"is this a text file?", (unsigned)yp->problem_value & 0xff);
		} else if (yp->problem_value >= 0) {
			fail(p, &loc, "invalid UTF-8 (%s, byte 0x%02x): is this a text file?",
					yp->problem, (unsigned)yp->problem_value & 0xff);
		} else {
			fail(p, &loc, "invalid UTF-8 (%s): is this a text file?", yp->problem);
		}
		return;
	default:
		break;
	}
	loc = mark_loc(p, yp->problem_mark);
	/*
	 * libyaml says "found character that cannot start any token" for a
	 * tab; name the real problem when the line is indented with one.
	 */
	const char *line = p->data;
	for (unsigned l = 1; l < loc.line && line; l++) {
		line = memchr(line, '\n', (size_t)(p->data + p->len - line));
		line = line ? line + 1 : NULL;
	}
	bool tab = false;
	if (line) {
		/* A tab anywhere in the leading whitespace of the problem line. */
		for (const char *c = line; c < p->data + p->len && (*c == ' ' || *c == '\t'); c++) {
			if (*c == '\t') {
				tab = true;
				break;
			}
		}
	}
	if (tab) {
		fail(p, &loc, "tab characters cannot indent YAML: use spaces");
	} else if (yp->context) {
		fail(p, &loc, "invalid YAML: %s (%s that starts at line %u)", yp->problem,
				yp->context, (unsigned)yp->context_mark.line + 1);
	} else {
		fail(p, &loc, "invalid YAML: %s", yp->problem ? yp->problem : "syntax error");
	}
}

int cfg__parse(struct cfg__arena *a, const char *name, const char *data,
		size_t len, struct cfg__node **root, struct bg_diag *d)
{
	struct parser p = {.arena = a, .name = name, .data = data, .len = len, .d = d};
	yaml_parser_t yp;
	unsigned docs = 0;
	bool done = false;

	*root = NULL;
	if (len > CFG_MAX_FILE_BYTES) {
		struct bg_loc loc = {.file = name};
		bg_diag_error(d, &loc, "file is too large (%zu bytes, the limit is %d)",
				len, CFG_MAX_FILE_BYTES);
		return BG_ETOO_BIG;
	}
	if (!yaml_parser_initialize(&yp)) {
		fail(&p, NULL, "%s: out of memory while parsing", name);
		return BG_ECONFIG;
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)data, len);
	/* A BOM-less UTF-16 guess would only turn garbage into other garbage. */
	yaml_parser_set_encoding(&yp, YAML_UTF8_ENCODING);
	while (!done && !p.failed) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&yp, &ev)) {
			report_yaml_error(&p, &yp);
			break;
		}
		struct bg_loc loc = mark_loc(&p, ev.start_mark);
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (docs++ > 0) {
				fail(&p, &loc, "only one YAML document is allowed per file");
			}
			break;
		case YAML_SCALAR_EVENT:
			on_scalar(&p, &ev, &loc);
			break;
		case YAML_ALIAS_EVENT:
			on_alias(&p, &ev, &loc);
			break;
		case YAML_SEQUENCE_START_EVENT:
			if (check_tag(&p, ev.data.sequence_start.tag, &loc)) {
				push_collection(&p, CFG__SEQ, ev.data.sequence_start.anchor, &loc);
			}
			break;
		case YAML_MAPPING_START_EVENT:
			if (check_tag(&p, ev.data.mapping_start.tag, &loc)) {
				push_collection(&p, CFG__MAP, ev.data.mapping_start.anchor, &loc);
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			pop_collection(&p);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&yp);
	while (p.depth > 0) {
		struct frame *f = &p.stack[--p.depth];
		free(f->anchor);
		free(f->keys.slots);
	}
	free(p.stack);
	anchors_release(&p.anchors);
	if (p.failed) {
		return BG_ECONFIG;
	}
	*root = p.root;
	return 0;
}
