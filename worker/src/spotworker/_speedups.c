/* spotworker._speedups: the batch path's scans in C, each with a Python fallback.
 *
 * line_counts(buf) -> (lines, blank): len(buf.split(b"\n")) and how many of those
 * lines are b"", for the harness (spotworker.newlines.line_counts, whose numpy code
 * runs where this was not built), 8 bytes at a time.
 *
 * extract(data, key_field, value_field, max_value_len) reads `data`, lines joined by
 * "\n" (valid UTF-8: the caller checks), and returns (keys, m, f, z, lines) when EVERY
 * line is a JSON object (RFC 8259, nothing more: no NaN, no Infinity) whose last
 * member named `key_field` is a non-empty string without escapes and whose last
 * member named `value_field` is a plain number (no exponent) of at most
 * `max_value_len` characters (1 to 18): `keys` is the key members' JSON texts (with
 * their quotes) joined by "\n"; `m`, `f` and `z` are per line, as native int64,
 * uint8 and uint8 arrays, the value's digits without the point (with its sign), how
 * many of them follow the point, and 1 for a negative zero ("-0", "-0.00"); `lines`
 * is how many lines. Otherwise it returns None, and the caller takes the general
 * code (msgspec, then the per-record parser), whose answer is the answer.
 *
 * So this code never decides that a record is bad: on anything it is not certain
 * of, it gives up on the batch. What it accepts is what the per-record parser
 * (Python's json with Decimal numbers, spotworker.tasks) accepts with the same key
 * and value:
 *   - the grammar is JSON's, which Python's json accepts (it also accepts NaN,
 *     Infinity and -Infinity: here, a line with them gives up); whitespace is JSON's
 *     (space, tab, CR; a line holds no LF);
 *   - a string with a control character (below 0x20) gives up (Python's json,
 *     strict, rejects it); escapes are those of JSON, \u with four hex digits (a
 *     lone surrogate escape is fine outside the key, as in Python's json);
 *   - a member name with an escape gives up (it might equal a field's name once
 *     unescaped); of duplicate names the last one counts, as in Python's dict;
 *   - every number of a line, in any member, is checked by the per-record parser
 *     against the task's range: here, a number of more than MAX_NUMBER_CHARS
 *     characters or with an exponent of three digits or more gives up (every other
 *     one is within the range: below 10**(100 + 99), no digit below 10**-(100 + 99));
 *   - nesting deeper than MAX_DEPTH gives up (Python's json recurses).
 * The scan runs without the GIL (`data` is a buffer the call holds an export of; the
 * outputs are new bytes objects nobody else sees yet).
 *
 * Groups() is the example aggregate in C, what the batch task runs: groups.fold(data,
 * key_field, value_field, max_value_len, lines) scans `data` as extract() does and,
 * when extract() would take it and it has `lines` lines, folds every line into its
 * key's group (count, exact sum, first smallest and largest value: see "Groups"
 * below) and returns `lines`; else it returns None and folds nothing (a batch is
 * taken whole or not at all). groups.drain() returns [(key, n, sum, min, max)], the
 * last three as texts that Decimal() reads back exactly, in the order the keys first
 * came, and empties the groups. `data` must be valid UTF-8 (the caller checks).
 *
 * Tested against the per-record parser and task, and under AddressSanitizer and
 * UndefinedBehaviorSanitizer: worker/tests/test_worker_speedups.py.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define MAX_DEPTH 64
#define MAX_NUMBER_CHARS 100

typedef const unsigned char *ptr;

/* bytes a string holds as they are: not '"', not '\\', not a control character */
static unsigned char plain[256];

enum kind { K_NONE, K_STRING, K_NUMBER, K_OTHER };

typedef struct {
    ptr start, end;  /* the member value's text */
    enum kind kind;
    int escaped;     /* K_STRING: holds an escape */
    int exponent;    /* K_NUMBER: has an exponent */
} member;

static inline ptr skip_ws(ptr p, ptr end)
{
    /* JSON's whitespace; a line holds no "\n" */
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    return p;
}

static inline int is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* p at the opening quote; returns the byte after the closing one, or NULL */
static ptr scan_string(ptr p, ptr end, int *escaped)
{
    p++;
    for (;;) {
#if defined(__SSE2__)
        /* 16 bytes at a time: the first '"', '\\' or control character */
        const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
        const __m128i below = _mm_set1_epi8(0x1f);
        while (end - p >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)p);
            __m128i stop = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)),
                _mm_cmpeq_epi8(_mm_max_epu8(x, below), below)); /* x <= 0x1f */
            int mask = _mm_movemask_epi8(stop);
            if (mask) {
                p += __builtin_ctz((unsigned)mask);
                break;
            }
            p += 16;
        }
#endif
        while (p < end && plain[*p])
            p++;
        if (p >= end)
            return NULL;
        if (*p == '"')
            return p + 1;
        if (*p != '\\')
            return NULL; /* a control character */
        *escaped = 1;
        if (p + 1 >= end)
            return NULL;
        switch (p[1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p += 2;
            break;
        case 'u':
            if (end - p < 6 || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) || !is_hex(p[5]))
                return NULL;
            p += 6;
            break;
        default:
            return NULL;
        }
    }
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)? ; returns the byte after it, or NULL */
static ptr scan_number(ptr p, ptr end, int *exponent)
{
    ptr start = p;
    if (p < end && *p == '-')
        p++;
    if (p >= end)
        return NULL;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return NULL;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        ptr digits;
        *exponent = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        digits = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == digits || p - digits >= 3)
            return NULL;
    }
    if (p - start > MAX_NUMBER_CHARS)
        return NULL;
    /* what may follow a value: whitespace, ',', '}', ']' (checked by the caller) */
    return p;
}

static ptr scan_value(ptr p, ptr end, int depth, member *m);

/* p after '{' (open = '{') or '[' (open = '['); returns the byte after the closing one */
static ptr scan_container(ptr p, ptr end, int depth, unsigned char open)
{
    unsigned char close = open == '{' ? '}' : ']';
    member ignored;
    if (depth > MAX_DEPTH)
        return NULL;
    p = skip_ws(p, end);
    if (p < end && *p == close)
        return p + 1;
    for (;;) {
        if (open == '{') {
            int escaped = 0;
            if (p >= end || *p != '"')
                return NULL;
            p = scan_string(p, end, &escaped);
            if (p == NULL)
                return NULL;
            p = skip_ws(p, end);
            if (p >= end || *p != ':')
                return NULL;
            p = skip_ws(p + 1, end);
        }
        p = scan_value(p, end, depth + 1, &ignored);
        if (p == NULL)
            return NULL;
        p = skip_ws(p, end);
        if (p >= end)
            return NULL;
        if (*p == close)
            return p + 1;
        if (*p != ',')
            return NULL;
        p = skip_ws(p + 1, end);
    }
}

/* p at a value's first byte; returns the byte after it, or NULL; fills *m */
static ptr scan_value(ptr p, ptr end, int depth, member *m)
{
    m->start = p;
    m->kind = K_OTHER;
    m->escaped = m->exponent = 0;
    if (p >= end)
        return NULL;
    switch (*p) {
    case '"':
        m->kind = K_STRING;
        p = scan_string(p, end, &m->escaped);
        break;
    case '{':
    case '[':
        p = scan_container(p + 1, end, depth, *p);
        break;
    case 't':
        p = (end - p >= 4 && memcmp(p, "true", 4) == 0) ? p + 4 : NULL;
        break;
    case 'f':
        p = (end - p >= 5 && memcmp(p, "false", 5) == 0) ? p + 5 : NULL;
        break;
    case 'n':
        p = (end - p >= 4 && memcmp(p, "null", 4) == 0) ? p + 4 : NULL;
        break;
    default:
        m->kind = K_NUMBER;
        p = scan_number(p, end, &m->exponent);
    }
    m->end = p;
    return p;
}

/* one line, from p: the key's and the value's members; returns the byte after the
 * object and the whitespace after it (the line's "\n" or the end), or NULL to give up.
 * `end` is the buffer's end: no token takes a "\n", so nothing is read past the line */
static ptr scan_line(ptr p, ptr end, ptr kf, Py_ssize_t kf_len, ptr vf, Py_ssize_t vf_len,
                     member *key, member *value)
{
    key->kind = value->kind = K_NONE;
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return NULL;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}')
        return NULL; /* no members: no key */
    for (;;) {
        ptr name;
        Py_ssize_t name_len;
        int escaped = 0;
        member m;
        if (p >= end || *p != '"')
            return NULL;
        name = p + 1;
        p = scan_string(p, end, &escaped);
        if (p == NULL || escaped)
            return NULL;
        name_len = (p - 1) - name;
        p = skip_ws(p, end);
        if (p >= end || *p != ':')
            return NULL;
        p = skip_ws(p + 1, end);
        p = scan_value(p, end, 1, &m);
        if (p == NULL)
            return NULL;
        if (name_len == kf_len && memcmp(name, kf, (size_t)kf_len) == 0)
            *key = m;
        else if (name_len == vf_len && memcmp(name, vf, (size_t)vf_len) == 0)
            *value = m;
        p = skip_ws(p, end);
        if (p >= end)
            return NULL;
        if (*p == '}')
            break;
        if (*p != ',')
            return NULL;
        p = skip_ws(p + 1, end);
    }
    return skip_ws(p + 1, end);
}

/* a plain number's text (no exponent, at most 18 digits) as its digits without the
 * point (*m, with its sign), how many digits follow the point (*f) and whether it is
 * a negative zero ("-0", "-0.00": *m is 0 then) */
static void plain_number(ptr p, ptr end, int64_t *m, uint8_t *f, uint8_t *z)
{
    int negative = *p == '-';
    int64_t digits = 0;
    uint8_t fraction = 0, after_point = 0;
    for (p += negative; p < end; p++) {
        if (*p == '.') {
            after_point = 1;
            continue;
        }
        digits = digits * 10 + (*p - '0');
        fraction += after_point;
    }
    *m = negative ? -digits : digits;
    *f = fraction;
    *z = (uint8_t)(negative && digits == 0);
}

/* one line's key (its JSON text with the quotes: at data + off, len bytes) and value */
typedef struct {
    Py_ssize_t *off;
    Py_ssize_t *len;
    int64_t *m;
    uint8_t *f, *z;
    Py_ssize_t cap; /* room for this many lines */
} columns;

/* grows `c` to room for `cap` lines (with the GIL: PyMem_Realloc); 0, or -1 and an
 * exception */
static int columns_reserve(columns *c, Py_ssize_t cap)
{
    void *p;
    if (cap <= c->cap)
        return 0;
#define GROW(field, type)                                                   \
    p = PyMem_Realloc(c->field, (size_t)cap * sizeof(type));                \
    if (p == NULL) {                                                        \
        PyErr_NoMemory();                                                   \
        return -1;                                                          \
    }                                                                       \
    c->field = p;
    GROW(off, Py_ssize_t)
    GROW(len, Py_ssize_t)
    GROW(m, int64_t)
    GROW(f, uint8_t)
    GROW(z, uint8_t)
#undef GROW
    c->cap = cap;
    return 0;
}

static void columns_free(columns *c)
{
    PyMem_Free(c->off);
    PyMem_Free(c->len);
    PyMem_Free(c->m);
    PyMem_Free(c->f);
    PyMem_Free(c->z);
    memset(c, 0, sizeof(*c));
}

/* a line taken holds two members, at least 14 bytes: fewer lines than this (and the
 * scan checks it) */
static Py_ssize_t max_lines(Py_ssize_t len)
{
    return len / 8 + 1;
}

/* The scan of a whole batch (without the GIL): 1 and every line's key and value in
 * `c` (*lines of them) when every line is taken, else 0 (give up). */
static int scan_batch(ptr data, Py_ssize_t len, ptr kf, Py_ssize_t kf_len, ptr vf,
                      Py_ssize_t vf_len, Py_ssize_t max_len, columns *c, Py_ssize_t *lines)
{
    ptr p = data, end = data + len;
    Py_ssize_t n = 0;
    for (;;) {
        member key = {0}, value = {0};
        p = scan_line(p, end, kf, kf_len, vf, vf_len, &key, &value);
        if (p == NULL || (p < end && *p != '\n')
            || key.kind != K_STRING || key.escaped || key.end - key.start < 3
            || value.kind != K_NUMBER || value.exponent
            || value.end - value.start > max_len || n >= c->cap)
            return 0;
        c->off[n] = key.start - data;
        c->len[n] = key.end - key.start;
        plain_number(value.start, value.end, c->m + n, c->f + n, c->z + n);
        n++;
        if (p == end)
            break;
        p++;
    }
    *lines = n;
    return 1;
}

static PyObject *extract(PyObject *self, PyObject *args)
{
    Py_buffer data, kf, vf;
    Py_ssize_t max_len, lines = 0, i;
    PyObject *result = NULL;
    int ok;
    char *keys = NULL, *ko;
    columns c = {0};
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*n", &data, &kf, &vf, &max_len))
        return NULL;
    if (max_len < 1 || max_len > 18) { /* 18 digits fit an int64 */
        PyErr_SetString(PyExc_ValueError, "max_value_len must be 1 to 18");
        goto done;
    }
    /* Scratch space, freed before returning: the results are copied into bytes objects
     * of their exact sizes. A key's text is shorter than its line: the keys fit in
     * len(data). */
    keys = PyMem_Malloc((size_t)data.len + 1);
    if (keys == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (columns_reserve(&c, max_lines(data.len)) < 0)
        goto done;
    ko = keys;
    Py_BEGIN_ALLOW_THREADS
    ok = scan_batch((ptr)data.buf, data.len, (ptr)kf.buf, kf.len, (ptr)vf.buf, vf.len,
                    max_len, &c, &lines);
    if (ok) {
        for (i = 0; i < lines; i++) {
            if (i)
                *ko++ = '\n';
            memcpy(ko, (const char *)data.buf + c.off[i], (size_t)c.len[i]);
            ko += c.len[i];
        }
    }
    Py_END_ALLOW_THREADS
    if (!ok)
        result = Py_NewRef(Py_None);
    else
        result = Py_BuildValue("(y#y#y#y#n)", keys, (Py_ssize_t)(ko - keys), (char *)c.m,
                               lines * (Py_ssize_t)sizeof(int64_t), (char *)c.f, lines,
                               (char *)c.z, lines, lines);
done:
    PyMem_Free(keys);
    columns_free(&c);
    PyBuffer_Release(&data);
    PyBuffer_Release(&kf);
    PyBuffer_Release(&vf);
    return result;
}

/* ---- Groups: the example aggregate of the batches scan_batch takes, per key -------
 *
 * Per key: how many values (n), their exact sum (an int128 at the key's scale: the
 * most fractional digits of its values, f), the first of its smallest and of its
 * largest values (as m, f, z) and how many were negative zeros. That is exactly what
 * the per-record task keeps (Decimal addition keeps the smallest exponent; x + -x is
 * +0, so the sum is a negative zero only when every value was one; min() and max()
 * keep the first of equal values). With values of at most MAX_GROUP_LEN characters a
 * value at any scale up to 14 is below 10**30 in magnitude, and a sum of at most
 * MAX_GROUP_RECORDS of them below 1.35 * 10**38 (an int128 holds 1.7 * 10**38). */

#if !defined(__SIZEOF_INT128__)
#error "Groups needs __int128 (GCC or Clang on a 64-bit target)"
#endif

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

#define MAX_GROUP_LEN 16
#define MAX_GROUP_RECORDS ((Py_ssize_t)1 << 27)

static const int64_t POW10[19] = {
    1LL, 10LL, 100LL, 1000LL, 10000LL, 100000LL, 1000000LL, 10000000LL, 100000000LL,
    1000000000LL, 10000000000LL, 100000000000LL, 1000000000000LL, 10000000000000LL,
    100000000000000LL, 1000000000000000LL, 10000000000000000LL, 100000000000000000LL,
    1000000000000000000LL,
};

typedef struct {
    uint64_t hash;
    Py_ssize_t key_off, key_len; /* the key (without quotes) in the arena */
    int64_t n, negzero, lo_m, hi_m;
    i128 sum;
    uint8_t f, lo_f, lo_z, hi_f, hi_z;
} group;

typedef struct {
    PyObject_HEAD
    group *groups;          /* in the order their keys first came */
    Py_ssize_t n_groups, groups_cap;
    uint32_t *slots;        /* open addressing: 0 empty, else index + 1 into groups */
    size_t mask;            /* slots - 1 (a power of two minus one), or 0: no slots */
    char *arena;            /* the keys' bytes */
    Py_ssize_t arena_len, arena_cap;
    Py_ssize_t records;     /* values folded since the last drain */
    columns scratch;        /* kept between batches: fresh pages cost more than the scan */
    int busy;               /* a fold runs without the GIL */
    int broken;             /* an allocation failed in the middle of a fold */
} Groups;

/* 8 bytes at a time (the last word zero-padded, the length mixed in), then a
 * finalizer that spreads every bit into the slot index. Not a keyed hash: a crafted
 * input can make the probes long (slow, never wrong); the keys are the user's data. */
static inline uint64_t hash_key(ptr p, Py_ssize_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)len, w;
    for (; len >= 8; p += 8, len -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    if (len) {
        Py_ssize_t i;
        w = 0;
        for (i = 0; i < len; i++) /* (a memcpy of a variable size is a call) */
            w |= (uint64_t)p[i] << (8 * i);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* -1, 0 or 1 as m1 * 10**-f1 is below, equal to or above m2 * 10**-f2 (exact in
 * int128: both below 10**16 in magnitude, scaled by at most 10**16) */
static inline int compare(int64_t m1, uint8_t f1, int64_t m2, uint8_t f2)
{
    i128 a = m1, b = m2;
    if (f1 == f2) /* the common case: the same number of fractional digits */
        return (m1 > m2) - (m1 < m2);
    if (f1 < f2)
        a *= POW10[f2 - f1];
    else
        b *= POW10[f1 - f2];
    return (a > b) - (a < b);
}

/* the slots doubled (or the first ones), every group placed again; 0, or -1 (no
 * memory). Without the GIL: PyMem_Raw* */
static int grow_slots(Groups *g)
{
    size_t size = g->mask ? (g->mask + 1) * 2 : 1024, i;
    uint32_t *slots = PyMem_RawCalloc(size, sizeof(uint32_t));
    if (slots == NULL)
        return -1;
    for (i = 0; i < (size_t)g->n_groups; i++) {
        size_t s = (size_t)g->groups[i].hash & (size - 1);
        while (slots[s])
            s = (s + 1) & (size - 1);
        slots[s] = (uint32_t)(i + 1);
    }
    PyMem_RawFree(g->slots);
    g->slots = slots;
    g->mask = size - 1;
    return 0;
}

/* the group of the key at p (len bytes), a new one if it is new; NULL: no memory */
static group *find_group(Groups *g, ptr p, Py_ssize_t len)
{
    uint64_t h = hash_key(p, len);
    size_t s;
    group *e;
    if ((size_t)(g->n_groups + 1) * 2 > g->mask + 1 && grow_slots(g) < 0)
        return NULL;
    for (s = (size_t)h & g->mask; g->slots[s]; s = (s + 1) & g->mask) {
        e = g->groups + (g->slots[s] - 1);
        if (e->hash == h && e->key_len == len && memcmp(g->arena + e->key_off, p, (size_t)len) == 0)
            return e;
    }
    if (g->n_groups == g->groups_cap) {
        Py_ssize_t cap = g->groups_cap ? g->groups_cap * 2 : 256;
        group *groups = PyMem_RawRealloc(g->groups, (size_t)cap * sizeof(group));
        if (groups == NULL)
            return NULL;
        g->groups = groups;
        g->groups_cap = cap;
    }
    if (g->arena_len + len > g->arena_cap) {
        Py_ssize_t cap = (g->arena_cap ? g->arena_cap : 4096);
        char *arena;
        while (cap < g->arena_len + len)
            cap *= 2;
        arena = PyMem_RawRealloc(g->arena, (size_t)cap);
        if (arena == NULL)
            return NULL;
        g->arena = arena;
        g->arena_cap = cap;
    }
    memcpy(g->arena + g->arena_len, p, (size_t)len);
    e = g->groups + g->n_groups;
    memset(e, 0, sizeof(*e));
    e->hash = h;
    e->key_off = g->arena_len;
    e->key_len = len;
    g->arena_len += len;
    g->slots[s] = (uint32_t)(++g->n_groups);
    return e;
}

/* the scanned lines into their groups, in order; 0, or -1 (no memory) */
static int fold_lines(Groups *g, ptr data, const columns *c, Py_ssize_t lines)
{
    Py_ssize_t i;
    for (i = 0; i < lines; i++) {
        int64_t m = c->m[i];
        uint8_t f = c->f[i], z = c->z[i];
        group *e = find_group(g, data + c->off[i] + 1, c->len[i] - 2);
        if (e == NULL)
            return -1;
        if (e->n == 0) {
            e->sum = m;
            e->f = e->lo_f = e->hi_f = f;
            e->lo_m = e->hi_m = m;
            e->lo_z = e->hi_z = z;
        } else {
            if (f > e->f) {
                e->sum *= POW10[f - e->f];
                e->f = f;
            }
            e->sum += (i128)m * POW10[e->f - f];
            if (compare(m, f, e->lo_m, e->lo_f) < 0) {
                e->lo_m = m;
                e->lo_f = f;
                e->lo_z = z;
            }
            if (compare(m, f, e->hi_m, e->hi_f) > 0) {
                e->hi_m = m;
                e->hi_f = f;
                e->hi_z = z;
            }
        }
        e->n++;
        e->negzero += z;
    }
    g->records += lines;
    return 0;
}

static int groups_check(Groups *g)
{
    if (g->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Groups used by two threads at once");
        return -1;
    }
    if (g->broken) {
        PyErr_SetString(PyExc_MemoryError, "Groups lost a fold to a failed allocation");
        return -1;
    }
    return 0;
}

static PyObject *groups_fold(Groups *g, PyObject *args)
{
    Py_buffer data, kf, vf;
    Py_ssize_t max_len, expected, lines = 0;
    PyObject *result = NULL;
    int ok = 0, failed = 0;
    if (!PyArg_ParseTuple(args, "y*y*y*nn", &data, &kf, &vf, &max_len, &expected))
        return NULL;
    if (groups_check(g) < 0)
        goto done;
    if (max_len < 1 || max_len > MAX_GROUP_LEN) {
        PyErr_SetString(PyExc_ValueError, "max_value_len must be 1 to 16");
        goto done;
    }
    if (g->records + max_lines(data.len) > MAX_GROUP_RECORDS) {
        PyErr_SetString(PyExc_OverflowError, "too many values since the last drain()");
        goto done;
    }
    if (columns_reserve(&g->scratch, max_lines(data.len)) < 0)
        goto done;
    g->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    ok = scan_batch((ptr)data.buf, data.len, (ptr)kf.buf, kf.len, (ptr)vf.buf, vf.len,
                    max_len, &g->scratch, &lines);
    ok = ok && lines == expected;
    if (ok && fold_lines(g, (ptr)data.buf, &g->scratch, lines) < 0)
        failed = 1;
    Py_END_ALLOW_THREADS
    g->busy = 0;
    if (failed) {
        g->broken = 1;
        PyErr_NoMemory();
    } else if (ok) {
        result = PyLong_FromSsize_t(lines);
    } else {
        result = Py_NewRef(Py_None);
    }
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&kf);
    PyBuffer_Release(&vf);
    return result;
}

/* v * 10**-f as a Python str Decimal() reads back exactly (that exponent), with a
 * "-" when v is negative or `negative` (a negative zero) */
static PyObject *decimal_text(i128 v, int f, int negative)
{
    char buf[64], *end = buf + sizeof(buf), *p = end;
    u128 u = v < 0 ? -(u128)v : (u128)v;
    int digits = 0;
    do {
        if (digits == f && f > 0)
            *--p = '.';
        *--p = (char)('0' + (int)(u % 10));
        u /= 10;
        digits++;
    } while (u || digits <= f);
    if (v < 0 || negative)
        *--p = '-';
    return PyUnicode_FromStringAndSize(p, end - p);
}

static PyObject *groups_drain(Groups *g, PyObject *unused)
{
    PyObject *out;
    Py_ssize_t i;
    (void)unused;
    if (groups_check(g) < 0)
        return NULL;
    out = PyList_New(g->n_groups);
    if (out == NULL)
        return NULL;
    for (i = 0; i < g->n_groups; i++) {
        group *e = g->groups + i;
        PyObject *row = Py_BuildValue(
            "(NLNNN)",
            PyUnicode_DecodeUTF8(g->arena + e->key_off, e->key_len, "strict"),
            (long long)e->n,
            decimal_text(e->sum, e->f, e->negzero == e->n),
            decimal_text(e->lo_m, e->lo_f, e->lo_z),
            decimal_text(e->hi_m, e->hi_f, e->hi_z));
        if (row == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, row);
    }
    g->n_groups = 0;
    g->arena_len = 0;
    g->records = 0;
    if (g->slots)
        memset(g->slots, 0, (g->mask + 1) * sizeof(uint32_t));
    return out;
}

static PyObject *groups_records(Groups *g, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(g->records);
}

static Py_ssize_t groups_len(Groups *g)
{
    return g->n_groups;
}

static PyObject *groups_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, ":Groups", kwlist))
        return NULL;
    return type->tp_alloc(type, 0); /* zeroed */
}

static void groups_dealloc(Groups *g)
{
    PyMem_RawFree(g->groups);
    PyMem_RawFree(g->slots);
    PyMem_RawFree(g->arena);
    columns_free(&g->scratch);
    Py_TYPE(g)->tp_free((PyObject *)g);
}

static PyMethodDef groups_methods[] = {
    {"fold", (PyCFunction)groups_fold, METH_VARARGS,
     "fold(data, key_field, value_field, max_value_len, lines) -> lines or None: every "
     "line of data into its key's group when extract() takes the batch and it has that "
     "many lines, else nothing"},
    {"drain", (PyCFunction)groups_drain, METH_NOARGS,
     "drain() -> [(key, n, sum, min, max)], the texts exact Decimals; empties the groups"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef groups_getset[] = {
    {"records", (getter)groups_records, NULL, "values folded since the last drain()", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods groups_sequence = {
    .sq_length = (lenfunc)groups_len,
};

static PyTypeObject GroupsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "spotworker._speedups.Groups",
    .tp_basicsize = sizeof(Groups),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The example aggregate per key of the batches fold() takes (see _speedups.c).",
    .tp_new = groups_new,
    .tp_dealloc = (destructor)groups_dealloc,
    .tp_methods = groups_methods,
    .tp_getset = groups_getset,
    .tp_as_sequence = &groups_sequence,
};

/* the bytes of a 64-bit word equal to "\n", as 1 in each such byte (exact per byte:
 * no carry crosses bytes) */
static inline uint64_t newline_bytes(uint64_t x)
{
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL;
    uint64_t v = x ^ 0x0a0a0a0a0a0a0a0aULL; /* a newline byte becomes 0 */
    return (~(((v & low7) + low7) | v | low7)) >> 7;
}

/* the sum of a word's bytes, each 0 or 1 */
static inline Py_ssize_t byte_sum(uint64_t ones)
{
    return (Py_ssize_t)((ones * 0x0101010101010101ULL) >> 56);
}

/* newlines in [p, end), and newlines followed by one, both within [p, end] (the byte
 * at `end` is read: the caller's buffer goes on) */
static void count_newlines(ptr p, ptr end, Py_ssize_t *found, Py_ssize_t *pairs)
{
#if defined(__SSE2__)
    const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
    while (end - p >= 16) {
        /* up to 255 blocks of 16 bytes: each byte counter stays below 256 */
        __m128i count = zero, twice = zero;
        int blocks = 0;
        for (; end - p >= 16 && blocks < 255; p += 16, blocks++) {
            __m128i here = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)p), nl);
            __m128i next = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + 1)), nl);
            count = _mm_sub_epi8(count, here); /* a match is -1 */
            twice = _mm_sub_epi8(twice, _mm_and_si128(here, next));
        }
        count = _mm_sad_epu8(count, zero);
        twice = _mm_sad_epu8(twice, zero);
        *found += _mm_cvtsi128_si32(count) + _mm_extract_epi16(count, 4);
        *pairs += _mm_cvtsi128_si32(twice) + _mm_extract_epi16(twice, 4);
    }
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; end - p >= 8; p += 8) {
        uint64_t x, y, here, next;
        memcpy(&x, p, 8);
        memcpy(&y, p + 1, 8);
        here = newline_bytes(x);
        next = newline_bytes(y);
        *found += byte_sum(here);
        *pairs += byte_sum(here & next);
    }
#endif
    for (; p < end; p++) {
        *found += *p == '\n';
        *pairs += *p == '\n' && p[1] == '\n';
    }
}

static PyObject *line_counts(PyObject *self, PyObject *arg)
{
    Py_buffer buf;
    Py_ssize_t found = 0, inner = 0, edges;
    (void)self;
    if (PyObject_GetBuffer(arg, &buf, PyBUF_SIMPLE) < 0)
        return NULL;
    if (buf.len == 0) {
        PyBuffer_Release(&buf);
        return Py_BuildValue("(nn)", (Py_ssize_t)1, (Py_ssize_t)1); /* one line, blank */
    }
    {
        ptr b = (ptr)buf.buf, last = b + buf.len - 1;
        Py_BEGIN_ALLOW_THREADS
        /* every byte but the last (whose pair would be past the end), then the last */
        count_newlines(b, last, &found, &inner);
        Py_END_ALLOW_THREADS
        found += *last == '\n';
        /* a blank first or last line: the buffer starts or ends with a newline */
        edges = (b[0] == '\n') + (*last == '\n');
    }
    PyBuffer_Release(&buf);
    return Py_BuildValue("(nn)", found + 1, inner + edges);
}

static PyMethodDef methods[] = {
    {"line_counts", line_counts, METH_O,
     "line_counts(buf) -> (lines, blank): len(buf.split(b'\\n')) and how many are b''"},
    {"extract", extract, METH_VARARGS,
     "extract(data, key_field, value_field, max_value_len) -> (keys, m, f, z, lines) or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "spotworker._speedups",
    "The batch path's scans in C (see _speedups.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void)
{
    int c;
    PyObject *m;
    for (c = 0; c < 256; c++)
        plain[c] = c >= 0x20 && c != '"' && c != '\\';
    if (PyType_Ready(&GroupsType) < 0)
        return NULL;
    m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&GroupsType);
    if (PyModule_AddObject(m, "Groups", (PyObject *)&GroupsType) < 0) {
        Py_DECREF(&GroupsType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
