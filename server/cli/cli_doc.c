/* cli_doc.c -- `chorus doc list [--trash] | rm D | restore D | purge D`:
 * the documents and the trash of a data directory, from the shell.
 *
 * Like the other subcommands it writes the database directly, safe while
 * a server runs. A running team-mode server leaves the clients of a
 * document removed here out within about a second (the trash bumps the
 * auth generation, migration 0005); an open-mode server lets clients that
 * are already joined stay until the document unloads (docs/http.md). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server/cli/cli.h"
#include "storage/store.h"

static const char *doc_help =
    "usage: chorus doc [--data DIR] list [--trash]\n"
    "       chorus doc [--data DIR] rm|restore|purge DOC\n"
    "  list      the documents (id, version, updated, title); --trash: the\n"
    "            trash (id, version, trashed, title)\n"
    "  rm        move DOC to the trash (it leaves every list; history kept)\n"
    "  restore   bring DOC back from the trash, as it was\n"
    "  purge     delete DOC from the trash for good (its id is free again)\n";

static void stamp(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int list_docs(store *s)
{
    store_docinfo *d = NULL;
    size_t n = 0;
    char when[32];
    int rc = store_doc_list(s, &d, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        stamp(d[i].updated_ms, when);
        printf("%s\t%lld\t%s\t%s\n", d[i].id, (long long)d[i].version, when,
               d[i].title);
    }
    store_docinfo_free(d, n);
    return rc;
}

static int list_trash(store *s)
{
    store_trashinfo *d = NULL;
    size_t n = 0;
    char when[32];
    int rc = store_trash_list(s, 0, &d, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        stamp(d[i].trashed_ms, when);
        printf("%s\t%lld\t%s\t%s\n", d[i].id, (long long)d[i].version, when,
               d[i].title);
    }
    store_trashinfo_free(d, n);
    return rc;
}

/* Run 'act' on 'doc'; the exit status. */
static int act_on(store *s, const char *act, const char *doc)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int rc = strcmp(act, "rm") == 0        ? store_doc_trash(s, doc, now)
             : strcmp(act, "restore") == 0 ? store_doc_untrash(s, doc)
                                           : store_doc_purge(s, doc);
    if (rc == STORE_ENOTFOUND) {
        fprintf(stderr, "chorus: %s: %s\n", doc,
                strcmp(act, "rm") == 0 ? "no such document (or in the trash)"
                                       : "not in the trash");
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "chorus: %s %s: %s\n", act, doc, store_strerror(rc));
        return 1;
    }
    printf("%s %s\n", doc,
           strcmp(act, "rm") == 0        ? "moved to the trash"
           : strcmp(act, "restore") == 0 ? "restored"
                                         : "purged");
    return 0;
}

int srv_cli_doc(int argc, char **argv)
{
    static const struct option opts[] = {{"data", 1, 0, 'd'}, {"store", 1, 0, 'd'},
                                         {"trash", 0, 0, 't'},
                                         {"help", 0, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *data = "./data";
    int opt, trash = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (opt == 'h') return fputs(doc_help, stdout), 0;
        if (opt == 'd') data = optarg;
        else if (opt == 't') trash = 1;
        else return fputs(doc_help, stderr), 2;
    }
    int npos = argc - optind;
    const char *act = npos ? argv[optind] : "";
    int list = strcmp(act, "list") == 0;
    int one = !strcmp(act, "rm") || !strcmp(act, "restore") || !strcmp(act, "purge");
    if (!(list && npos == 1) && !(one && npos == 2 && !trash))
        return fputs(doc_help, stderr), 2;
    store *s = srv_cli_db_open(data, 0, NULL, 0);
    if (!s) return 1;
    int rc = 0;
    if (list) {
        rc = trash ? list_trash(s) : list_docs(s);
        if (rc < 0) fprintf(stderr, "chorus: %s\n", store_strerror(rc));
        rc = rc < 0;
    } else {
        rc = act_on(s, act, argv[optind + 1]);
    }
    store_close(s);
    return rc;
}
