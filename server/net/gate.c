/* gate.c -- who may talk to this server at all, decided from a request's
 * headers before any route runs (http.c asks for every request and for
 * the WebSocket upgrade):
 *
 * - Host (DNS rebinding): a page of evil.example whose name now resolves
 *   to this machine still names evil.example in Host, so only the names
 *   this server knows are answered (srv_gate_host_ok has the list).
 * - Origin: a page of another origin may neither open the WebSocket nor
 *   change anything through the API, not even one of the same site, whose
 *   requests carry our SameSite=Strict cookie.
 *
 * A header too long to read whole is refused, never taken as absent.
 * Everything comes from the config the caller hands in (the server's,
 * from srv_http_env); nothing here keeps state. */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "server/net/net.h"
#include "server/base/base.h"

#define GATE_MAX 1024      /* longest Host or Origin read */

/* The name of a Host value (or of an origin's authority) into 'out':
 * the port stripped, IPv6 brackets removed, lower case. A bare IPv6
 * address (as --bind takes it) is kept whole. 0, or -1 when empty,
 * malformed or longer than 'outlen'. */
static int host_name(const char *h, size_t n, char *out, size_t outlen)
{
    const char *start = h, *end = h + n;
    size_t len = n;
    if (n && h[0] == '[') {
        const char *close = memchr(h, ']', n);
        if (!close || (close + 1 < end && close[1] != ':')) return -1;
        start = h + 1;
        len = (size_t)(close - start);
    } else {
        const char *colon = memchr(h, ':', n);
        if (colon && !memchr(colon + 1, ':', (size_t)(end - colon - 1)))
            len = (size_t)(colon - h);
    }
    if (len == 0 || len >= outlen) return -1;
    for (size_t i = 0; i < len; i++)
        out[i] = (char)tolower((unsigned char)start[i]);
    out[len] = 0;
    return 0;
}

/* The host name of an origin "scheme://host[:port]"; -1 for "*", "null"
 * and anything else without one. */
static int origin_host(const char *origin, char *out, size_t outlen)
{
    const char *p = strstr(origin, "://");
    if (!p) return -1;
    p += 3;
    return host_name(p, strcspn(p, "/"), out, outlen);
}

static int is_ip(const char *name)
{
    unsigned char a[16];
    return inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1;
}

/* Bound to every address (0.0.0.0, ::)? */
static int any_address(const char *bind)
{
    unsigned char a[16], zero[16] = {0};
    if (inet_pton(AF_INET, bind, a) == 1) return memcmp(a, zero, 4) == 0;
    return inet_pton(AF_INET6, bind, a) == 1 && memcmp(a, zero, 16) == 0;
}

/* 'name' equals the host name of entry 'e' (a Host-like value)? */
static int same_host(const char *e, const char *name)
{
    char buf[GATE_MAX];
    return host_name(e, strlen(e), buf, sizeof buf) == 0 && strcmp(buf, name) == 0;
}

/* --allow-host '*': no Host check at all */
static int any_host(const srv_config *cfg)
{
    for (int i = 0; i < cfg->nhosts; i++)
        if (strcmp(cfg->hosts[i], "*") == 0) return 1;
    return 0;
}

static int listed(const srv_config *cfg, const char *name)
{
    static const char *loopback[] = {"localhost", "127.0.0.1", "::1"};
    char buf[GATE_MAX];
    for (int i = 0; i < cfg->nhosts; i++)
        if (same_host(cfg->hosts[i], name)) return 1;
    if (same_host(cfg->bind, name)) return 1;
    for (size_t i = 0; i < sizeof loopback / sizeof loopback[0]; i++)
        if (strcmp(loopback[i], name) == 0) return 1;
    for (int i = 0; i < cfg->norigins; i++)
        if (origin_host(cfg->origins[i], buf, sizeof buf) == 0 &&
            strcmp(buf, name) == 0)
            return 1;
    return any_address(cfg->bind) && is_ip(name);
}

int srv_gate_host_ok(const srv_config *cfg, const char *host)
{
    char name[GATE_MAX];
    if (!host || any_host(cfg)) return 1;
    if (host_name(host, strlen(host), name, sizeof name) < 0) return 0;
    return listed(cfg, name);
}

int srv_gate_origin_ok(const srv_config *cfg, const char *origin,
                       const char *host)
{
    for (int i = 0; i < cfg->norigins; i++)
        if (strcmp(cfg->origins[i], "*") == 0 ||
            strcasecmp(cfg->origins[i], origin) == 0)
            return 1;
    if (cfg->norigins || !host) return 0;
    /* default: the server's own origin, as the browser reached it (either
     * scheme: behind a TLS proxy the page is https, we see http) */
    if (strncasecmp(origin, "http://", 7) == 0) return strcasecmp(origin + 7, host) == 0;
    if (strncasecmp(origin, "https://", 8) == 0) return strcasecmp(origin + 8, host) == 0;
    return 0;
}

/* ---- the same, on a request's headers */

/* Copy header 't' into buf: 1, 0 when absent, -1 when too long. */
static int header(struct lws *wsi, enum lws_token_indexes t, char *buf,
                  size_t len)
{
    int n = lws_hdr_total_length(wsi, t);
    if (n <= 0) return 0;
    if ((size_t)n >= len || lws_hdr_copy(wsi, buf, (int)len, t) != n) return -1;
    return 1;
}

/* The Host (HTTP/2: :authority): 1, 0 when there is none, -1 too long. */
static int host_of(struct lws *wsi, char *buf, size_t len)
{
    int rc = header(wsi, WSI_TOKEN_HOST, buf, len);
    return rc ? rc : header(wsi, WSI_TOKEN_HTTP_COLON_AUTHORITY, buf, len);
}

int srv__gate_host(const srv_config *cfg, struct lws *wsi)
{
    char host[GATE_MAX];
    int rc = host_of(wsi, host, sizeof host);
    if (rc < 0) return any_host(cfg);
    return srv_gate_host_ok(cfg, rc ? host : NULL);
}

int srv__gate_origin(const srv_config *cfg, struct lws *wsi)
{
    char origin[GATE_MAX], host[GATE_MAX];
    int rc = header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin);
    if (rc == 0) return SRV_GATE_NO_ORIGIN;
    if (rc < 0) return SRV_GATE_FOREIGN;
    rc = host_of(wsi, host, sizeof host);
    return srv_gate_origin_ok(cfg, origin, rc > 0 ? host : NULL)
               ? SRV_GATE_ALLOWED : SRV_GATE_FOREIGN;
}

int srv__gate_csrf(const srv_config *cfg, struct lws *wsi)
{
    char site[32];
    int o = srv__gate_origin(cfg, wsi);
    if (o != SRV_GATE_NO_ORIGIN) return o == SRV_GATE_ALLOWED;
    /* no Origin: a script, or an old browser; one that says where the
     * request comes from must say it comes from our own pages */
    int n = lws_hdr_custom_length(wsi, "sec-fetch-site:", 15);
    if (n <= 0) return 1;
    if ((size_t)n >= sizeof site ||
        lws_hdr_custom_copy(wsi, site, sizeof site, "sec-fetch-site:", 15) < 0)
        return 0;
    return strcasecmp(site, "same-origin") == 0 || strcasecmp(site, "none") == 0;
}
