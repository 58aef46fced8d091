/* static.c -- map a request path to a file under web/, safely.
 *
 * The invariant: a path resolves only to a regular file whose real path is
 * inside the real web root. Segments "." and "..", hidden files, back
 * slashes, control characters and any '%' left after lws's own decoding are
 * refused before the file system is asked; realpath() then catches links
 * that point out of the root. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server/net/net.h"

static int bad_path(const char *p)
{
    if (p[0] != '/') return 1;
    for (const char *s = p; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 || ch == 0x7f || ch == '\\' || ch == '%') return 1;
        if (ch == '/' && s[1] == '.') return 1;   /* "/." "/.." "/.hidden" */
        if (ch == '/' && s[1] == '/') return 1;
    }
    return 0;
}

int srv__static_resolve(const char *web_root, const char *path, char *out,
                        size_t outlen)
{
    char joined[PATH_MAX + 64];
    char real[PATH_MAX];
    struct stat st;

    if (bad_path(path)) return -1;
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    else if (strncmp(path, "/d/", 3) == 0 && path[3] && !strchr(path + 3, '/'))
        path = "/editor.html";
    if ((size_t)snprintf(joined, sizeof joined, "%s%s", web_root, path) >=
        sizeof joined)
        return -1;
    if (!realpath(joined, real)) return -1;
    size_t rl = strlen(web_root);
    if (strncmp(real, web_root, rl) != 0 || real[rl] != '/') return -1;
    if (stat(real, &st) < 0 || !S_ISREG(st.st_mode)) return -1;
    if (strlen(real) >= outlen) return -1;
    strcpy(out, real);
    return 0;
}

const char *srv__mime_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".md", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(path, '.');
    if (dot)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcmp(dot, types[i].ext) == 0) return types[i].type;
    return "application/octet-stream";
}
