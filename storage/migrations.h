/* migrations.h -- the schema migrations compiled into the binary.
 *
 * tools/embed-migrations.sh generates the table from the
 * migrations/NNNN_name.sql files, in file-name order. Migration 'number' N
 * brings PRAGMA user_version to N.
 * A shipped migration is never edited: add a new file instead. */
#ifndef CHORUS_STORAGE_MIGRATIONS_H
#define CHORUS_STORAGE_MIGRATIONS_H

typedef struct store__migration {
    int number;        /* NNNN of the file name; user_version after it */
    const char *name;  /* the _description part */
    const char *sql;   /* the whole file */
} store__migration;

extern const store__migration store__migrations[];
extern const int store__migrations_count;

/* The same for PostgreSQL, from migrations/pg/ (storage/pg/pg.c): number N
 * brings the schema_version table to N. */
extern const store__migration store__pg_migrations[];
extern const int store__pg_migrations_count;

#endif
