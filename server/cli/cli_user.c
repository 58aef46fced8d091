/* cli_user.c -- `chorus user ...` and `chorus token create`: accounts and
 * API tokens of team mode, managed on the database directly (safe while a
 * server runs). Passwords are read from the terminal with echo off, or one
 * line from standard input when it is not a terminal; never from argv. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "server/auth/auth.h"
#include "server/base/base.h"
#include "server/cli/cli.h"

static const char *user_help =
    "usage: chorus user <action> [--data DIR]\n"
    "\n"
    "  chorus user add NAME [--admin]   create an account (asks for its password)\n"
    "  chorus user list                 list the accounts\n"
    "  chorus user passwd NAME          set a new password (logs out its sessions)\n"
    "  chorus user remove NAME          delete the account, its sessions and roles\n"
    "\n"
    "A password is read from the terminal (twice, no echo), or as one line on\n"
    "standard input when that is not a terminal. At least 8 characters.\n";

static const char *token_help =
    "usage: chorus token create --user NAME [--days N] [--data DIR]\n"
    "\n"
    "Print a new API token for NAME (for bots: send it as \"token\" in hello,\n"
    "or as \"Authorization: Bearer TOKEN\"). It never expires unless --days.\n"
    "It is shown once: only its hash is stored.\n";

/* Read a line without echo from the terminal (prompt on stderr), or a line
 * from stdin. 0, or -1. */
static int read_secret(const char *prompt, char *out, size_t len)
{
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO);
    if (tty) {
        fputs(prompt, stderr);
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *got = fgets(out, (int)len, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (!got) return -1;
    out[strcspn(out, "\r\n")] = 0;
    return 0;
}

static int new_password(char *hash, size_t hlen)
{
    char a[1025], b[1025];
    int rc = -1;
    if (read_secret("password: ", a, sizeof a) < 0) {
        fprintf(stderr, "chorus: no password given\n");
    } else if (strlen(a) < 8) {
        fprintf(stderr, "chorus: a password has at least 8 characters\n");
    } else if (isatty(STDIN_FILENO) &&
               (read_secret("again: ", b, sizeof b) < 0 || strcmp(a, b) != 0)) {
        fprintf(stderr, "chorus: the passwords differ\n");
    } else if (srv_auth_hash_password(a, hash, hlen) < 0) {
        fprintf(stderr, "chorus: cannot hash the password (out of memory)\n");
    } else {
        rc = 0;
    }
    sodium_memzero(a, sizeof a);
    sodium_memzero(b, sizeof b);
    return rc;
}

/* Parse --data, --admin, --user, --days; the rest are positional. */
typedef struct user_args {
    const char *data, *user;
    int admin;
    long days;
    char *pos[3];
    int npos;
} user_args;

static int parse(int argc, char **argv, const char *help, user_args *ua)
{
    static const struct option opts[] = {
        {"data", 1, 0, 'd'}, {"store", 1, 0, 'd'}, {"admin", 0, 0, 'a'}, {"user", 1, 0, 'u'},
        {"days", 1, 0, 'n'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int opt;
    memset(ua, 0, sizeof *ua);
    ua->data = "./data";
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'd': ua->data = optarg; break;
        case 'a': ua->admin = 1; break;
        case 'u': ua->user = optarg; break;
        case 'n':
            if (srv_cli_int("--days", optarg, 1, 36500, &ua->days)) return -1;
            break;
        case 'h': fputs(help, stdout); return 1;
        default:
            fprintf(stderr, "%s: unknown flag or missing value: %s\n", argv[0],
                    argv[optind - 1]);
            return -1;
        }
    }
    while (optind < argc && ua->npos < 3) ua->pos[ua->npos++] = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], argv[optind]);
        return -1;
    }
    return 0;
}

/* The database, with the server key loaded (srv_auth_init). */
static store *open_db(const char *data)
{
    char path[PATH_MAX];
    store *s = srv_cli_db_open(data, 1, path, sizeof path);
    if (s && srv_auth_init(s, path) < 0) {
        store_close(s);
        return NULL;
    }
    return s;
}

static int user_add(store *s, user_args *ua)
{
    char hash[crypto_pwhash_STRBYTES];
    const char *name = ua->pos[1];
    size_t n = strlen(name);
    if (n == 0 || n > 64 || strpbrk(name, "\n\r\t<>\"") ) {
        fprintf(stderr, "chorus: a user name is 1-64 characters, no < > \" or control characters\n");
        return 2;
    }
    size_t m = strlen(SRV_GUEST_MARK);
    if (n >= m && strcmp(name + n - m, SRV_GUEST_MARK) == 0) {
        fprintf(stderr, "chorus: a user name may not end with \"%s\" (guests' names do)\n",
                SRV_GUEST_MARK);
        return 2;
    }
    if (new_password(hash, sizeof hash) < 0) return 1;
    int rc = store_user_add(s, name, hash, ua->admin, (int64_t)srv_wall_ms(), NULL);
    if (rc == STORE_EEXIST) {
        fprintf(stderr, "chorus: user '%s' exists\n", name);
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "chorus: cannot add the user: %s\n", store_strerror(rc));
        return 1;
    }
    printf("user %s added%s\n", name, ua->admin ? " (admin)" : "");
    return 0;
}

static int user_list(store *s)
{
    store_user *us = NULL;
    size_t n = 0;
    int rc = store_user_list(s, &us, &n);
    if (rc < 0) {
        fprintf(stderr, "chorus: %s\n", store_strerror(rc));
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        printf("%s%s\n", us[i].name, us[i].admin ? "\tadmin" : "");
    store_users_free(us, n);
    return 0;
}

static int user_passwd(store *s, user_args *ua)
{
    char hash[crypto_pwhash_STRBYTES];
    store_user u;
    if (store_user_get(s, ua->pos[1], &u, NULL) < 0) {
        fprintf(stderr, "chorus: no user '%s'\n", ua->pos[1]);
        return 1;
    }
    store_user_clear(&u);
    if (new_password(hash, sizeof hash) < 0) return 1;
    int rc = store_user_set_password(s, ua->pos[1], hash);
    if (rc == 0) rc = store_user_logout_all(s, ua->pos[1]);
    if (rc < 0) {
        fprintf(stderr, "chorus: %s\n", store_strerror(rc));
        return 1;
    }
    printf("password of %s changed\n", ua->pos[1]);
    return 0;
}

int srv_cli_user(int argc, char **argv)
{
    user_args ua;
    int rc = parse(argc, argv, user_help, &ua);
    if (rc) return rc > 0 ? 0 : 2;
    const char *act = ua.npos ? ua.pos[0] : "";
    int want = strcmp(act, "list") == 0 ? 1 : 2;
    if ((strcmp(act, "add") && strcmp(act, "list") && strcmp(act, "passwd") &&
         strcmp(act, "remove")) || ua.npos != want) {
        fputs(user_help, stderr);
        return 2;
    }
    store *s = open_db(ua.data);
    if (!s) return 1;
    if (strcmp(act, "add") == 0) rc = user_add(s, &ua);
    else if (strcmp(act, "list") == 0) rc = user_list(s);
    else if (strcmp(act, "passwd") == 0) rc = user_passwd(s, &ua);
    else if ((rc = store_user_remove(s, ua.pos[1])) < 0) {
        fprintf(stderr, "chorus: no user '%s'\n", ua.pos[1]);
        rc = 1;
    } else {
        printf("user %s removed\n", ua.pos[1]);
    }
    store_close(s);
    return rc;
}

int srv_cli_token(int argc, char **argv)
{
    user_args ua;
    store_user u;
    char text[SRV_TOKEN_CHARS + 1];
    unsigned char hash[SRV_TOKEN_HASH];
    int rc = parse(argc, argv, token_help, &ua);
    if (rc) return rc > 0 ? 0 : 2;
    if (ua.npos != 1 || strcmp(ua.pos[0], "create") != 0 || !ua.user) {
        fputs(token_help, stderr);
        return 2;
    }
    store *s = open_db(ua.data);
    if (!s) return 1;
    if ((rc = store_user_get(s, ua.user, &u, NULL)) < 0) {
        fprintf(stderr, "chorus: no user '%s'\n", ua.user);
        store_close(s);
        return 1;
    }
    srv_auth_new_token(text, hash);
    int64_t now = (int64_t)srv_wall_ms();
    rc = store_token_put(s, hash, sizeof hash, u.id, "api", now,
                         ua.days ? now + ua.days * 86400000LL : 0);
    store_user_clear(&u);
    store_close(s);
    if (rc < 0) {
        fprintf(stderr, "chorus: cannot store the token: %s\n", store_strerror(rc));
        return 1;
    }
    printf("%s\n", text);
    sodium_memzero(text, sizeof text);
    return 0;
}
