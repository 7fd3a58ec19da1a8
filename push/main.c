/* main.c - aphlict-push: the WebSocket daemon of the notification server.
 *
 * Reads the same aphlict.json as the admin app, serves every "client"
 * entry, and delivers what the admin app appends to the queue. */
#include "config.h"
#include "log.h"
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_CONFIG "/etc/aphlict/aphlict.json"

static void usage(FILE *to) {
    fprintf(to,
            "usage: aphlict-push [--config FILE] [--state-dir DIR] [--test] [--debug]\n"
            "\n"
            "The WebSocket push daemon of the notification server: serves every\n"
            "\"client\" entry of the configuration and delivers what aphlict-admin\n"
            "appends to the queue.\n"
            "\n"
            "  --config FILE     aphlict.json to read (default %s)\n"
            "  --state-dir DIR   overrides the file's state.dir\n"
            "  --test            check the configuration file, then exit 0 (good) or 1\n"
            "  --debug           trace every connection and message, to stderr as well\n",
            DEFAULT_CONFIG);
}

static int write_pidfile(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_error("cannot write the pid file %s: %s", path, strerror(errno));
        return -1;
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
    int ok = write(fd, buf, (size_t)n) == n;
    close(fd);
    return ok ? 0 : -1;
}

int main(int argc, char **argv) {
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' }, { "state-dir", required_argument, NULL, 's' },
        { "test", no_argument, NULL, 't' },         { "debug", no_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
    };
    const char *config_path = DEFAULT_CONFIG, *state_dir = NULL;
    int test_only = 0, debug = 0, c;
    while ((c = getopt_long(argc, argv, "c:s:tdh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 's': state_dir = optarg; break;
        case 't': test_only = 1; break;
        case 'd': debug = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "aphlict-push: unexpected argument: %s\n", argv[optind]);
        return 1;
    }
    log_init("aphlict-push", debug ? LOG_DEBUG : LOG_INFO, debug);
    signal(SIGPIPE, SIG_IGN);

    struct config cfg;
    char err[CONFIG_ERR_MAX];
    if (config_load(config_path, state_dir, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "aphlict-push: %s\n", err);
        return 1;
    }
    if (cfg.warnings) fprintf(stderr, "%s", cfg.warnings);
    if (!config_first_server(&cfg, SERVER_CLIENT)) {
        fprintf(stderr, "aphlict-push: %s: servers: no entry of type \"client\"\n", cfg.file);
        config_free(&cfg);
        return 1;
    }
    if (test_only) {
        printf("%s: configuration OK\n", cfg.file);
        config_free(&cfg);
        return 0;
    }
    if (log_open_files((const char *const *)cfg.logs, cfg.nlogs, err, sizeof err) < 0) {
        fprintf(stderr, "aphlict-push: %s: logs: %s\n", cfg.file, err);
        return 1;
    }
    if (mkdir(cfg.state_dir, 0750) < 0 && errno != EEXIST) {
        log_error("cannot create state.dir %s: %s", cfg.state_dir, strerror(errno));
        return 1;
    }
    if (cfg.push_pidfile && write_pidfile(cfg.push_pidfile) < 0) return 1;
    int rc = server_run(&cfg, debug);
    if (cfg.push_pidfile) unlink(cfg.push_pidfile);
    log_close();
    config_free(&cfg);
    return rc;
}
