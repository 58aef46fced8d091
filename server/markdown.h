/* markdown.h -- a small, careful Markdown to HTML renderer for the html
 * export: headings, paragraphs, emphasis, code spans and blocks, lists,
 * links, blockquotes and rules.
 *
 * Safety is the point, not completeness: every byte of the input reaches
 * the output escaped (raw HTML in the source is shown as text), links keep
 * only http, https, mailto and relative targets, NUL and other control
 * characters become U+FFFD, nesting is bounded, and the work is linear in
 * the input (no pattern of delimiters makes it quadratic). */
#ifndef CHORUS_SERVER_MARKDOWN_H
#define CHORUS_SERVER_MARKDOWN_H

#include <stddef.h>
#include <stdio.h>

/* Write the HTML body fragment for 'len' bytes of UTF-8 Markdown 'text' to
 * 'out'. Returns 0, or -1 when writing failed (ferror). */
int srv_md_render(FILE *out, const char *text, size_t len);

/* Write 'len' bytes of 'text' escaped for HTML text and attribute values
 * (& < > " ' and control characters). Returns 0 or -1 (ferror). */
int srv_md_escape(FILE *out, const char *text, size_t len);

/* 1 when 'url' (len bytes) is a link target we emit: http:, https:,
 * mailto: or a relative reference, with no spaces or control bytes. */
int srv_md_safe_url(const char *url, size_t len);

#endif
