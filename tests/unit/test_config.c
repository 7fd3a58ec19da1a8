/* test_config.c - lib/config.c: the reference aphlict.json (PROTOCOL.md
 * section 6) parses unchanged; this project's own keys have their
 * documented defaults and bounds; relative paths resolve against state.dir;
 * unknown keys only warn; and every error names the file and the key at
 * fault (config_parse for text, config_load for files). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define NAME "aphlict.json"
#define MINIMAL "{\"servers\": [{\"type\": \"client\", \"port\": 22280}]}"

/* The example of PROTOCOL.md section 6, plus the Node-only memory.hint. */
static const char reference_json[] =
    "{\n"
    "  \"servers\": [\n"
    "    {\"type\": \"client\", \"port\": 22280, \"listen\": \"0.0.0.0\",\n"
    "     \"ssl.key\": null, \"ssl.cert\": null, \"ssl.chain\": null},\n"
    "    {\"type\": \"admin\", \"port\": 22281, \"listen\": \"127.0.0.1\",\n"
    "     \"ssl.key\": null, \"ssl.cert\": null, \"ssl.chain\": null}\n"
    "  ],\n"
    "  \"logs\": [{\"path\": \"/var/log/aphlict.log\"}],\n"
    "  \"cluster\": [{\"host\": \"notify002.example.com\", \"port\": 22281, \"protocol\": \"http\"}],\n"
    "  \"pidfile\": \"/var/tmp/aphlict/pid/aphlict.pid\",\n"
    "  \"memory.hint\": 256\n"
    "}\n";

/* Parses text that must be accepted; the caller frees cfg. */
static void parse_ok(const char *text, const char *state_dir, struct config *cfg) {
    char err[CONFIG_ERR_MAX] = "";
    int rc = config_parse(text, NAME, state_dir, cfg, err, sizeof err);
    if (rc != 0) print_error("config_parse failed: %s\n", err);
    assert_int_equal(rc, 0);
}

/* Parses text that must be refused with an error starting with `prefix`
 * (file and key) and, when given, containing `detail`. */
static void parse_fails(const char *text, const char *prefix, const char *detail) {
    struct config cfg;
    char err[CONFIG_ERR_MAX] = "";
    int rc = config_parse(text, NAME, NULL, &cfg, err, sizeof err);
    config_free(&cfg);
    if (rc != -1 || strncmp(err, prefix, strlen(prefix)) != 0 || (detail && !strstr(err, detail))) {
        print_error("text:   %s\nrc:     %d\nerr:    %s\nwanted: %s...%s\n", text, rc, err, prefix,
                    detail ? detail : "");
        fail();
    }
}

/* A config text with one own key added to MINIMAL. */
static void own_key_fails(const char *key_and_value, const char *prefix, const char *detail) {
    char text[512];
    snprintf(text, sizeof text, "{\"servers\": [{\"type\": \"client\", \"port\": 22280}], %s}", key_and_value);
    parse_fails(text, prefix, detail);
}

static void test_reference_file(void **state) {
    struct config cfg;
    parse_ok(reference_json, NULL, &cfg);
    assert_string_equal(cfg.file, NAME);

    assert_int_equal(cfg.nservers, 2);
    assert_int_equal(cfg.servers[0].type, SERVER_CLIENT);
    assert_int_equal(cfg.servers[0].port, 22280);
    assert_string_equal(cfg.servers[0].listen, "0.0.0.0");
    assert_null(cfg.servers[0].ssl_key);
    assert_null(cfg.servers[0].ssl_cert);
    assert_null(cfg.servers[0].ssl_chain);
    assert_int_equal(cfg.servers[1].type, SERVER_ADMIN);
    assert_int_equal(cfg.servers[1].port, 22281);
    assert_string_equal(cfg.servers[1].listen, "127.0.0.1");
    assert_null(cfg.servers[1].ssl_key);
    assert_null(cfg.servers[1].ssl_cert);
    assert_null(cfg.servers[1].ssl_chain);
    assert_ptr_equal(config_first_server(&cfg, SERVER_CLIENT), &cfg.servers[0]);
    assert_ptr_equal(config_first_server(&cfg, SERVER_ADMIN), &cfg.servers[1]);

    assert_int_equal(cfg.nlogs, 1);
    assert_string_equal(cfg.logs[0], "/var/log/aphlict.log");
    assert_int_equal(cfg.npeers, 1);
    assert_string_equal(cfg.cluster[0].host, "notify002.example.com");
    assert_int_equal(cfg.cluster[0].port, 22281);
    assert_string_equal(cfg.cluster[0].protocol, "http");
    assert_string_equal(cfg.pidfile, "/var/tmp/aphlict/pid/aphlict.pid");
    /* push.pidfile defaults to the reference "pidfile". */
    assert_string_equal(cfg.push_pidfile, "/var/tmp/aphlict/pid/aphlict.pid");
    /* memory.hint is a known key of the reference: no warning. */
    assert_null(cfg.warnings);
    config_free(&cfg);
}

static void test_server_defaults(void **state) {
    struct config cfg;
    parse_ok("{\"servers\": [{\"type\": \"admin\", \"port\": 22281},"
             " {\"type\": \"client\", \"port\": \"22280\"}]}", NULL, &cfg);
    assert_int_equal(cfg.nservers, 2);
    assert_string_equal(cfg.servers[0].listen, "0.0.0.0");
    assert_null(cfg.servers[0].ssl_key);
    assert_null(cfg.servers[0].ssl_cert);
    assert_null(cfg.servers[0].ssl_chain);
    /* A port given as a string, as Node accepted. */
    assert_int_equal(cfg.servers[1].port, 22280);
    assert_ptr_equal(config_first_server(&cfg, SERVER_CLIENT), &cfg.servers[1]);
    assert_int_equal(cfg.nlogs, 0);
    assert_int_equal(cfg.npeers, 0);
    assert_null(cfg.pidfile);
    assert_null(cfg.push_pidfile);
    config_free(&cfg);

    /* No admin server at all. */
    parse_ok(MINIMAL, NULL, &cfg);
    assert_null(config_first_server(&cfg, SERVER_ADMIN));
    config_free(&cfg);

    /* ssl.* given together, and a cluster peer without protocol is http. */
    parse_ok("{\"servers\": [{\"type\": \"client\", \"port\": 443, \"ssl.key\": \"/k.pem\","
             " \"ssl.cert\": \"/c.pem\", \"ssl.chain\": \"/ch.pem\"}],"
             " \"cluster\": [{\"host\": \"peer\", \"port\": 22281}]}", NULL, &cfg);
    assert_string_equal(cfg.servers[0].ssl_key, "/k.pem");
    assert_string_equal(cfg.servers[0].ssl_cert, "/c.pem");
    assert_string_equal(cfg.servers[0].ssl_chain, "/ch.pem");
    assert_string_equal(cfg.cluster[0].protocol, "http");
    config_free(&cfg);
}

static void test_own_key_defaults(void **state) {
    struct config cfg;
    parse_ok(MINIMAL, NULL, &cfg);
    assert_string_equal(cfg.state_dir, CONFIG_DEFAULT_STATE_DIR);
    assert_string_equal(cfg.state_dir, "/var/lib/aphlict");
    assert_string_equal(cfg.queue_path, "/var/lib/aphlict/queue.db");
    assert_int_equal(cfg.queue_busy_timeout_ms, 1000);
    assert_string_equal(cfg.queue_synchronous, "normal");
    assert_int_equal(cfg.admin_max_body_bytes, 1048576);
    assert_int_equal(cfg.admin_max_drain_bytes, 67108864);
    assert_string_equal(cfg.admin_path_prefix, "");
    assert_int_equal(cfg.admin_threads, 8);
    assert_null(cfg.admin_socket);
    assert_int_equal(cfg.admin_socket_mode, 0660);
    assert_int_equal(cfg.admin_listen_backlog, 1024);
    assert_int_equal(cfg.history_max_age_ms, 60000);
    assert_int_equal(cfg.history_max_messages, 4096);
    assert_int_equal(cfg.push_heartbeat_stale_ms, 5000);
    assert_string_equal(cfg.push_wake_socket, "/var/lib/aphlict/push.wake");
    assert_null(cfg.push_pidfile);
    assert_int_equal(cfg.client_max_frame_bytes, 65536);
    assert_int_equal(cfg.client_max_subscriptions, 10000);
    assert_int_equal(cfg.client_send_queue_bytes, 4 * 1024 * 1024);
    assert_int_equal(cfg.client_send_queue_frames, 4096);
    assert_int_equal(cfg.client_idle_timeout_s, 60);
    assert_int_equal(cfg.client_max_connections, 20000);
    assert_null(cfg.warnings);
    config_free(&cfg);
}

static void test_own_keys_given(void **state) {
    struct config cfg;
    parse_ok("{\"servers\": [{\"type\": \"client\", \"port\": 22280}],"
             " \"state.dir\": \"/srv/aph\", \"queue.path\": \"q/x.db\","
             " \"queue.synchronous\": \"full\", \"queue.busy_timeout_ms\": \"250\","
             " \"admin.threads\": 256, \"admin.socket\": \"127.0.0.1:9000\","
             " \"admin.socket_mode\": \"0600\", \"admin.path_prefix\": \"/aphlict\","
             " \"history.max_age_ms\": 1000, \"push.wake_socket\": \"/run/aph.wake\"}",
             NULL, &cfg);
    assert_string_equal(cfg.state_dir, "/srv/aph");
    assert_string_equal(cfg.queue_path, "/srv/aph/q/x.db");
    assert_string_equal(cfg.queue_synchronous, "full");
    assert_int_equal(cfg.queue_busy_timeout_ms, 250);
    assert_int_equal(cfg.admin_threads, 256);
    /* host:port is not a path: left as it is. */
    assert_string_equal(cfg.admin_socket, "127.0.0.1:9000");
    assert_int_equal(cfg.admin_socket_mode, 0600);
    assert_string_equal(cfg.admin_path_prefix, "/aphlict");
    assert_int_equal(cfg.history_max_age_ms, 1000);
    /* Absolute paths are kept. */
    assert_string_equal(cfg.push_wake_socket, "/run/aph.wake");
    config_free(&cfg);

    /* A relative socket path resolves against state.dir. */
    parse_ok("{\"servers\": [{\"type\": \"client\", \"port\": 22280}], \"admin.socket\": \"admin.sock\"}",
             "/run/aph", &cfg);
    assert_string_equal(cfg.admin_socket, "/run/aph/admin.sock");
    config_free(&cfg);
}

static void test_state_dir_override(void **state) {
    struct config cfg;
    /* The override (--state-dir) beats the file's state.dir. */
    parse_ok("{\"servers\": [{\"type\": \"client\", \"port\": 22280}], \"state.dir\": \"/from/file\"}",
             "/from/option", &cfg);
    assert_string_equal(cfg.state_dir, "/from/option");
    assert_string_equal(cfg.queue_path, "/from/option/queue.db");
    assert_string_equal(cfg.push_wake_socket, "/from/option/push.wake");
    config_free(&cfg);

    parse_ok(MINIMAL, "/tmp/st", &cfg);
    assert_string_equal(cfg.queue_path, "/tmp/st/queue.db");
    config_free(&cfg);

    own_key_fails("\"state.dir\": \"\"", NAME ": state.dir: ", "non-empty");
    own_key_fails("\"state.dir\": null", NAME ": state.dir: ", "non-empty");
    own_key_fails("\"state.dir\": 1", NAME ": state.dir: ", "expected a string");
    /* An empty state.dir in the file is fine when the option gives one. */
    parse_ok("{\"servers\": [{\"type\": \"client\", \"port\": 22280}], \"state.dir\": \"\"}", "/opt", &cfg);
    assert_string_equal(cfg.queue_path, "/opt/queue.db");
    config_free(&cfg);
}

static void test_unknown_key_warns(void **state) {
    struct config cfg;
    parse_ok("{\"servers\": [{\"type\": \"client\", \"port\": 22280}], \"colour\": \"blue\","
             " \"queue.pathh\": \"typo.db\"}", NULL, &cfg);
    assert_non_null(cfg.warnings);
    assert_non_null(strstr(cfg.warnings, NAME ": colour: unknown key"));
    assert_non_null(strstr(cfg.warnings, NAME ": queue.pathh: unknown key"));
    /* The typo did not set queue.path. */
    assert_string_equal(cfg.queue_path, "/var/lib/aphlict/queue.db");
    config_free(&cfg);
}

static void test_servers_errors(void **state) {
    parse_fails("{}", NAME ": servers: ", "required");
    parse_fails("{\"servers\": {\"type\": \"client\"}}", NAME ": servers: ", "expected a list");
    parse_fails("{\"servers\": [5]}", NAME ": servers[0]: ", "expected an object");
    parse_fails("{\"servers\": [{\"port\": 22280}]}", NAME ": servers[0].type: ", "\"client\" or \"admin\"");
    parse_fails("{\"servers\": [{\"type\": \"websocket\", \"port\": 22280}]}", NAME ": servers[0].type: ",
                "\"websocket\"");
    parse_fails("{\"servers\": [{\"type\": 1, \"port\": 22280}]}", NAME ": servers[0].type: ", NULL);
    /* The index names the entry at fault. */
    parse_fails("{\"servers\": [{\"type\": \"client\", \"port\": 1},"
                " {\"type\": \"admin\", \"port\": 0}]}", NAME ": servers[1].port: ", "from 1 to 65535");
    parse_fails("{\"servers\": [{\"type\": \"client\", \"port\": 70000}]}", NAME ": servers[0].port: ",
                "70000");
    parse_fails("{\"servers\": [{\"type\": \"client\", \"port\": \"abc\"}]}", NAME ": servers[0].port: ",
                "\"abc\"");
    parse_fails("{\"servers\": [{\"type\": \"client\", \"port\": \"\"}]}", NAME ": servers[0].port: ", NULL);
    parse_fails("{\"servers\": [{\"type\": \"client\", \"port\": \"22280x\"}]}", NAME ": servers[0].port: ",
                NULL);
    parse_fails("{\"servers\": [{\"type\": \"client\", \"port\": 22.5}]}", NAME ": servers[0].port: ", NULL);
    parse_fails("{\"servers\": [{\"type\": \"client\"}]}", NAME ": servers[0].port: ", NULL);
    parse_fails("{\"servers\": [{\"type\": \"client\", \"port\": 22280, \"listen\": 5}]}",
                NAME ": servers[0].listen: ", "expected a string");
    parse_fails("{\"servers\": [{\"type\": \"client\", \"port\": 22280, \"listen\": \"127.0.0.1\","
                " \"ssl.key\": \"/k.pem\"}]}", NAME ": servers[0]: ", "\"ssl.cert\"");
    parse_fails("{\"servers\": [{\"type\": \"client\", \"port\": 22280, \"ssl.cert\": \"/c.pem\"}]}",
                NAME ": servers[0]: ", "\"ssl.key\"");
    parse_fails("{\"servers\": [{\"type\": \"client\", \"port\": 22280, \"ssl.chain\": \"/ch.pem\"}]}",
                NAME ": servers[0]: ", "\"ssl.chain\"");
    parse_fails("{\"servers\": [{\"type\": \"client\", \"port\": 22280, \"ssl.key\": \"/k.pem\","
                " \"ssl.cert\": 7}]}", NAME ": servers[0].ssl.cert: ", "expected a string");
}

static void test_logs_and_cluster_errors(void **state) {
    parse_fails("{\"servers\": [{\"type\": \"client\", \"port\": 22280}], \"logs\": \"/var/log/a.log\"}",
                NAME ": logs: ", "expected a list");
    parse_fails("{\"servers\": [{\"type\": \"client\", \"port\": 22280}], \"logs\": [{\"file\": \"/a\"}]}",
                NAME ": logs[0].path: ", "required");
    parse_fails("{\"servers\": [{\"type\": \"client\", \"port\": 22280}],"
                " \"logs\": [{\"path\": \"/a\"}, {\"path\": \"\"}]}", NAME ": logs[1].path: ", NULL);
    parse_fails("{\"servers\": [{\"type\": \"client\", \"port\": 22280}], \"logs\": [\"/a\"]}",
                NAME ": logs[0]", "expected an object");

    parse_fails("{\"servers\": [{\"type\": \"client\", \"port\": 22280}], \"cluster\": {}}",
                NAME ": cluster: ", "expected a list");
    parse_fails("{\"servers\": [{\"type\": \"client\", \"port\": 22280}],"
                " \"cluster\": [{\"host\": \"a\", \"port\": 22281, \"protocol\": \"ftp\"}]}",
                NAME ": cluster[0].protocol: ", "\"ftp\"");
    parse_fails("{\"servers\": [{\"type\": \"client\", \"port\": 22280}],"
                " \"cluster\": [{\"host\": \"a\", \"port\": 22281}, {\"port\": 22281, \"protocol\": \"http\"}]}",
                NAME ": cluster[1].host: ", "required");
    parse_fails("{\"servers\": [{\"type\": \"client\", \"port\": 22280}],"
                " \"cluster\": [{\"host\": \"a\", \"port\": 0}]}", NAME ": cluster[0].port: ", NULL);
    parse_fails("{\"servers\": [{\"type\": \"client\", \"port\": 22280}], \"cluster\": [1]}",
                NAME ": cluster[0]: ", "expected an object");
    parse_fails("{\"servers\": [{\"type\": \"client\", \"port\": 22280}], \"pidfile\": 3}",
                NAME ": pidfile: ", "expected a string");
}

static void test_own_key_errors(void **state) {
    own_key_fails("\"admin.threads\": 0", NAME ": admin.threads: ", "from 1 to 256, got 0");
    own_key_fails("\"admin.threads\": 257", NAME ": admin.threads: ", "got 257");
    own_key_fails("\"admin.threads\": \"many\"", NAME ": admin.threads: ", "\"many\"");
    own_key_fails("\"admin.max_body_bytes\": 63", NAME ": admin.max_body_bytes: ", NULL);
    own_key_fails("\"history.max_age_ms\": 999", NAME ": history.max_age_ms: ", NULL);
    own_key_fails("\"history.max_messages\": true", NAME ": history.max_messages: ", NULL);
    own_key_fails("\"queue.busy_timeout_ms\": -1", NAME ": queue.busy_timeout_ms: ", NULL);
    /* An empty string is not 0, even where 0 is allowed. */
    own_key_fails("\"queue.busy_timeout_ms\": \"\"", NAME ": queue.busy_timeout_ms: ", NULL);
    own_key_fails("\"queue.synchronous\": \"fast\"", NAME ": queue.synchronous: ", "normal|full");
    own_key_fails("\"queue.synchronous\": 1", NAME ": queue.synchronous: ", NULL);
    own_key_fails("\"queue.path\": 5", NAME ": queue.path: ", "expected a string");
    own_key_fails("\"admin.socket_mode\": \"999\"", NAME ": admin.socket_mode: ", "\"999\"");
    own_key_fails("\"admin.socket_mode\": \"01000\"", NAME ": admin.socket_mode: ", NULL);
    own_key_fails("\"admin.socket_mode\": \"\"", NAME ": admin.socket_mode: ", NULL);
    own_key_fails("\"admin.socket_mode\": 432", NAME ": admin.socket_mode: ", "as a string");
    own_key_fails("\"admin.socket_mode\": null", NAME ": admin.socket_mode: ", NULL);
}

static void test_json_errors(void **state) {
    /* The '@' is on line 3, column 32. */
    parse_fails("{\n"
                "  \"servers\": [\n"
                "    {\"type\": \"client\", \"port\": @}\n"
                "  ]\n"
                "}\n", NAME ": line 3, column 32: ", "not valid JSON");
    parse_fails("{\"servers\": [", NAME ": line 1, column ", "end of file");
    parse_fails("", NAME ": line 1, column 1: ", "end of file");
    parse_fails(MINIMAL "\n  x", NAME ": line 2, column 3: ", "not valid JSON");
    parse_fails(MINIMAL " {}", NAME ": line 1, column ", "not valid JSON");
    parse_fails("{\"servers\": [],}", NAME ": line 1, column ", "not valid JSON");
    parse_fails("[" MINIMAL "]", NAME ": ", "expected a JSON object at the top");
    parse_fails("\"servers\"", NAME ": ", "expected a JSON object at the top");
    /* Trailing white space is fine. */
    struct config cfg;
    parse_ok(MINIMAL " \n\t\r\n", NULL, &cfg);
    config_free(&cfg);
}

/* --- config_load, on real files ------------------------------------------ */

static char tmpdir[64];

static int make_tmpdir(void **state) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/aph-unit-config-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void test_load_file(void **state) {
    char path[128], err[CONFIG_ERR_MAX] = "";
    struct config cfg;
    snprintf(path, sizeof path, "%s/aphlict.json", tmpdir);
    write_file(path, reference_json, strlen(reference_json));
    int rc = config_load(path, tmpdir, &cfg, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_string_equal(cfg.file, path);
    assert_int_equal(cfg.nservers, 2);
    char want[160];
    snprintf(want, sizeof want, "%s/queue.db", tmpdir);
    assert_string_equal(cfg.queue_path, want);
    config_free(&cfg);

    /* Errors read from a file name that file. */
    const char *bad = "{\"servers\": [{\"type\": \"client\", \"port\": 0}]}";
    write_file(path, bad, strlen(bad));
    assert_int_equal(config_load(path, NULL, &cfg, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: servers[0].port: ", path);
    assert_true(strncmp(err, want, strlen(want)) == 0);
    config_free(&cfg);
}

static void test_load_missing_file(void **state) {
    char path[128], err[CONFIG_ERR_MAX] = "";
    struct config cfg;
    snprintf(path, sizeof path, "%s/does-not-exist.json", tmpdir);
    assert_int_equal(config_load(path, NULL, &cfg, err, sizeof err), -1);
    assert_true(strncmp(err, path, strlen(path)) == 0);
    assert_non_null(strstr(err, "cannot open"));
    assert_non_null(strstr(err, "No such file"));
    config_free(&cfg);
}

static void test_load_nul_byte(void **state) {
    char path[128], err[CONFIG_ERR_MAX] = "";
    struct config cfg;
    snprintf(path, sizeof path, "%s/nul.json", tmpdir);
    /* Valid JSON up to the NUL: without the check, the rest would be lost. */
    static const char text[] = MINIMAL "\0{\"more\": 1}";
    write_file(path, text, sizeof text - 1);
    assert_int_equal(config_load(path, NULL, &cfg, err, sizeof err), -1);
    assert_true(strncmp(err, path, strlen(path)) == 0);
    assert_non_null(strstr(err, "NUL"));
    config_free(&cfg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_file),
        cmocka_unit_test(test_server_defaults),
        cmocka_unit_test(test_own_key_defaults),
        cmocka_unit_test(test_own_keys_given),
        cmocka_unit_test(test_state_dir_override),
        cmocka_unit_test(test_unknown_key_warns),
        cmocka_unit_test(test_servers_errors),
        cmocka_unit_test(test_logs_and_cluster_errors),
        cmocka_unit_test(test_own_key_errors),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_load_nul_byte),
    };
    return cmocka_run_group_tests_name("config", tests, make_tmpdir, remove_tmpdir);
}
