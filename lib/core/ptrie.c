/* The pattern trie; see ptrie.h. */
#include "ptrie.h"

#include <string.h>

#include "wildcard.h"

struct pnode {
  struct hnode node;   /* in parent->kids, by token */
  struct htable kids;  /* literal tokens */
  struct pnode *star;  /* "*" */
  struct pnode *gt;    /* ">" (always a leaf) */
  struct pnode *parent;
  void *val;           /* non-NULL: a pattern ends here */
  bool has_val;
  size_t tlen;
  char tok[];
};

struct tok_key {
  const char *s;
  size_t len;
};

static int tok_eq(const struct hnode *n, const void *key) {
  const struct pnode *p = container_of(n, struct pnode, node);
  const struct tok_key *k = key;
  return p->tlen == k->len && memcmp(p->tok, k->s, k->len) == 0;
}

bool ptrie_valid(const char *pat, size_t len) {
  size_t depth = 0;
  for (size_t i = 0; i <= len;) {
    size_t tl = pattern_token(pat + i, len - i);
    if (++depth > PTRIE_MAX_DEPTH)
      return false;
    if (tl == 1 && pat[i] == '>' && i + 1 < len)
      return false; /* '>' only as the last token */
    i += tl + 1;
  }
  return len > 0;
}

static struct pnode *node_new(struct ptrie *t, struct pnode *parent,
                              const char *tok, size_t len) {
  struct pnode *n = mem_calloc(t->mem, 1, sizeof(*n) + len);
  if (!n)
    return NULL;
  htable_init(&n->kids, t->mem);
  n->parent = parent;
  n->tlen = len;
  memcpy(n->tok, tok, len);
  return n;
}

void ptrie_init(struct ptrie *t, const hub_mem *mem, const hash_key *key) {
  t->root = NULL;
  t->mem = mem;
  t->key = key;
  t->count = 0;
}

static bool empty(const struct pnode *n) {
  return !n->has_val && !n->star && !n->gt && n->kids.count == 0;
}

/* Frees n and its empty ancestors (never the root). */
static void prune(struct ptrie *t, struct pnode *n) {
  while (n && n->parent && empty(n)) {
    struct pnode *p = n->parent;
    if (p->star == n)
      p->star = NULL;
    else if (p->gt == n)
      p->gt = NULL;
    else
      htable_remove(&p->kids, &n->node);
    htable_destroy(&n->kids);
    mem_free(t->mem, n);
    n = p;
  }
}

void ptrie_destroy(struct ptrie *t) {
  /* Called once every pattern is removed: only the root is left. */
  if (t->root) {
    htable_destroy(&t->root->kids);
    mem_free(t->mem, t->root);
  }
  t->root = NULL;
}

/* The child of n for token s[0..len), created if asked. */
static struct pnode *child(struct ptrie *t, struct pnode *n, const char *s,
                           size_t len, bool create) {
  if (len == 1 && (s[0] == '*' || s[0] == '>')) {
    struct pnode **slot = s[0] == '*' ? &n->star : &n->gt;
    if (!*slot && create)
      *slot = node_new(t, n, s, len);
    return *slot;
  }
  struct tok_key k = {s, len};
  uint64_t h = hash_bytes(t->key, s, len);
  struct hnode *hn = htable_find(&n->kids, h, tok_eq, &k);
  if (hn || !create)
    return hn ? container_of(hn, struct pnode, node) : NULL;
  struct pnode *c = node_new(t, n, s, len);
  if (!c)
    return NULL;
  c->node.hash = h;
  if (htable_insert(&n->kids, &c->node)) {
    mem_free(t->mem, c);
    return NULL;
  }
  return c;
}

static struct pnode *find(struct ptrie *t, const char *pat, size_t len,
                          bool create) {
  if (!t->root && (!create || !(t->root = node_new(t, NULL, "", 0))))
    return NULL;
  struct pnode *n = t->root;
  for (size_t i = 0; i <= len && n;) {
    size_t tl = pattern_token(pat + i, len - i);
    struct pnode *c = child(t, n, pat + i, tl, create);
    if (!c && create)
      prune(t, n); /* undo what this call created */
    n = c;
    i += tl + 1;
  }
  return n;
}

void **ptrie_slot(struct ptrie *t, const char *pat, size_t len, bool create) {
  struct pnode *n = find(t, pat, len, create);
  if (!n)
    return NULL;
  if (!n->has_val) {
    if (!create)
      return NULL;
    n->has_val = true;
    n->val = NULL;
    t->count++;
  }
  return &n->val;
}

void ptrie_remove(struct ptrie *t, const char *pat, size_t len) {
  struct pnode *n = find(t, pat, len, false);
  if (!n || !n->has_val)
    return;
  n->has_val = false;
  n->val = NULL;
  t->count--;
  prune(t, n);
}

void ptrie_match(const struct ptrie *t, const char *topic, size_t len,
                 void (*fn)(void *val, void *ud), void *ud) {
  if (!t->root)
    return;
  /* Each level pushes at most two nodes (literal, star): the stack is
   * bounded by the trie's depth, not by the topic. */
  struct {
    const struct pnode *n;
    size_t pos;
  } stack[2 * PTRIE_MAX_DEPTH + 2];
  int sp = 0;
  stack[sp].n = t->root;
  stack[sp++].pos = 0;
  while (sp) {
    const struct pnode *n = stack[--sp].n;
    size_t pos = stack[sp].pos;
    if (pos > len) { /* every token consumed */
      if (n->has_val)
        fn(n->val, ud);
      continue;
    }
    if (n->gt && n->gt->has_val)
      fn(n->gt->val, ud); /* '>' takes this token and the rest */
    size_t tl = pattern_token(topic + pos, len - pos);
    bool wild = tl == 1 && (topic[pos] == '*' || topic[pos] == '>');
    const struct pnode *c =
        wild ? NULL /* topics never match as patterns */
             : child((struct ptrie *)t, (struct pnode *)n, topic + pos, tl,
                     false);
    if (c) {
      stack[sp].n = c;
      stack[sp++].pos = pos + tl + 1;
    }
    if (n->star) {
      stack[sp].n = n->star;
      stack[sp++].pos = pos + tl + 1;
    }
  }
}
