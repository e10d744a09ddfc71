/* NATS-style topic patterns: tokens separated by '.', "*" matches exactly
 * one token, ">" as the last token matches one or more. */
#ifndef HUB_WILDCARD_H
#define HUB_WILDCARD_H

#include <stdbool.h>
#include <stddef.h>

/* The length of the token at s (up to the next '.' or the end). */
size_t pattern_token(const char *s, size_t len);
/* True if `pat` holds a wildcard token. */
bool pattern_is_wild(const char *pat, size_t len);
/* True if topic matches pat (a plain pattern matches only itself). */
bool pattern_match(const char *pat, size_t plen, const char *topic,
                   size_t tlen);
/* True if every topic `sub` (a topic or a pattern) matches, pat matches
 * too: hub_pattern_covers(). */
bool pattern_covers(const char *pat, size_t plen, const char *sub,
                    size_t slen);

#endif
