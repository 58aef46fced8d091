/* fuzz_markdown.c -- the html export's Markdown renderer
 * (server/history/markdown.c: libcmark plus our safety pass) on any bytes.
 *
 * Properties checked on every input: no crash, leak or undefined
 * behaviour; the output holds only the tags the renderer may emit,
 * balanced, every href one srv_md_safe_url accepts (md_well_formed in
 * tests/markdown_cases.h); no control character but tab, newline and
 * return; never more than SRV_MD_MAX_DEPTH block quotes open at once. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/history/history.h"
#include "tests/markdown_cases.h"

#define CHECK(x) do { if (!(x)) { fprintf(stderr, "fuzz_markdown: %s (line %d)\n", #x, __LINE__); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int max_quote_depth(const char *h)
{
    int depth = 0, max = 0;
    for (const char *p = strchr(h, '<'); p; p = strchr(p + 1, '<')) {
        if (strncmp(p, "<blockquote>", 12) == 0 && ++depth > max) max = depth;
        if (strncmp(p, "</blockquote>", 13) == 0) depth--;
    }
    return max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    if (!f) return 0;
    int rc = srv_md_render(f, (const char *)data, size);
    CHECK(fclose(f) == 0);
    CHECK(rc == 0 && out);
    CHECK(strlen(out) == n); /* no NUL */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        CHECK(c >= 0x20 || c == '\t' || c == '\n' || c == '\r');
        CHECK(c != 0x7f);
    }
    CHECK(md_well_formed(out) == 0);
    CHECK(max_quote_depth(out) <= SRV_MD_MAX_DEPTH);
    free(out);
    return 0;
}
