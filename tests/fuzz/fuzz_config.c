/* fuzz_config.c - libFuzzer harness for the configuration file
 * (lib/config.h): config_parse, then config_free, on any text. On success
 * the result must be usable as the programs use it; on failure the error
 * must name the file. LeakSanitizer checks that config_free frees what a
 * half-parsed file allocated. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(const char *what) {
    fprintf(stderr, "fuzz_config: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* config_parse reads a C string, as config_load hands it one. */
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';

    struct config cfg;
    char err[CONFIG_ERR_MAX];
    err[0] = '\0';
    /* Half of the inputs with a --state-dir override, half without. */
    const char *override = size && (data[size - 1] & 1) ? "/var/lib/fuzz" : NULL;
    if (config_parse(text, "fuzz.json", override, &cfg, err, sizeof err) == 0) {
        /* "servers": [] is accepted; the push daemon then refuses to start. */
        if (cfg.nservers < 0 || cfg.nservers > CONFIG_MAX_SERVERS) fail("nservers out of range");
        for (int i = 0; i < cfg.nservers; i++) {
            if (cfg.servers[i].port < 1 || cfg.servers[i].port > 65535) fail("port out of range");
            if (!cfg.servers[i].listen) fail("a server without a listen address");
        }
        for (int i = 0; i < cfg.npeers; i++)
            if (!cfg.cluster[i].host || !cfg.cluster[i].protocol) fail("a peer without host or protocol");
        for (int i = 0; i < cfg.admin_allow.n; i++)
            if (!cfg.admin_allow.items[i]) fail("a NULL entry in admin.allow");
        for (int i = 0; i < cfg.client_allowed_origins.n; i++)
            if (!cfg.client_allowed_origins.items[i]) fail("a NULL entry in client.allowed_origins");
        if (!cfg.state_dir || !cfg.state_dir[0]) fail("no state.dir");
        if (!cfg.queue_path || !cfg.push_wake_socket || !cfg.queue_synchronous || !cfg.admin_path_prefix)
            fail("a key with a default is NULL");
        if (override && strcmp(cfg.state_dir, override) != 0) fail("--state-dir not applied");
        if (cfg.nservers && !config_first_server(&cfg, cfg.servers[0].type)) fail("config_first_server");
    } else {
        if (strncmp(err, "fuzz.json: ", 11) != 0) fail("an error must name the file");
    }
    config_free(&cfg);
    free(text);
    return 0;
}
