/* utf8.c -- UTF-8 validation and code-point counting for ot/.
 *
 * Validation follows RFC 3629: no overlong forms, nothing above U+10FFFF;
 * encoded surrogates (U+D800..U+DFFF, as CESU-8 writes them) get their own
 * error, OT_ESURROGATE. Counting and skipping assume valid text and work a
 * word (8 bytes) at a time: a code point starts at every byte that is not a
 * continuation byte (10xxxxxx). */
#include <string.h>

#include "ot/ot_int.h"

#define HI 0x8080808080808080ULL

static inline uint64_t load64(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* Number of continuation bytes in the 8 bytes of 'w'. */
static inline unsigned conts(uint64_t w)
{
    /* one bit per byte at bit 7; sum them with a multiply (no popcnt
     * instruction is assumed) */
    uint64_t m = (w & ~(w << 1) & HI) >> 7;
    return (unsigned)((m * 0x0101010101010101ULL) >> 56);
}

static inline int is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Length of the sequence starting at s[0], or a negative error. */
static int seq(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    int len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0xC2) return OT_EUTF8;
    if (c < 0xE0) len = 2;
    else if (c < 0xF0) len = 3;
    else if (c < 0xF5) len = 4;
    else return OT_EUTF8;
    if (c == 0xE0) lo = 0xA0;
    else if (c == 0xF0) lo = 0x90;
    else if (c == 0xF4) hi = 0x8F;
    if ((size_t)len > left) return OT_EUTF8;
    if (c == 0xED && s[1] >= 0xA0 && s[1] <= 0xBF)
        return is_cont(s[2]) ? OT_ESURROGATE : OT_EUTF8;
    if (s[1] < lo || s[1] > hi) return OT_EUTF8;
    for (int i = 2; i < len; i++)
        if (!is_cont(s[i])) return OT_EUTF8;
    return len;
}

int ot_utf8_validate(const char *s, size_t bytes, size_t *codepoints)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, cps = 0;
    while (i < bytes) {
        if (i + 8 <= bytes && !(load64(s + i) & HI)) {
            i += 8;
            cps += 8;
            continue;
        }
        if (u[i] < 0x80) {
            i++;
            cps++;
            continue;
        }
        int len = seq(u + i, bytes - i);
        if (len < 0) return len;
        i += (size_t)len;
        cps++;
    }
    if (codepoints) *codepoints = cps;
    return 0;
}

size_t ot__utf8_count(const char *s, size_t bytes)
{
    size_t i = 0, n = 0;
    for (; i + 8 <= bytes; i += 8) n += conts(load64(s + i));
    for (; i < bytes; i++) n += is_cont((unsigned char)s[i]);
    return bytes - n;
}

/* The byte offset where code point number 'cps' starts ('bytes' if the text
 * holds exactly 'cps' code points). */
size_t ot__utf8_skip(const char *s, size_t bytes, size_t cps)
{
    size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
        size_t k = 8 - conts(load64(s + i));
        if (cps < k) break;
        cps -= k;
    }
    for (; i < bytes; i++) {
        if (is_cont((unsigned char)s[i])) continue;
        if (cps == 0) return i;
        cps--;
    }
    return bytes;
}
