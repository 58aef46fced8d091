/* test_srv_export.c -- the Markdown renderer, git idents, the log walk and
 * edit sessions, and the exporters against a real (temporary) database.
 *
 * The renderer is also fed random mixes of Markdown delimiters, HTML and
 * hostile links: whatever the input, the output may only hold the tags the
 * renderer emits, balanced, with safe link targets. */
#include <ftw.h>
#include <unistd.h>

#include "server/history/history.h"
#include "tests/harness.h"
#include "tests/markdown_cases.h"

static char *render(const char *md)
{
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    if (!f) return NULL;
    srv_md_render(f, md, strlen(md));
    fclose(f);
    return out;
}

static int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

static void test_markdown_blocks_render_as_html(void)
{
    char *h = render("# Head *x*\n\npara **b** `c<d>`\nline two\n\n- a\n- b\n"
                     "  - c\n\n3. x\n4. y\n\n> q\n> r\n\n```js\nif (a<b)\n```\n\n"
                     "    code\n\n***\n");
    CHECK(contains(h, "<h1>Head <em>x</em></h1>"));
    CHECK(contains(h, "<p>para <strong>b</strong> <code>c&lt;d&gt;</code>\nline two</p>"));
    CHECK(contains(h, "<ul>\n<li>a</li>\n<li>b\n<ul>\n<li>c</li>\n</ul>\n</li>\n</ul>"));
    CHECK(contains(h, "<ol start=\"3\">"));
    CHECK(contains(h, "<blockquote>\n<p>q\nr</p>\n</blockquote>"));
    CHECK(contains(h, "<pre><code>if (a&lt;b)\n</code></pre>"));
    CHECK(contains(h, "<pre><code>code\n</code></pre>"));
    CHECK(contains(h, "<hr />"));
    free(h);
}

static void test_markdown_escapes_html_and_drops_unsafe_links(void)
{
    char *h = render("<script>alert(1)</script> <a href=x>y</a> & \"q\" 'a'\n"
                     "[x](javascript:alert(1)) [y](https://ok.example/a?b=1&c=2) "
                     "[z](data:text/html,x) [w](/rel/path) [v](mailto:a@b.c) "
                     "[u](java\tscript:x) \\*not em\\* snake_case_name\n");
    CHECK(!contains(h, "<script"));
    CHECK(!contains(h, "<a href=x"));
    CHECK(contains(h, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    CHECK(contains(h, "&amp; &quot;q&quot; 'a'"));
    CHECK(!contains(h, "href=\"javascript"));
    CHECK(!contains(h, "href=\"data"));
    CHECK(contains(h, "[x](javascript:alert(1))"));
    CHECK(contains(h, "<a href=\"https://ok.example/a?b=1&amp;c=2\""));
    CHECK(contains(h, "<a href=\"/rel/path\""));
    CHECK(contains(h, "<a href=\"mailto:a@b.c\""));
    CHECK(contains(h, "*not em*"));
    CHECK(contains(h, "snake_case_name"));
    free(h);
}

static void test_control_characters_become_replacement_characters(void)
{
    char src[] = "a\x01" "b\x7f" "c\td\r\ne";
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    REQUIRE(f);
    srv_md_escape(f, "x\0y", 3);
    srv_md_escape(f, src, strlen(src));
    fclose(f);
    CHECK_EQ_STR(out, "x\xEF\xBF\xBDy" "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\td\r\ne");
    free(out);
}

static void test_safe_url_accepts_only_known_schemes_and_relative(void)
{
    static const char *good[] = {"https://a.b/c", "http://x", "HTTPS://X",
                                 "mailto:a@b", "page.html", "/a/b?c:d", "#top",
                                 "a/b:c", "?q=1"};
    static const char *bad[] = {"javascript:x", "JAVASCRIPT:x", "data:x",
                                "vbscript:x", "file:///etc", "a b", "x\"y",
                                "", "ftp://x", "java\nscript:x", "x<y"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        CHECK(srv_md_safe_url(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(!srv_md_safe_url(bad[i], strlen(bad[i])));
}

static int well_formed(const char *h)
{
    return md_well_formed(h);
}

static void test_random_markdown_renders_balanced_safe_html(void)
{
    static const char *bits[] = {
        "*", "**", "_", "__", "`", "``", "[", "]", "(", ")", "](", "\\", "\n",
        "\n\n", "# ", "> ", "- ", "1. ", "    ", "```", "---", "<", ">", "&",
        "\"", "'", "a", "word ", "javascript:x", "https://e.x", "<script>",
        "\x01", "e\xcc\x81", "\xf0\x9f\x91\x8b", " ", "\t", "~~~"};
    uint64_t seed = harness_seed();
    srand((unsigned)seed);
    char buf[4096];
    for (long it = 0; it < harness_iters(3000); it++) {
        size_t n = 0, want = (size_t)(rand() % 200);
        for (size_t i = 0; i < want; i++) {
            const char *b = bits[rand() % (int)(sizeof bits / sizeof *bits)];
            if (n + strlen(b) >= sizeof buf) break;
            memcpy(buf + n, b, strlen(b));
            n += strlen(b);
        }
        buf[n] = 0;
        char *h = render(buf);
        REQUIRE(h);
        int wf = well_formed(h);
        if (wf) {
            fprintf(stderr, "  input: %s\n  output (%d): %s\n", buf, wf, h);
            CHECK(wf == 0);
            free(h);
            return;
        }
        free(h);
    }
}

static void test_pathological_delimiters_render_in_linear_time(void)
{
    /* 1 MB of unmatched openers of every kind: quadratic would not finish */
    size_t n = 1 << 20;
    char *src = malloc(n + 1);
    REQUIRE(src);
    static const char pat[] = "*_[`**__](";
    for (size_t i = 0; i < n; i++) src[i] = pat[i % (sizeof pat - 1)];
    src[n] = 0;
    char *h = render(src);
    CHECK(h && well_formed(h) == 0);
    free(h);
    memset(src, '>', n); /* a 1 MB-deep blockquote: depth is bounded */
    h = render(src);
    CHECK(h && well_formed(h) == 0);
    free(h);
    free(src);
}

/* Past SRV_MD_MAX_BYTES libcmark never sees the text (its memory grows
 * with the elements, and it aborts when memory runs out): it is shown as
 * written, escaped, in one <pre>. */
static void test_text_past_the_markdown_bound_is_shown_as_written(void)
{
    size_t n = SRV_MD_MAX_BYTES + 1;
    char *src = malloc(n + 1);
    REQUIRE(src);
    memset(src, '>', n);
    memcpy(src, "<b>&\x01", 5);
    src[n] = 0;
    char *h = render(src);
    REQUIRE(h);
    CHECK(contains(h, "over the 1024 KiB shown as Markdown"));
    CHECK(contains(h, "<pre>&lt;b&gt;&amp;\xEF\xBF\xBD&gt;&gt;"));
    CHECK(!contains(h, "<blockquote>"));
    CHECK(well_formed(h) == 0);
    free(h);
    memset(src, '>', n - 1);
    src[n - 1] = 0; /* at the bound: still Markdown */
    h = render(src);
    CHECK(h && contains(h, "<blockquote>") && !contains(h, "<pre>"));
    free(h);
    free(src);
}

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; s && *s; s++) n += *s == c;
    return n;
}

static size_t count_str(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s ? strstr(s, needle) : NULL; p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static char *render_n(const char *md, size_t len)
{
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    if (!f) return NULL;
    srv_md_render(f, md, len);
    fclose(f);
    return out;
}

/* libcmark's own pathological inputs (tests/markdown_cases.h) at the sizes
 * its suite uses: the output is balanced, holds only our tags and safe
 * links, keeps every character of the text, and nests at most
 * SRV_MD_MAX_DEPTH deep. How the time grows is bench_srv_markdown's. */
static void test_cmark_pathological_inputs_render_whole_and_safe(void)
{
    for (size_t i = 0; i < sizeof md_cases / sizeof *md_cases; i++) {
        const md_case *c = &md_cases[i];
        size_t n = c->build == md_nested_lists ? 1000
                 : c->build == md_backticks ? 1000
                 : c->build == md_references ? 5000 : 50000, len;
        char *src = md_case_build(c, n, &len);
        REQUIRE(src);
        char *h = render_n(src, len);
        int wf = h ? well_formed(h) : -9;
        if (wf != 0) fprintf(stderr, "  case %s: well_formed %d\n", c->name, wf);
        CHECK(wf == 0);
        if (c->per_n >= 0 &&
            count_char(h, c->mark) != (size_t)(c->per_n * (long)n + c->plus)) {
            fprintf(stderr, "  case %s: %zu '%c' in the output\n", c->name,
                    count_char(h, c->mark), c->mark);
            CHECK(0);
        }
        CHECK(count_str(h, "<blockquote>") <= SRV_MD_MAX_DEPTH);
        CHECK(count_str(h, "<ul>") <= SRV_MD_MAX_DEPTH);
        if (strcmp(c->name, "nested_block_quotes") == 0)
            CHECK(count_str(h, "<blockquote>") == SRV_MD_MAX_DEPTH);
        if (strcmp(c->name, "backticks") == 0)
            CHECK(h && strncmp(h, "<p>", 3) == 0 && !strstr(h, "<code>"));
        free(h);
        free(src);
    }
    char *h = render("**x [a*b**c*](d)");
    CHECK(contains(h, "**x <a href=\"d\" rel=\"nofollow noopener noreferrer\">"
                      "a<em>b**c</em></a>"));
    free(h);
    h = render_n("abc\0de\0", 7);
    CHECK(contains(h, "abc\xEF\xBF\xBD" "de\xEF\xBF\xBD"));
    free(h);
}

static void test_images_become_links_and_raw_html_shows_as_text(void)
{
    char *h = render("![alt](https://i.example/x.png) ![y](javascript:z) "
                     "[![in](/i.png)](/page) <javascript:x> <https://a.b>\n\n"
                     "<div onclick=x>\nblock\n</div>\n\n```js\nx\n```\n");
    CHECK(!contains(h, "<img"));
    CHECK(contains(h, "<a href=\"https://i.example/x.png\" rel=\"nofollow "
                      "noopener noreferrer\">alt</a>"));
    CHECK(contains(h, "![y](javascript:z)"));
    CHECK(contains(h, "<a href=\"/page\" rel=\"nofollow noopener noreferrer\">"
                      "in</a>"));
    CHECK(contains(h, "&lt;javascript:x&gt;"));
    CHECK(contains(h, "<a href=\"https://a.b\""));
    CHECK(contains(h, "<p>&lt;div onclick=x&gt;\nblock\n&lt;/div&gt;</p>"));
    CHECK(contains(h, "<pre><code>x\n</code></pre>"));
    CHECK(h && well_formed(h) == 0);
    free(h);
}

static void test_git_idents_are_valid_whatever_the_name(void)
{
    char name[256], email[128];
    srv_export_git_name("  Ann <ann@x>\n\tLee  ", name, sizeof name);
    CHECK_EQ_STR(name, "Ann ann@x Lee");
    srv_export_git_email("  Ann <ann@x>\n\tLee  ", email, sizeof email);
    CHECK_EQ_STR(email, "ann-annxlee@chorus.invalid");
    srv_export_git_name("<>\n", name, sizeof name);
    CHECK_EQ_STR(name, "anonymous");
    srv_export_git_email("한글", email, sizeof email);
    CHECK_EQ_STR(email, "user@chorus.invalid");
    srv_export_git_name("Zoë", name, sizeof name);
    CHECK_EQ_STR(name, "Zoë");
    char small[5];
    srv_export_git_name("abcé", small, sizeof small); /* cut inside é */
    CHECK_EQ_STR(small, "abc");
}

/* ---- against a database */

static char dir[64];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static store *fresh_store(void)
{
    char path[128];
    store *s = NULL;
    snprintf(dir, sizeof dir, "/tmp/chorus-test-export-XXXXXX");
    if (!mkdtemp(dir)) return NULL;
    snprintf(path, sizeof path, "%s/chorus.db", dir);
    if (store_open(&s, path, NULL, NULL, 0) < 0) return NULL;
    return s;
}

static void drop_store(store *s)
{
    store_close(s);
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Doc "d": 6 ops; Ann at t=1..3 s, Bob at 4 s, Ann again after a gap. */
static int fill(store *s)
{
    static const char *ops[] = {"[\"hello\"]", "[5,\" world\"]", "[-1,\"H\"]",
                                "[11,\"!\"]", "[\"\\u0000\"]", "[1,-5]"};
    static const char *users[] = {"Ann", "Ann", "Ann", "Bob", "Ann", "Ann"};
    static const int64_t t[] = {1000, 2000, 3000, 4000, 4000 + 301000, 306000};
    if (store_doc_create(s, "d", "Doc", "Ann", 500) < 0) return -1;
    for (int i = 0; i < 6; i++) {
        store_oprec r = {"d", i + 1, ops[i], "c1", i + 1, users[i], t[i]};
        if (store_append(s, &r, 1) < 0) return -1;
    }
    return 0;
}

static void test_walk_and_sessions_follow_users_and_idle_gaps(void)
{
    store *s = fresh_store();
    REQUIRE(s && fill(s) == 0);
    srv_walk w;
    srv_sessions g;
    srv_edit_session e[8];
    const store_oprec *r;
    int n = 0, rc;
    REQUIRE(srv_walk_init(&w, s, "d", 0, -1, 1) == 0);
    srv_sessions_init(&g, 0);
    while ((rc = srv_walk_next(&w, &r)) == 1)
        if (srv_sessions_feed(&g, r, w.op, &e[n])) n++;
    CHECK_EQ_INT(rc, 0);
    n += srv_sessions_flush(&g, &e[n]);
    size_t bytes;
    char *text = ot_doc_text(w.text, &bytes);
    CHECK(bytes == 8 && memcmp(text, "\0 world!", 8) == 0);
    free(text);
    srv_walk_clear(&w);
    REQUIRE(n == 3);
    CHECK_EQ_STR(e[0].user, "Ann");
    CHECK(e[0].from == 0 && e[0].to == 3 && e[0].added == 12 && e[0].removed == 1);
    CHECK(e[1].from == 3 && e[1].to == 4 && e[1].start_ms == 4000);
    CHECK(e[2].from == 4 && e[2].to == 6 && e[2].removed == 5 && e[2].ops == 2);
    CHECK_EQ_INT(srv_walk_init(&w, s, "d", 7, -1, 0), STORE_ERANGE);
    CHECK_EQ_INT(srv_walk_init(&w, s, "d", 3, 2, 0), STORE_ERANGE);
    CHECK_EQ_INT(srv_walk_init(&w, s, "nope", 0, -1, 0), STORE_ENOTFOUND);
    drop_store(s);
}

static char *export_str(store *s, const char *doc, int64_t v, int fmt,
                        size_t *len, int *rc)
{
    char *out = NULL;
    FILE *f = open_memstream(&out, len);
    *rc = srv_export_write(s, doc, v, (srv_export_format)fmt, f);
    fclose(f);
    return out;
}

static void test_exports_hold_the_text_and_the_history(void)
{
    store *s = fresh_store();
    REQUIRE(s && fill(s) == 0);
    size_t n;
    int rc;
    char *o = export_str(s, "d", -1, SRV_EXPORT_TXT, &n, &rc);
    CHECK(rc == 0 && n == 8 && memcmp(o, "\0 world!", 8) == 0);
    free(o);
    o = export_str(s, "d", 2, SRV_EXPORT_MD, &n, &rc);
    CHECK(rc == 0 && n == 11 && memcmp(o, "hello world", 11) == 0);
    free(o);
    o = export_str(s, "d", -1, SRV_EXPORT_JSON, &n, &rc);
    CHECK(rc == 0 && contains(o, "\"text\":\"\\u0000 world!\"}"));
    CHECK(contains(o, "{\"version\":5,\"user\":\"Ann\",\"client\":\"c1\",\"seq\":5,"
                      "\"time\":305000,\"op\":[\"\\u0000\"]}"));
    json_error_t jerr;
    json_t *j = json_loads(o, JSON_ALLOW_NUL, &jerr);
    CHECK(j && json_array_size(json_object_get(j, "ops")) == 6);
    json_decref(j);
    free(o);
    o = export_str(s, "d", -1, SRV_EXPORT_GIT, &n, &rc);
    CHECK(rc == 0 && contains(o, "author Bob <bob@chorus.invalid> 4 +0000\n"));
    CHECK(contains(o, "M 100644 inline d.txt\ndata 8\n"));
    CHECK(n > 5 && memcmp(o + n - 5, "done\n", 5) == 0);
    free(o);
    o = export_str(s, "d", 0, SRV_EXPORT_GIT, &n, &rc);
    CHECK(rc == 0 && !contains(o, "commit"));
    free(o);
    o = export_str(s, "d", 7, SRV_EXPORT_JSON, &n, &rc);
    CHECK_EQ_INT(rc, STORE_ERANGE);
    free(o);
    o = export_str(s, "x", -1, SRV_EXPORT_HTML, &n, &rc);
    CHECK_EQ_INT(rc, STORE_ENOTFOUND);
    free(o);
    FILE *full = fopen("/dev/full", "w");
    if (full) {
        CHECK_EQ_INT(srv_export_write(s, "d", -1, SRV_EXPORT_JSON, full), STORE_EIO);
        fclose(full);
    }
    drop_store(s);
}

static void test_format_names(void)
{
    CHECK_EQ_INT(srv_export_format_parse("git"), SRV_EXPORT_GIT);
    CHECK_EQ_INT(srv_export_format_parse("html"), SRV_EXPORT_HTML);
    CHECK_EQ_INT(srv_export_format_parse("docx"), -1);
    CHECK_EQ_INT(srv_export_format_parse(""), -1);
    CHECK_EQ_STR(srv_export_ctype(SRV_EXPORT_MD), "text/markdown; charset=utf-8");
}

int main(void)
{
    RUN(test_markdown_blocks_render_as_html);
    RUN(test_markdown_escapes_html_and_drops_unsafe_links);
    RUN(test_control_characters_become_replacement_characters);
    RUN(test_safe_url_accepts_only_known_schemes_and_relative);
    RUN(test_random_markdown_renders_balanced_safe_html);
    RUN(test_pathological_delimiters_render_in_linear_time);
    RUN(test_cmark_pathological_inputs_render_whole_and_safe);
    RUN(test_text_past_the_markdown_bound_is_shown_as_written);
    RUN(test_images_become_links_and_raw_html_shows_as_text);
    RUN(test_git_idents_are_valid_whatever_the_name);
    RUN(test_walk_and_sessions_follow_users_and_idle_gaps);
    RUN(test_exports_hold_the_text_and_the_history);
    RUN(test_format_names);
    return harness_done();
}
