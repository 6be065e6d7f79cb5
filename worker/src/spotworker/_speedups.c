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
 * outputs are new bytes objects nobody else sees yet). Tested against the per-record
 * parser and under AddressSanitizer: worker/tests/test_worker_speedups.py.
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

static PyObject *extract(PyObject *self, PyObject *args)
{
    Py_buffer data, kf, vf;
    Py_ssize_t max_len, cap, lines = 0;
    PyObject *result = NULL;
    int ok = 1;
    char *keys = NULL, *ko;
    int64_t *ms = NULL;
    uint8_t *fs = NULL, *zs = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*n", &data, &kf, &vf, &max_len))
        return NULL;
    if (max_len < 1 || max_len > 18) { /* 18 digits fit an int64 */
        PyErr_SetString(PyExc_ValueError, "max_value_len must be 1 to 18");
        goto done;
    }
    /* Scratch space, freed before returning: the results are copied into bytes objects
     * of their exact sizes (a bytes object shrunk in place would leave the rest of its
     * block to the allocator's heap, one per batch). A key's text is shorter than its
     * line: the keys fit in len(data); a line taken holds two members, at least 14
     * bytes, so there are fewer than `cap` lines (and the loop checks it). */
    cap = data.len / 8 + 1;
    keys = PyMem_Malloc((size_t)data.len + 1);
    ms = PyMem_Malloc((size_t)cap * sizeof(int64_t));
    fs = PyMem_Malloc((size_t)cap);
    zs = PyMem_Malloc((size_t)cap);
    if (keys == NULL || ms == NULL || fs == NULL || zs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    ko = keys;
    Py_BEGIN_ALLOW_THREADS
    {
        ptr p = (ptr)data.buf, end = p + data.len;
        for (;;) {
            member key = {0}, value = {0};
            Py_ssize_t klen;
            p = scan_line(p, end, (ptr)kf.buf, kf.len, (ptr)vf.buf, vf.len, &key, &value);
            if (p == NULL || (p < end && *p != '\n')
                || key.kind != K_STRING || key.escaped || key.end - key.start < 3
                || value.kind != K_NUMBER || value.exponent
                || value.end - value.start > max_len || lines >= cap) {
                ok = 0;
                break;
            }
            klen = key.end - key.start;
            memcpy(ko, key.start, (size_t)klen);
            ko += klen;
            plain_number(value.start, value.end, ms + lines, fs + lines, zs + lines);
            lines++;
            if (p == end)
                break;
            *ko++ = '\n';
            p++;
        }
    }
    Py_END_ALLOW_THREADS
    if (!ok)
        result = Py_NewRef(Py_None);
    else
        result = Py_BuildValue("(y#y#y#y#n)", keys, (Py_ssize_t)(ko - keys), (char *)ms,
                               lines * (Py_ssize_t)sizeof(int64_t), (char *)fs, lines,
                               (char *)zs, lines, lines);
done:
    PyMem_Free(keys);
    PyMem_Free(ms);
    PyMem_Free(fs);
    PyMem_Free(zs);
    PyBuffer_Release(&data);
    PyBuffer_Release(&kf);
    PyBuffer_Release(&vf);
    return result;
}

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
    for (c = 0; c < 256; c++)
        plain[c] = c >= 0x20 && c != '"' && c != '\\';
    return PyModule_Create(&module);
}
