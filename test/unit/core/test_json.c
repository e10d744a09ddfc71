/* json.c: the validator, control messages, escaping, UTF-8. Inputs sit
 * right before a PROT_NONE page (picohttpparser's trick), so reading one
 * byte past them faults. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "json.h"
#include "tests.h"
#include "../../utf8_ref.h"

struct guard {
  char *base;
  size_t size;
};

static const char *guard_copy(struct guard *g, const void *s, size_t n) {
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  size_t data = (n + pg - 1) / pg * pg;
  if (!data)
    data = pg;
  g->size = data + pg;
  g->base = mmap(NULL, g->size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (g->base == MAP_FAILED)
    abort();
  mprotect(g->base + data, pg, PROT_NONE);
  char *p = g->base + data - n;
  if (n)
    memcpy(p, s, n);
  return p;
}

static void guard_free(struct guard *g) {
  if (g->base)
    munmap(g->base, g->size);
  g->base = NULL;
}

static long skip(const char *s, size_t n, int max_depth) {
  struct guard g;
  long r = json_skip_value(guard_copy(&g, s, n), n, max_depth);
  guard_free(&g);
  return r;
}

#define WHOLE LONG_MIN /* the case is valid JSON text: consumed == len */

struct skip_case {
  const char *s;
  size_t len; /* 0: strlen(s) */
  long want;
};

static const struct skip_case skip_cases[] = {
    /* numbers */
    {"0", 0, WHOLE},
    {"-0", 0, WHOLE},
    {"7", 0, WHOLE},
    {"-12", 0, WHOLE},
    {"0.5", 0, WHOLE},
    {"-0.5e10", 0, WHOLE},
    {"1E+2", 0, WHOLE},
    {"1e-2", 0, WHOLE},
    {"10.01E00", 0, WHOLE},
    {"123456789012345678901234567890", 0, WHOLE},
    {"01", 0, 1}, /* a value, then a byte that is not JSON */
    {"-01", 0, 2},
    {"00", 0, 1},
    {"0x10", 0, 1},
    {"1 x", 0, 2},
    {"-", 0, JSON_ESYNTAX},
    {"+1", 0, JSON_ESYNTAX},
    {".5", 0, JSON_ESYNTAX},
    {"1.", 0, JSON_ESYNTAX},
    {"1.e5", 0, JSON_ESYNTAX},
    {"1e", 0, JSON_ESYNTAX},
    {"1e+", 0, JSON_ESYNTAX},
    {"-.1", 0, JSON_ESYNTAX},
    {"- 1", 0, JSON_ESYNTAX},
    {"NaN", 0, JSON_ESYNTAX},
    {"Infinity", 0, JSON_ESYNTAX},
    {"-Infinity", 0, JSON_ESYNTAX},
    /* literals */
    {"true", 0, WHOLE},
    {"false", 0, WHOLE},
    {"null", 0, WHOLE},
    {"tru", 0, JSON_ESYNTAX},
    {"nul", 0, JSON_ESYNTAX},
    {"True", 0, JSON_ESYNTAX},
    {"nulll", 0, 4},
    /* structure and whitespace */
    {"[]", 0, WHOLE},
    {"{}", 0, WHOLE},
    {"[1,2,3]", 0, WHOLE},
    {"{\"a\":1,\"b\":[true,false,null],\"c\":{},\"d\":[[]]}", 0, WHOLE},
    {" \t\n\r[ 1 , { \"a\" : \"b\" } , [ ] ] \r\n\t ", 0, WHOLE},
    {"[1]]", 0, 3},
    {"[1]\0", 4, 3},
    {"", 0, JSON_ESYNTAX},
    {" \n", 0, JSON_ESYNTAX},
    {"[1,]", 0, JSON_ESYNTAX},
    {"[,1]", 0, JSON_ESYNTAX},
    {"[,]", 0, JSON_ESYNTAX},
    {"{\"a\":1,}", 0, JSON_ESYNTAX},
    {"{,}", 0, JSON_ESYNTAX},
    {"{\"a\"}", 0, JSON_ESYNTAX},
    {"{\"a\":}", 0, JSON_ESYNTAX},
    {"{a:1}", 0, JSON_ESYNTAX},
    {"{1:1}", 0, JSON_ESYNTAX},
    {"{\"a\" 1}", 0, JSON_ESYNTAX},
    {"{\"a\":1 \"b\":2}", 0, JSON_ESYNTAX},
    {"[1 2]", 0, JSON_ESYNTAX},
    {"[1}", 0, JSON_ESYNTAX},
    {"{\"a\":1]", 0, JSON_ESYNTAX},
    {"[", 0, JSON_ESYNTAX},
    {"[1", 0, JSON_ESYNTAX},
    {"[1,", 0, JSON_ESYNTAX},
    {"{\"a\"", 0, JSON_ESYNTAX},
    {"{\"a\":", 0, JSON_ESYNTAX},
    {"]", 0, JSON_ESYNTAX},
    {"}", 0, JSON_ESYNTAX},
    {"'a'", 0, JSON_ESYNTAX},
    {"/*c*/1", 0, JSON_ESYNTAX},
    {"[1/*c*/]", 0, JSON_ESYNTAX},
    {"1 // c", 0, 2},
    {"\xef\xbb\xbf" "1", 0, JSON_ESYNTAX}, /* no BOM */
    {"\v1", 0, JSON_ESYNTAX},                /* not JSON whitespace */
    {"[1\f]", 0, JSON_ESYNTAX},
    /* strings */
    {"\"\"", 0, WHOLE},
    {"\"abc\"", 0, WHOLE},
    {"\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0041 \\u00e9 \\uFFFF\"", 0,
     WHOLE},
    {"\"\\u0000\"", 0, WHOLE},
    {"\"\\ud83d\\ude00\"", 0, WHOLE},
    {"\"\\uD83D\\uDE00\"", 0, WHOLE},
    {"\"\\udbff\\udfff\"", 0, WHOLE},
    {"\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", 0, WHOLE},
    {"\"\x7f\"", 0, WHOLE}, /* DEL needs no escape in JSON */
    {"\"abc", 0, JSON_ESYNTAX},
    {"\"\\\"", 0, JSON_ESYNTAX},
    {"\"a\nb\"", 0, JSON_ESTRING},
    {"\"\t\"", 0, JSON_ESTRING},
    {"\"\x1f\"", 0, JSON_ESTRING},
    {"\"a\0b\"", 5, JSON_ESTRING},
    {"\"\\x41\"", 0, JSON_ESTRING},
    {"\"\\'\"", 0, JSON_ESTRING},
    {"\"\\U0041\"", 0, JSON_ESTRING},
    {"\"\\u12\"", 0, JSON_ESTRING},
    {"\"\\u12g4\"", 0, JSON_ESTRING},
    {"\"\\u", 0, JSON_ESTRING},
    {"\"\\ud83d\"", 0, JSON_ESTRING},         /* lone high surrogate */
    {"\"\\ude00\"", 0, JSON_ESTRING},         /* lone low surrogate */
    {"\"\\ud83dx\"", 0, JSON_ESTRING},
    {"\"\\ud83d\\u0041\"", 0, JSON_ESTRING},  /* high, then not low */
    {"\"\\ud83d\\ud83d\"", 0, JSON_ESTRING},
    {"\"\\ude00\\ud83d\"", 0, JSON_ESTRING},  /* reversed pair */
    {"\"\\ud83d\\n\"", 0, JSON_ESTRING},
    {"\"\xc0\x80\"", 0, JSON_ESTRING},         /* overlong NUL */
    {"\"\xe0\x80\xaf\"", 0, JSON_ESTRING},     /* overlong '/' */
    {"\"\xed\xa0\x80\"", 0, JSON_ESTRING},     /* UTF-8 surrogate */
    {"\"\xf4\x90\x80\x80\"", 0, JSON_ESTRING}, /* > U+10FFFF */
    {"\"\xe2\x82\"", 0, JSON_ESTRING},         /* truncated sequence */
    {"\"\x80\"", 0, JSON_ESTRING},
    {"\"\xff\"", 0, JSON_ESTRING},
    {"{\"\xff\":1}", 0, JSON_ESTRING}, /* keys are strings too */
};

void test_json_skip_table(void) {
  for (size_t i = 0; i < sizeof(skip_cases) / sizeof(skip_cases[0]); i++) {
    const struct skip_case *c = &skip_cases[i];
    size_t n = c->len ? c->len : strlen(c->s);
    long want = c->want == WHOLE ? (long)n : c->want;
    long got = skip(c->s, n, JSON_MAX_DEPTH);
    if (got != want)
      fprintf(stderr, "  case %zu: \"%s\"\n", i, c->s);
    CHECK_EQ(got, want);
    /* Every prefix: no over-read (the guard page), never past the end,
     * and a string or container cut short is never complete. */
    for (size_t k = 0; k < n; k++) {
      long r = skip(c->s, k, JSON_MAX_DEPTH);
      CHECK(r <= (long)k);
      if (c->want == WHOLE && strchr("\"[{tfn", c->s[0]))
        CHECK(r < 0);
    }
  }
}

/* '[' or '{"k":' for each level, chosen by level, then the closers. */
static size_t nest(char *out, int levels, int closed) {
  size_t n = 0;
  for (int d = 0; d < levels; d++) {
    if (d % 3 == 1) {
      memcpy(out + n, "{\"k\":", 5);
      n += 5;
    } else {
      out[n++] = '[';
    }
  }
  out[n++] = '0';
  for (int d = closed ? levels - 1 : -1; d >= 0; d--)
    out[n++] = d % 3 == 1 ? '}' : ']';
  return n;
}

void test_json_depth(void) {
  static char buf[300 * 6 + 2];
  size_t n = nest(buf, JSON_MAX_DEPTH, 1);
  CHECK_EQ(skip(buf, n, JSON_MAX_DEPTH), n);
  n = nest(buf, JSON_MAX_DEPTH + 1, 1);
  CHECK_EQ(skip(buf, n, JSON_MAX_DEPTH), JSON_EDEPTH);
  CHECK_EQ(skip(buf, n, JSON_MAX_DEPTH + 1), n);
  CHECK_EQ(skip("1", 1, 0), 1);
  CHECK_EQ(skip("[]", 2, 0), JSON_EDEPTH);
  CHECK_EQ(skip("{}", 2, -5), JSON_EDEPTH);
  CHECK_EQ(skip("[]", 2, 1), 2);
  /* Past 64 levels the object/array stack spans words: the closers must
   * still match level by level. */
  n = nest(buf, JSON_DEPTH_CAP, 1);
  CHECK_EQ(skip(buf, n, INT_MAX), n);
  n = nest(buf, JSON_DEPTH_CAP + 1, 1);
  CHECK_EQ(skip(buf, n, INT_MAX), JSON_EDEPTH); /* clamped to the cap */
  n = nest(buf, 200, 1);
  buf[n - 70] = buf[n - 70] == ']' ? '}' : ']';
  CHECK_EQ(skip(buf, n, INT_MAX), JSON_ESYNTAX);
  n = nest(buf, 200, 0);
  CHECK_EQ(skip(buf, n, INT_MAX), JSON_ESYNTAX);

  /* 100000 '[' fail at the limit, before reading on: no stack, no time. */
  enum { DEEP = 100000 };
  static char deep[DEEP];
  memset(deep, '[', DEEP);
  int64_t t0 = test_now_us();
  CHECK_EQ(skip(deep, DEEP, JSON_MAX_DEPTH), JSON_EDEPTH);
  CHECK_EQ(skip(deep, DEEP, INT_MAX), JSON_EDEPTH);
  for (int i = 0; i < DEEP; i += 2)
    memcpy(deep + i, "{}", 2);
  CHECK_EQ(skip(deep, DEEP, JSON_MAX_DEPTH), 2);
  CHECK(test_now_us() - t0 < 1000000);
}

/* ctl_parse on a guarded copy; the copy stays mapped until the next call
 * so the pointers in *m stay valid. */
static char scratch[256];

static int parse_n(const char *s, size_t n, size_t topic_max, size_t cap,
                   struct ctl_msg *m) {
  static struct guard g;
  guard_free(&g);
  memset(scratch, 0x55, sizeof(scratch));
  return ctl_parse(guard_copy(&g, s, n), n, topic_max, scratch, cap, m);
}

static int parse(const char *s, struct ctl_msg *m) {
  return parse_n(s, strlen(s), 64, sizeof(scratch), m);
}

static bool eq(const char *p, size_t n, const char *want) {
  return p && n == strlen(want) && memcmp(p, want, n) == 0;
}

void test_json_ctl_ops(void) {
  struct ctl_msg m;
  CHECK_EQ(parse("{\"op\":\"subscribe\",\"topic\":\"news\",\"since\":41,"
                 "\"id\":7}",
                 &m),
           0);
  CHECK_EQ(m.op, CTL_SUBSCRIBE);
  CHECK(eq(m.topic, m.topic_len, "news"));
  CHECK(m.topic >= scratch && m.topic < scratch + sizeof(scratch));
  CHECK_EQ(m.topic[m.topic_len], '\0');
  CHECK(m.has_since && m.since == 41 && !m.since_epoch);
  CHECK(eq(m.id, m.id_len, "7"));
  CHECK(!m.data);

  CHECK_EQ(parse(" {\n\"id\" : \"a\\\"b\" ,\t\"topic\":\"news\", "
                 "\"op\": \"unsubscribe\"}\r\n",
                 &m),
           0);
  CHECK_EQ(m.op, CTL_UNSUBSCRIBE);
  CHECK(eq(m.topic, m.topic_len, "news"));
  CHECK(eq(m.id, m.id_len, "\"a\\\"b\"")); /* raw, quotes and escapes */
  CHECK(!m.has_since);

  CHECK_EQ(parse("{\"op\":\"publish\",\"topic\":\"chat\",\"data\":{\"x\":[1,"
                 "2]},\"id\":-3}",
                 &m),
           0);
  CHECK_EQ(m.op, CTL_PUBLISH);
  CHECK(eq(m.topic, m.topic_len, "chat"));
  CHECK(eq(m.data, m.data_len, "{\"x\":[1,2]}"));
  CHECK(!m.data_is_string);
  CHECK(eq(m.id, m.id_len, "-3"));

  CHECK_EQ(parse("{\"op\":\"ping\"}", &m), 0);
  CHECK_EQ(m.op, CTL_PING);
  CHECK(!m.topic && !m.id && !m.data && !m.has_since);
  /* ping needs no scratch */
  CHECK_EQ(ctl_parse("{\"op\":\"ping\",\"id\":1}", 20, 64, NULL, 0, &m), 0);
  CHECK(eq(m.id, m.id_len, "1"));

  /* Unknown keys are validated and skipped, wherever they are. */
  CHECK_EQ(parse("{\"x\":[{\"deep\":[true,null]}],\"op\":\"ping\",\"zz\":"
                 "null,\"topicx\":1,\"op2\":\"\\u00e9\",\"x\":2}",
                 &m),
           0);
  CHECK_EQ(m.op, CTL_PING);
  CHECK(!m.topic);
  CHECK_EQ(parse("{\"op\":\"ping\",\"x\":[1,]}", &m), CTL_ESYNTAX);
  CHECK_EQ(parse("{\"op\":\"ping\",\"x\":\"\\ud800\"}", &m), CTL_ESYNTAX);

  /* Keys and values match after unescaping. */
  CHECK_EQ(parse("{\"\\u006fp\":\"p\\u0069ng\"}", &m), 0);
  CHECK_EQ(m.op, CTL_PING);
  CHECK_EQ(parse("{\"op\":\"subscribe\",\"topic\":\"a\\/b\\n\\u00e9\\ud83d"
                 "\\ude00\\\"\"}",
                 &m),
           0);
  CHECK(eq(m.topic, m.topic_len, "a/b\n\xc3\xa9\xf0\x9f\x98\x80\""));
  CHECK_EQ(parse("{\"op\":\"Ping\"}", &m), CTL_EOP);
  CHECK_EQ(parse("{\"op\":\"ping \"}", &m), CTL_EOP);
  CHECK_EQ(parse("{\"op\":\"unsubscribex\"}", &m), CTL_EOP);
  CHECK_EQ(parse("{\"op \":\"ping\"}", &m), CTL_EOP); /* an unknown key */
}

void test_json_ctl_errors(void) {
  struct ctl_msg m;
  static const struct {
    const char *s;
    int want;
  } cases[] = {
      /* not one object */
      {"", CTL_ESYNTAX},
      {"  ", CTL_ESYNTAX},
      {"[]", CTL_ESYNTAX},
      {"\"op\"", CTL_ESYNTAX},
      {"1", CTL_ESYNTAX},
      {"null", CTL_ESYNTAX},
      {"{", CTL_ESYNTAX},
      {"{\"op\":\"ping\"", CTL_ESYNTAX},
      {"{\"op\":\"ping\",}", CTL_ESYNTAX},
      {"{\"op\" \"ping\"}", CTL_ESYNTAX},
      {"{op:\"ping\"}", CTL_ESYNTAX},
      {"{\"op\":\"ping\"}x", CTL_ESYNTAX},
      {"{\"op\":\"ping\"} {}", CTL_ESYNTAX},
      {"{\"op\":\"ping\"}}", CTL_ESYNTAX},
      {"{\"op\":\"ping\"\x01}", CTL_ESYNTAX},
      {"{\"op\":\"pi\nng\"}", CTL_ESYNTAX},
      {"{\"op\":\"p\xffing\"}", CTL_ESYNTAX},
      /* syntax wins over an earlier semantic error */
      {"{\"op\":\"nope\",\"x\":[1,]}", CTL_ESYNTAX},
      {"{\"op\":1,\"op\":2,", CTL_ESYNTAX},
      /* op */
      {"{}", CTL_EOP},
      {"{\"topic\":\"a\"}", CTL_EOP},
      {"{\"op\":1}", CTL_EOP},
      {"{\"op\":null}", CTL_EOP},
      {"{\"op\":[\"ping\"]}", CTL_EOP},
      {"{\"op\":\"nope\"}", CTL_EOP},
      {"{\"op\":\"\"}", CTL_EOP},
      {"{\"op\":\"ping\\u0000\"}", CTL_EOP},
      /* topic */
      {"{\"op\":\"subscribe\"}", CTL_ETOPIC},
      {"{\"op\":\"unsubscribe\"}", CTL_ETOPIC},
      {"{\"op\":\"publish\",\"data\":1}", CTL_ETOPIC},
      {"{\"op\":\"subscribe\",\"topic\":1}", CTL_ETOPIC},
      {"{\"op\":\"subscribe\",\"topic\":null}", CTL_ETOPIC},
      {"{\"op\":\"subscribe\",\"topic\":[\"a\"]}", CTL_ETOPIC},
      {"{\"op\":\"subscribe\",\"topic\":\"\"}", CTL_ETOPIC},
      {"{\"op\":\"subscribe\",\"topic\":\"a\\u0000b\"}", CTL_ETOPIC},
      {"{\"op\":\"ping\",\"topic\":\"\"}", CTL_ETOPIC}, /* checked if present */
      /* first problem in document order */
      {"{\"topic\":1,\"op\":\"nope\"}", CTL_ETOPIC},
      {"{\"op\":\"nope\",\"topic\":1}", CTL_EOP},
      {"{\"since\":-1,\"topic\":1}", CTL_EFIELD},
      /* duplicates of known keys; unknown ones may repeat */
      {"{\"op\":\"ping\",\"op\":\"ping\"}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"\\u006fp\":\"ping\"}", CTL_EFIELD},
      {"{\"op\":\"subscribe\",\"topic\":\"a\",\"topic\":\"a\"}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"since\":1,\"since\":1}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"data\":1,\"data\":1}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"id\":1,\"id\":1}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"x\":1,\"x\":1}", 0},
      /* since */
      {"{\"op\":\"ping\",\"since\":true}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"since\":null}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"since\":[1]}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"since\":-1}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"since\":-0}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"since\":1.5}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"since\":1.0}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"since\":1e3}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"since\":9223372036854775808}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"since\":18446744073709551616}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"since\":99999999999999999999999}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"since\":\"\"}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"since\":\"42\"}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"since\":\"-42\"}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"since\":\"e-\"}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"since\":\"e-01\"}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"since\":\"e-+1\"}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"since\":\"e--1\"}", 0}, /* epoch "e-", seq 1 */
      {"{\"op\":\"ping\",\"since\":\"e-1 \"}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"since\":\"e-1.5\"}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"since\":\"e-9223372036854775808\"}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"since\":\"e\\u0000x-1\"}", CTL_EFIELD},
      /* id */
      {"{\"op\":\"ping\",\"id\":1.5}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"id\":1e2}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"id\":true}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"id\":null}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"id\":{}}", CTL_EFIELD},
      {"{\"op\":\"ping\",\"id\":[1]}", CTL_EFIELD},
      /* publish needs data */
      {"{\"op\":\"publish\",\"topic\":\"a\"}", CTL_EFIELD},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int got = parse(cases[i].s, &m);
    if (got != cases[i].want)
      fprintf(stderr, "  case %zu: %s\n", i, cases[i].s);
    CHECK_EQ(got, cases[i].want);
  }

  /* The id survives every error but a syntax error, for the reply. */
  CHECK_EQ(parse("{\"op\":\"nope\",\"id\":5}", &m), CTL_EOP);
  CHECK(eq(m.id, m.id_len, "5"));
  CHECK_EQ(parse("{\"id\":\"r\",\"topic\":1,\"op\":\"ping\"}", &m),
           CTL_ETOPIC);
  CHECK(eq(m.id, m.id_len, "\"r\""));
  CHECK_EQ(parse("{\"op\":\"subscribe\",\"id\":-1}", &m), CTL_ETOPIC);
  CHECK(eq(m.id, m.id_len, "-1"));
  CHECK_EQ(parse("{\"op\":\"ping\",\"id\":1.5}", &m), CTL_EFIELD);
  CHECK(!m.id);
  CHECK_EQ(parse("{\"id\":5,\"op\":\"ping\",\"x\":[}", &m), CTL_ESYNTAX);
  CHECK(!m.id);

  /* topic_max counts decoded bytes */
  const char *s = "{\"op\":\"subscribe\",\"topic\":\"abcd\"}";
  CHECK_EQ(parse_n(s, strlen(s), 4, 64, &m), 0);
  CHECK_EQ(parse_n(s, strlen(s), 3, 64, &m), CTL_ETOPIC);
  s = "{\"op\":\"subscribe\",\"topic\":\"\\u00e9\\u00e9\"}";
  CHECK_EQ(parse_n(s, strlen(s), 4, 64, &m), 0);
  CHECK_EQ(m.topic_len, 4);
  CHECK_EQ(parse_n(s, strlen(s), 3, 64, &m), CTL_ETOPIC);
  /* Deep "data": the message object counts as a level. */
  char buf[200];
  int n = sprintf(buf, "{\"op\":\"ping\",\"data\":%.*s1%.*s}", JSON_MAX_DEPTH - 1,
                  "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
                  JSON_MAX_DEPTH - 1, "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
  CHECK_EQ(parse_n(buf, (size_t)n, 64, 64, &m), 0);
  n = sprintf(buf, "{\"op\":\"ping\",\"data\":%.*s1%.*s}", JSON_MAX_DEPTH,
              "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", JSON_MAX_DEPTH,
              "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
  CHECK_EQ(parse_n(buf, (size_t)n, 64, 64, &m), CTL_ESYNTAX);
}

void test_json_ctl_scratch(void) {
  struct ctl_msg m;
  const char *s = "{\"op\":\"subscribe\",\"topic\":\"news\"}";
  CHECK_EQ(parse_n(s, strlen(s), 64, 5, &m), 0); /* "news" + NUL */
  CHECK(eq(m.topic, m.topic_len, "news"));
  CHECK_EQ(scratch[4], '\0');
  CHECK_EQ(scratch[5], 0x55); /* nothing written past the capacity */
  CHECK_EQ(parse_n(s, strlen(s), 64, 4, &m), CTL_ETOOBIG);
  CHECK_EQ(ctl_parse(s, strlen(s), 64, NULL, 0, &m), CTL_ETOOBIG);
  /* A too-long topic is a topic problem even when scratch is small too. */
  CHECK_EQ(parse_n(s, strlen(s), 3, 2, &m), CTL_ETOPIC);

  /* topic and the since string share scratch, in document order. */
  s = "{\"op\":\"subscribe\",\"since\":\"ep-3\",\"topic\":\"ab\"}";
  CHECK_EQ(parse_n(s, strlen(s), 64, 6, &m), 0);
  CHECK(eq(m.since_epoch, m.since_epoch_len, "ep"));
  CHECK(eq(m.topic, m.topic_len, "ab"));
  CHECK(m.since_epoch == scratch && m.topic == scratch + 3);
  CHECK_EQ(m.since_epoch[2], '\0');
  CHECK_EQ(m.since, 3);
  CHECK_EQ(parse_n(s, strlen(s), 64, 6, &m), 0);
  CHECK_EQ(parse_n(s, strlen(s), 64, 5, &m), CTL_ETOOBIG); /* topic */
  CHECK_EQ(parse_n(s, strlen(s), 64, 4, &m), CTL_ETOOBIG); /* since */
  CHECK(strcmp(ctl_strerror(CTL_ETOOBIG), "too-big") == 0);
}

void test_json_ctl_since(void) {
  struct ctl_msg m;
  CHECK_EQ(parse("{\"op\":\"subscribe\",\"topic\":\"t\",\"since\":0}", &m), 0);
  CHECK(m.has_since && m.since == 0 && !m.since_epoch);
  CHECK_EQ(parse("{\"op\":\"subscribe\",\"topic\":\"t\",\"since\":"
                 "9223372036854775807}",
                 &m),
           0);
  CHECK(m.since == INT64_MAX);
  CHECK_EQ(parse("{\"op\":\"subscribe\",\"topic\":\"t\",\"since\":"
                 "\"9f3a-42\"}",
                 &m),
           0);
  CHECK(eq(m.since_epoch, m.since_epoch_len, "9f3a"));
  CHECK_EQ(m.since_epoch[m.since_epoch_len], '\0');
  CHECK_EQ(m.since, 42);
  /* split at the last '-'; the epoch is decoded */
  CHECK_EQ(parse("{\"op\":\"subscribe\",\"topic\":\"t\",\"since\":"
                 "\"a-b\\u002d9223372036854775807\"}",
                 &m),
           0);
  CHECK(eq(m.since_epoch, m.since_epoch_len, "a-b"));
  CHECK(m.since == INT64_MAX);
  CHECK_EQ(parse("{\"op\":\"subscribe\",\"topic\":\"t\",\"since\":"
                 "\"\\u00e9-0\"}",
                 &m),
           0);
  CHECK(eq(m.since_epoch, m.since_epoch_len, "\xc3\xa9"));
  CHECK_EQ(m.since, 0);
}

void test_json_ctl_data_raw(void) {
  static const char *const datas[] = {
      "{ \"a\" : [1, 2.5e-3, \"x\\u00e9\"] , \"b\":{} }",
      "[]",
      "[ 1 ,\n2 ]",
      "\"str \\\"q\\\" \\u00e9 \xc3\xa9\"",
      "\"\"",
      "-1.5e3",
      "0",
      "true",
      "null",
  };
  for (size_t i = 0; i < sizeof(datas) / sizeof(datas[0]); i++) {
    char buf[256];
    int n = snprintf(buf, sizeof(buf),
                     "{\"op\":\"publish\",\"data\" : \t%s\n ,\"topic\":\"t\"}",
                     datas[i]);
    struct ctl_msg m;
    CHECK_EQ(parse_n(buf, (size_t)n, 64, 64, &m), 0);
    CHECK(eq(m.data, m.data_len, datas[i])); /* exact, no whitespace */
    CHECK_EQ(m.data_is_string, datas[i][0] == '"');
    CHECK_EQ(json_skip_value(m.data, m.data_len, JSON_MAX_DEPTH),
             m.data_len);
  }
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 32);
}

/* Random text, half of it valid UTF-8 (ASCII and encoded code points of
 * every length), half with raw bytes and encoded surrogates mixed in. */
static size_t random_text(unsigned char *out, size_t max) {
  size_t n = 0, want = rnd() % max;
  bool dirty = rnd() % 2;
  while (n + 4 <= want) {
    uint32_t r = rnd() % (dirty ? 8 : 6), cp;
    if (r < 3) {
      out[n++] = (unsigned char)(rnd() % 0x80);
      continue;
    }
    if (r == 6) {
      out[n++] = (unsigned char)rnd();
      continue;
    }
    cp = r == 3 ? 0x80 + rnd() % 0x780
       : r == 4 ? 0x800 + rnd() % 0xf000
       : r == 5 ? 0x10000 + rnd() % 0x100000
                : 0xd800 + rnd() % 0x800;
    if (r == 4 && cp >= 0xd800)
      cp += 0x800; /* over the surrogates */
    if (cp < 0x800) {
      out[n++] = (unsigned char)(0xc0 | cp >> 6);
    } else if (cp < 0x10000) {
      out[n++] = (unsigned char)(0xe0 | cp >> 12);
      out[n++] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    } else {
      out[n++] = (unsigned char)(0xf0 | cp >> 18);
      out[n++] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
      out[n++] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    }
    out[n++] = (unsigned char)(0x80 | (cp & 0x3f));
  }
  return n;
}

void test_json_escape(void) {
  static const struct {
    const char *in;
    size_t len;
    const char *out;
  } cases[] = {
      {"plain text", 0, "plain text"},
      {"a\"b\\c/", 0, "a\\\"b\\\\c/"},
      {"\b\f\n\r\t", 0, "\\b\\f\\n\\r\\t"},
      {"\x01\x1f\x7f", 0, "\\u0001\\u001f\\u007f"},
      {"a\0b", 3, "a\\u0000b"},
      {"\xc3\xa9\xf0\x9f\x98\x80", 0, "\xc3\xa9\xf0\x9f\x98\x80"},
      {"\xff", 0, "\\ufffd"},
      {"\xe2\x82", 0, "\\ufffd\\ufffd"},
      {"\xed\xa0\x80x", 0, "\\ufffd\\ufffd\\ufffdx"},
      {"\xc0\xaf", 0, "\\ufffd\\ufffd"},
      {"", 0, ""},
  };
  char out[64];
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    size_t n = cases[i].len ? cases[i].len : strlen(cases[i].in);
    size_t want = strlen(cases[i].out);
    CHECK_EQ(json_escaped_len(cases[i].in, n), want);
    memset(out, 0x55, sizeof(out));
    CHECK_EQ(json_escape(out, cases[i].in, n), want);
    CHECK(memcmp(out, cases[i].out, want) == 0);
    CHECK_EQ(out[want], 0x55);
  }
  CHECK_EQ(json_escaped_len(NULL, 0), 0);

  /* Random bytes always escape to a valid JSON string; valid UTF-8
   * without NUL reads back as the same bytes. */
  static unsigned char in[200];
  static char esc[200 * 6 + 64], msg[200 * 6 + 128];
  for (int iter = 0; iter < 20000; iter++) {
    size_t n = random_text(in, sizeof(in));
    size_t elen = json_escaped_len((const char *)in, n);
    esc[0] = '"';
    CHECK_EQ(json_escape(esc + 1, (const char *)in, n), elen);
    esc[elen + 1] = '"';
    /* the guard page costs two syscalls: use it now and then */
    long r = iter % 16 ? json_skip_value(esc, elen + 2, 0)
                       : skip(esc, elen + 2, 0);
    CHECK_EQ(r, elen + 2);
    if (!utf8_valid((const char *)in, n) || !n || memchr(in, 0, n))
      continue;
    int mlen = snprintf(msg, sizeof(msg), "{\"op\":\"ping\",\"topic\":%.*s}",
                        (int)elen + 2, esc);
    struct ctl_msg m;
    CHECK_EQ(parse_n(msg, (size_t)mlen, sizeof(in), sizeof(scratch), &m), 0);
    CHECK_EQ(m.topic_len, n);
    CHECK(memcmp(m.topic, in, n) == 0);
  }
}

void test_json_utf8(void) {
  static const struct {
    const char *s;
    bool ok;
  } cases[] = {
      {"a", true},
      {"\xc2\x80", true},
      {"\xdf\xbf", true},
      {"\xe0\xa0\x80", true},
      {"\xe1\x80\x80", true},
      {"\xed\x9f\xbf", true},     /* U+D7FF */
      {"\xee\x80\x80", true},     /* U+E000 */
      {"\xef\xbf\xbf", true},
      {"\xf0\x90\x80\x80", true}, /* U+10000 */
      {"\xf4\x8f\xbf\xbf", true}, /* U+10FFFF */
      {"\x80", false},
      {"\xbf", false},
      {"\xc0\x80", false}, /* overlong */
      {"\xc1\xbf", false},
      {"\xe0\x80\x80", false},
      {"\xe0\x9f\xbf", false},
      {"\xf0\x80\x80\x80", false},
      {"\xf0\x8f\xbf\xbf", false},
      {"\xed\xa0\x80", false}, /* surrogates */
      {"\xed\xbf\xbf", false},
      {"\xf4\x90\x80\x80", false}, /* > U+10FFFF */
      {"\xf5\x80\x80\x80", false},
      {"\xf8\x88\x80\x80\x80", false},
      {"\xfe", false},
      {"\xff", false},
      {"\xc2", false}, /* truncated */
      {"\xe0\xa0", false},
      {"\xf0\x90\x80", false},
      {"\xc2\x41", false},
      {"\xe1\x80\x41", false},
      {"\xf1\x80\x80\xc0", false},
  };
  CHECK(utf8_valid(NULL, 0));
  /* Each case at every offset in ASCII, so the 8-byte fast path meets it
   * aligned and not, and with ASCII after it or at the very end. */
  unsigned char buf[40];
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    size_t n = strlen(cases[i].s);
    CHECK(ref_utf8((const unsigned char *)cases[i].s, n) == cases[i].ok);
    for (size_t off = 0; off < 17; off++) {
      for (size_t tail = 0; tail < 10; tail += 9) {
        memset(buf, 'x', sizeof(buf));
        memcpy(buf + off, cases[i].s, n);
        struct guard g;
        const char *p = guard_copy(&g, buf, off + n + tail);
        bool ok = utf8_valid(p, off + n + tail);
        guard_free(&g);
        if (ok != cases[i].ok)
          fprintf(stderr, "  case %zu off %zu tail %zu\n", i, off, tail);
        CHECK(ok == cases[i].ok);
      }
    }
  }
  static unsigned char in[300];
  int valid = 0;
  for (int iter = 0; iter < 50000; iter++) {
    size_t n = random_text(in, sizeof(in));
    bool ok = ref_utf8(in, n);
    CHECK(utf8_valid((const char *)in, n) == ok);
    valid += ok;
    /* and every prefix, where sequences end truncated */
    if (iter % 64 == 0)
      for (size_t k = 0; k < n; k++)
        CHECK(utf8_valid((const char *)in, k) == ref_utf8(in, k));
  }
  CHECK(valid > 1000); /* the generator reaches both outcomes */
}
