/* test_queue.c - lib/queue.c on real SQLite files (PROTOCOL.md sections 4
 * and 5): a new queue is in WAL mode with the latest schema and a kept node
 * fingerprint; appends get increasing ids that never go backwards, are
 * deduplicated per (instance, uniqueID) and counted in messages_in; the
 * /status/ figures honour the replay window; a newer schema is refused;
 * two processes creating one file at once apply the schema once; and a
 * queue locked past the busy timeout answers QUEUE_UNAVAILABLE. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "queue.h"
#include "token.h"

static char tmpdir[64];

static int make_tmpdir(void **state) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/aph-unit-queue-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void db_path(char *out, size_t outlen, const char *name) {
    snprintf(out, outlen, "%s/%s", tmpdir, name);
}

static struct queue *open_ok(const char *path, long long busy_ms, int full) {
    struct queue_options opt = { path, busy_ms, full, 0 };
    struct queue *q = NULL;
    char err[QUEUE_ERR_MAX] = "";
    int rc = queue_open(&opt, &q, err, sizeof err);
    if (rc != 0) print_error("queue_open %s: %s\n", path, err);
    assert_int_equal(rc, 0);
    assert_non_null(q);
    return q;
}

/* A second, plain connection to the file, as the sqlite3 shell would be. */
static sqlite3 *raw_open(const char *path) {
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

static long long sql_int(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) print_error("%s: %s\n", sql, sqlite3_errmsg(db));
    assert_non_null(st);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void sql_text(sqlite3 *db, const char *sql, char *out, size_t outlen) {
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

static void sql_exec(sqlite3 *db, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        print_error("%s: %s\n", sql, msg ? msg : "?");
        sqlite3_free(msg);
        fail();
    }
}

static enum queue_result append(struct queue *q, const char *instance, const char *uid, long long now_ms,
                                long long *id) {
    char body[256], err[QUEUE_ERR_MAX] = "";
    int len = snprintf(body, sizeof body, "{\"subscribers\":[\"PHID-USER-a\"],\"uniqueID\":\"%s\"}", uid);
    enum queue_result r = queue_append(q, instance, uid, body, (size_t)len, now_ms, id, err, sizeof err);
    if (r == QUEUE_UNAVAILABLE) print_error("queue_append: %s\n", err);
    return r;
}

static struct queue_status status_of(struct queue *q, const char *instance, long long now_ms,
                                     long long max_age_ms, long long max_messages) {
    struct queue_status st;
    char err[QUEUE_ERR_MAX] = "";
    enum queue_result r = queue_read_status(q, instance, now_ms, max_age_ms, max_messages, &st, err, sizeof err);
    if (r != QUEUE_OK) print_error("queue_read_status: %s\n", err);
    assert_int_equal(r, QUEUE_OK);
    return st;
}

static void test_open_new_file(void **state) {
    char path[128];
    db_path(path, sizeof path, "new.db");
    struct stat sb;
    assert_int_equal(stat(path, &sb), -1);

    struct queue *q = open_ok(path, 1000, 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(queue_latest_schema_version() >= 1);
    assert_int_equal(queue_schema_version(q), queue_latest_schema_version());
    /* PRAGMA synchronous: 1 is NORMAL. */
    assert_int_equal(sql_int(queue_db(q), "PRAGMA synchronous"), 1);

    const char *fp = queue_fingerprint(q);
    assert_int_equal(strlen(fp), TOKEN_FINGERPRINT_LEN);
    assert_int_equal(strspn(fp, TOKEN_FINGERPRINT_ALPHABET), TOKEN_FINGERPRINT_LEN);
    char first[TOKEN_FINGERPRINT_LEN + 1];
    strcpy(first, fp);

    /* What an operator sees with the sqlite3 shell. */
    sqlite3 *db = raw_open(path);
    char mode[16];
    sql_text(db, "PRAGMA journal_mode", mode, sizeof mode);
    assert_string_equal(mode, "wal");
    assert_int_equal(sql_int(db, "PRAGMA user_version"), queue_latest_schema_version());
    char stored[32];
    sql_text(db, "SELECT fingerprint FROM node", stored, sizeof stored);
    assert_string_equal(stored, first);
    assert_int_equal(sql_int(db, "SELECT count(*) FROM node"), 1);
    sqlite3_close(db);
    queue_close(q);

    /* Kept across a reopen, and synchronous_full is FULL (2). */
    q = open_ok(path, 1000, 1);
    assert_string_equal(queue_fingerprint(q), first);
    assert_int_equal(queue_schema_version(q), queue_latest_schema_version());
    assert_int_equal(sql_int(queue_db(q), "PRAGMA synchronous"), 2);
    queue_close(q);

    /* Another new file gets another fingerprint. */
    db_path(path, sizeof path, "new2.db");
    q = open_ok(path, 1000, 0);
    assert_string_not_equal(queue_fingerprint(q), first);
    queue_close(q);
}

static void test_append_ids_and_duplicates(void **state) {
    char path[128];
    db_path(path, sizeof path, "append.db");
    struct queue *q = open_ok(path, 1000, 0);
    long long now = queue_now_ms();
    long long id1 = 0, id2 = 0, id3 = 0, id4 = 0, dup = -7;

    assert_int_equal(append(q, "acme", "u1", now, &id1), QUEUE_OK);
    assert_int_equal(append(q, "acme", "u2", now, &id2), QUEUE_OK);
    assert_true(id1 > 0);
    assert_true(id2 > id1);
    /* Same (instance, uniqueID): a duplicate, *id untouched. */
    assert_int_equal(append(q, "acme", "u1", now, &dup), QUEUE_DUPLICATE);
    assert_int_equal(dup, -7);
    /* The same uniqueID in another instance is another message. */
    assert_int_equal(append(q, "other", "u1", now, &id3), QUEUE_OK);
    assert_true(id3 > id2);
    assert_int_equal(append(q, "acme", "u3", now, &id4), QUEUE_OK);
    assert_true(id4 > id3);

    sqlite3 *db = queue_db(q);
    assert_int_equal(sql_int(db, "SELECT count(*) FROM messages"), 4);
    assert_int_equal(sql_int(db, "SELECT count(*) FROM messages WHERE instance = 'acme' AND unique_id = 'u1'"), 1);
    /* The row holds what was appended. */
    char sql[160], text[256];
    snprintf(sql, sizeof sql, "SELECT instance || ' ' || unique_id || ' ' || received_ms || ' ' || body "
             "FROM messages WHERE id = %lld", id3);
    sql_text(db, sql, text, sizeof text);
    char want[256];
    snprintf(want, sizeof want, "other u1 %lld {\"subscribers\":[\"PHID-USER-a\"],\"uniqueID\":\"u1\"}", now);
    assert_string_equal(text, want);
    queue_close(q);
}

/* Writers leave checkpoints to the push daemon up to
 * QUEUE_WRITER_CHECKPOINT_PAGES: 1,200 appends (past SQLite's default of
 * 1,000 pages) are all still in the WAL, and queue_checkpoint copies them
 * into the database file. */
static void test_checkpoint_left_to_the_daemon(void **state) {
    char path[128];
    db_path(path, sizeof path, "checkpoint.db");
    struct queue *q = open_ok(path, 1000, 0);
    sqlite3 *db = queue_db(q);
    assert_int_equal(sql_int(db, "PRAGMA wal_autocheckpoint"), QUEUE_WRITER_CHECKPOINT_PAGES);
    long long now = queue_now_ms(), id;
    char uid[32];
    for (int i = 0; i < 1200; i++) {
        snprintf(uid, sizeof uid, "c%d", i);
        assert_int_equal(append(q, "default", uid, now, &id), QUEUE_OK);
    }
    int copied = -1;
    assert_int_equal(queue_checkpoint(q, &copied), 0);
    assert_true(copied > 1000);   /* one WAL frame or more per append, none copied before */
    assert_int_equal(queue_checkpoint(q, &copied), 0);
    assert_int_equal(sql_int(db, "SELECT count(*) FROM messages"), 1200);
    queue_close(q);
}

/* A body the table refuses (its CHECK json_valid) is an error, never
 * mistaken for a duplicate: that would be acknowledged and lost. */
static void test_refused_row_is_not_duplicate(void **state) {
    char path[128], err[QUEUE_ERR_MAX] = "";
    db_path(path, sizeof path, "check.db");
    struct queue *q = open_ok(path, 1000, 0);
    long long id = -7;
    const char bad[] = "{\"subscribers\":[],\"x\":NaN}";
    enum queue_result r = queue_append(q, "acme", "u1", bad, strlen(bad), queue_now_ms(), &id, err, sizeof err);
    assert_int_equal(r, QUEUE_UNAVAILABLE);
    assert_int_equal(id, -7);
    if (!strstr(err, "CHECK")) print_error("err: %s\n", err);
    assert_non_null(strstr(err, "CHECK"));
    assert_int_equal(sql_int(queue_db(q), "SELECT count(*) FROM messages"), 0);
    /* Rolled back: not counted either, and the queue still works. */
    assert_int_equal(status_of(q, "acme", queue_now_ms(), 60000, 4096).messages_in, 0);
    assert_int_equal(append(q, "acme", "u1", queue_now_ms(), &id), QUEUE_OK);
    queue_close(q);
}

static void test_messages_in(void **state) {
    char path[128], err[QUEUE_ERR_MAX] = "";
    db_path(path, sizeof path, "counts.db");
    struct queue *q = open_ok(path, 1000, 0);
    long long now = queue_now_ms(), id;

    struct queue_status st = status_of(q, "acme", now, 60000, 4096);
    assert_int_equal(st.messages_in, 0);
    assert_int_equal(st.messages_out, 0);
    assert_int_equal(st.clients_active, 0);
    assert_int_equal(st.clients_total, 0);
    assert_int_equal(st.history_size, 0);
    assert_int_equal(st.history_oldest_ms, -1);
    assert_int_equal(st.daemon_seen, 0);

    assert_int_equal(append(q, "acme", "a", now, &id), QUEUE_OK);
    assert_int_equal(append(q, "acme", "a", now, &id), QUEUE_DUPLICATE);
    assert_int_equal(append(q, "other", "a", now, &id), QUEUE_OK);
    assert_int_equal(queue_count_received(q, "acme", err, sizeof err), QUEUE_OK);
    assert_int_equal(queue_count_received(q, "third", err, sizeof err), QUEUE_OK);

    /* Duplicates and already-seen messages were received too. */
    st = status_of(q, "acme", now, 60000, 4096);
    assert_int_equal(st.messages_in, 3);
    assert_int_equal(st.history_size, 1);
    assert_int_equal(status_of(q, "other", now, 60000, 4096).messages_in, 1);
    st = status_of(q, "third", now, 60000, 4096);
    assert_int_equal(st.messages_in, 1);
    assert_int_equal(st.history_size, 0);
    assert_int_equal(status_of(q, "nobody", now, 60000, 4096).messages_in, 0);

    /* The push daemon's figures, as it writes them. */
    sql_exec(queue_db(q), "UPDATE instance_counters SET messages_out = 11, clients_active = 2, "
                          "clients_total = 5 WHERE instance = 'acme'");
    sql_exec(queue_db(q), "INSERT INTO push_daemon (id, pid, started_ms, heartbeat_ms) VALUES (1, 4242, 1000, 2000)");
    st = status_of(q, "acme", now, 60000, 4096);
    assert_int_equal(st.messages_in, 3);
    assert_int_equal(st.messages_out, 11);
    assert_int_equal(st.clients_active, 2);
    assert_int_equal(st.clients_total, 5);
    assert_int_equal(st.daemon_seen, 1);
    assert_int_equal(st.daemon_pid, 4242);
    assert_int_equal(st.daemon_started_ms, 1000);
    assert_int_equal(st.daemon_heartbeat_ms, 2000);
    queue_close(q);

    /* Counters are in the file, not in the connection. */
    q = open_ok(path, 1000, 0);
    assert_int_equal(status_of(q, "acme", now, 60000, 4096).messages_in, 3);
    queue_close(q);
}

static void test_ids_never_go_back(void **state) {
    char path[128];
    db_path(path, sizeof path, "ids.db");
    struct queue *q = open_ok(path, 1000, 0);
    long long now = queue_now_ms(), id = 0, last = 0;
    char uid[16];
    for (int i = 0; i < 5; i++) {
        snprintf(uid, sizeof uid, "u%d", i);
        assert_int_equal(append(q, "acme", uid, now, &id), QUEUE_OK);
        assert_true(id > last);
        last = id;
    }
    /* The push daemon prunes everything. */
    sql_exec(queue_db(q), "DELETE FROM messages");
    assert_int_equal(append(q, "acme", "after", now, &id), QUEUE_OK);
    assert_true(id > last);
    last = id;
    queue_close(q);

    /* And after a reopen of the emptied file. */
    q = open_ok(path, 1000, 0);
    sql_exec(queue_db(q), "DELETE FROM messages");
    assert_int_equal(append(q, "acme", "reopened", now, &id), QUEUE_OK);
    assert_true(id > last);
    queue_close(q);
}

static void test_history_window(void **state) {
    char path[128];
    db_path(path, sizeof path, "history.db");
    struct queue *q = open_ok(path, 1000, 0);
    const long long now = 10 * 1000 * 1000;
    long long id;
    assert_int_equal(append(q, "h", "old", now - 90000, &id), QUEUE_OK);
    assert_int_equal(append(q, "h", "m50", now - 50000, &id), QUEUE_OK);
    assert_int_equal(append(q, "h", "m30", now - 30000, &id), QUEUE_OK);
    assert_int_equal(append(q, "h", "m10", now - 10000, &id), QUEUE_OK);
    /* Another instance's history is its own. */
    assert_int_equal(append(q, "other", "x", now - 70000, &id), QUEUE_OK);
    assert_int_equal(append(q, "other", "y", now - 1000, &id), QUEUE_OK);

    struct queue_status st = status_of(q, "h", now, 60000, 4096);
    assert_int_equal(st.history_size, 3);
    assert_int_equal(st.history_oldest_ms, now - 50000);
    /* At most max_messages, the newest ones. */
    st = status_of(q, "h", now, 60000, 2);
    assert_int_equal(st.history_size, 2);
    assert_int_equal(st.history_oldest_ms, now - 30000);
    st = status_of(q, "h", now, 60000, 1);
    assert_int_equal(st.history_size, 1);
    assert_int_equal(st.history_oldest_ms, now - 10000);
    /* A wider window reaches the old one. */
    st = status_of(q, "h", now, 100000, 4096);
    assert_int_equal(st.history_size, 4);
    assert_int_equal(st.history_oldest_ms, now - 90000);
    /* A narrow one holds nothing. */
    st = status_of(q, "h", now, 5000, 4096);
    assert_int_equal(st.history_size, 0);
    assert_int_equal(st.history_oldest_ms, -1);
    st = status_of(q, "other", now, 60000, 4096);
    assert_int_equal(st.history_size, 1);
    assert_int_equal(st.history_oldest_ms, now - 1000);
    /* Time moves on: 45 s later only the newest is in the window. */
    st = status_of(q, "h", now + 45000, 60000, 4096);
    assert_int_equal(st.history_size, 1);
    assert_int_equal(st.history_oldest_ms, now - 10000);
    queue_close(q);
}

static void test_newer_schema_refused(void **state) {
    char path[128], err[QUEUE_ERR_MAX] = "";
    db_path(path, sizeof path, "future.db");
    queue_close(open_ok(path, 1000, 0));
    sqlite3 *db = raw_open(path);
    char sql[64];
    int future = queue_latest_schema_version() + 1;
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", future);
    sql_exec(db, sql);
    sqlite3_close(db);

    struct queue_options opt = { path, 1000, 0, 0 };
    struct queue *q = NULL;
    assert_int_equal(queue_open(&opt, &q, err, sizeof err), -1);
    assert_null(q);
    char want[64];
    snprintf(want, sizeof want, "schema version %d", future);
    if (!strstr(err, want) || !strstr(err, "newer")) print_error("err: %s\n", err);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "newer"));
    /* The file is left as it was. */
    db = raw_open(path);
    assert_int_equal(sql_int(db, "PRAGMA user_version"), future);
    sqlite3_close(db);
}

static void test_open_errors(void **state) {
    char path[128], err[QUEUE_ERR_MAX] = "";
    struct queue *q = NULL;

    /* Not a database: the error names the file. */
    db_path(path, sizeof path, "garbage.db");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 512; i++) fputs("this is not an SQLite file\n", f);
    assert_int_equal(fclose(f), 0);
    struct queue_options opt = { path, 100, 0, 0 };
    assert_int_equal(queue_open(&opt, &q, err, sizeof err), -1);
    assert_null(q);
    assert_non_null(strstr(err, path));

    /* A directory that does not exist. */
    db_path(path, sizeof path, "no-such-dir/queue.db");
    err[0] = '\0';
    assert_int_equal(queue_open(&opt, &q, err, sizeof err), -1);
    assert_null(q);
    assert_non_null(strstr(err, path));
}

/* Forks `n` children that each open the same new file once released by
 * the closing of a pipe, and checks they all succeed with one fingerprint. */
static void race_open(const char *path, int n) {
    int go[2];
    assert_int_equal(pipe(go), 0);
    int res[8][2];
    pid_t pids[8];
    for (int k = 0; k < n; k++) {
        assert_int_equal(pipe(res[k]), 0);
        pids[k] = fork();
        assert_true(pids[k] >= 0);
        if (pids[k] == 0) {
            close(go[1]);
            char c;
            while (read(go[0], &c, 1) > 0) {}
            struct queue_options opt = { path, 10000, 0, 0 };
            struct queue *q;
            char err[QUEUE_ERR_MAX] = "";
            if (queue_open(&opt, &q, err, sizeof err) != 0) {
                fprintf(stderr, "child %d: queue_open %s: %s\n", k, path, err);
                _exit(1);
            }
            ssize_t w = write(res[k][1], queue_fingerprint(q), TOKEN_FINGERPRINT_LEN);
            queue_close(q);
            _exit(w == TOKEN_FINGERPRINT_LEN ? 0 : 2);
        }
        close(res[k][1]);
    }
    close(go[0]);
    close(go[1]);   /* go */
    char fps[8][TOKEN_FINGERPRINT_LEN + 1];
    for (int k = 0; k < n; k++) {
        int status;
        assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_int_equal(read(res[k][0], fps[k], TOKEN_FINGERPRINT_LEN), TOKEN_FINGERPRINT_LEN);
        fps[k][TOKEN_FINGERPRINT_LEN] = '\0';
        close(res[k][0]);
        assert_string_equal(fps[k], fps[0]);
    }
    sqlite3 *db = raw_open(path);
    assert_int_equal(sql_int(db, "SELECT count(*) FROM node"), 1);
    assert_int_equal(sql_int(db, "PRAGMA user_version"), queue_latest_schema_version());
    char mode[16];
    sql_text(db, "PRAGMA journal_mode", mode, sizeof mode);
    assert_string_equal(mode, "wal");
    sqlite3_close(db);
}

static void test_concurrent_create(void **state) {
    char path[128], name[32];
    for (int round = 0; round < 10; round++) {
        snprintf(name, sizeof name, "race-%d.db", round);
        db_path(path, sizeof path, name);
        race_open(path, round % 2 ? 2 : 4);
    }
}

static long long monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_locked_is_unavailable(void **state) {
    char path[128], err[QUEUE_ERR_MAX] = "";
    db_path(path, sizeof path, "busy.db");
    struct queue *q = open_ok(path, 100, 0);
    long long now = queue_now_ms(), id = 0;
    assert_int_equal(append(q, "acme", "before", now, &id), QUEUE_OK);

    /* Another writer holds the lock past our 100 ms. */
    sqlite3 *holder = raw_open(path);
    sql_exec(holder, "BEGIN IMMEDIATE");
    long long t0 = monotonic_ms();
    char body[] = "{\"subscribers\":[]}";
    enum queue_result r = queue_append(q, "acme", "during", body, strlen(body), now, &id, err, sizeof err);
    long long waited = monotonic_ms() - t0;
    assert_int_equal(r, QUEUE_UNAVAILABLE);
    if (!strstr(err, "locked")) print_error("err: %s\n", err);
    assert_non_null(strstr(err, "locked"));
    assert_true(waited >= 80);     /* it did wait for the busy timeout */
    assert_true(waited < 5000);    /* and not forever */
    err[0] = '\0';
    assert_int_equal(queue_count_received(q, "acme", err, sizeof err), QUEUE_UNAVAILABLE);
    assert_true(err[0] != '\0');
    /* Readers are not blocked in WAL mode. */
    assert_int_equal(status_of(q, "acme", now, 60000, 4096).messages_in, 1);
    sql_exec(holder, "COMMIT");

    /* Usable again at once, and nothing of the failed append was kept. */
    assert_int_equal(append(q, "acme", "after", now, &id), QUEUE_OK);
    assert_int_equal(append(q, "acme", "during", now, &id), QUEUE_OK);
    struct queue_status st = status_of(q, "acme", now, 60000, 4096);
    assert_int_equal(st.messages_in, 3);
    assert_int_equal(st.history_size, 3);
    sqlite3_close(holder);
    queue_close(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_new_file),
        cmocka_unit_test(test_append_ids_and_duplicates),
        cmocka_unit_test(test_checkpoint_left_to_the_daemon),
        cmocka_unit_test(test_refused_row_is_not_duplicate),
        cmocka_unit_test(test_messages_in),
        cmocka_unit_test(test_ids_never_go_back),
        cmocka_unit_test(test_history_window),
        cmocka_unit_test(test_newer_schema_refused),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_concurrent_create),
        cmocka_unit_test(test_locked_is_unavailable),
    };
    return cmocka_run_group_tests_name("queue", tests, make_tmpdir, remove_tmpdir);
}
