/* schema.h - the queue's migrations, embedded from schema/NNN-*.sql by
 * tools/embed-sql at build time. */
#ifndef APH_SCHEMA_H
#define APH_SCHEMA_H

struct schema_migration {
    int version;          /* PRAGMA user_version once applied */
    const char *name;     /* the file it came from */
    const char *sql;
};

extern const struct schema_migration schema_migrations[];
extern const int schema_migration_count;

#endif
