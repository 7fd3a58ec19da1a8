/* notify.c - aphlict-notify: publish one message to an admin URL, as
 * Phorge's `bin/aphlict notify` and its PHP side do, and print the receipt.
 * Uses libcurl, the project's HTTP client (also the relay's). */
#include <time.h>

#include <curl/curl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *to) {
    fprintf(to,
            "usage: aphlict-notify [options] ADMIN-URL PHID...\n"
            "       aphlict-notify --body JSON ADMIN-URL\n"
            "\n"
            "Posts one message to a notification server's admin URL (e.g.\n"
            "http://127.0.0.1:22281/) and prints the receipt. Exit status 0 on 200.\n"
            "\n"
            "  --type TYPE      message type (default \"notification\")\n"
            "  --key KEY        the chronological key (default: the current time)\n"
            "  --instance NAME  publish to instance NAME (?instance=NAME)\n"
            "  --field K=V      add a string field (repeatable)\n"
            "  --body JSON      post exactly this body instead\n"
            "  --timeout S      give up after S seconds (default 5)\n");
}

struct buffer {
    char *data;
    size_t len;
};

static size_t collect(char *p, size_t size, size_t n, void *arg) {
    struct buffer *b = arg;
    size_t len = size * n;
    b->data = realloc(b->data, b->len + len + 1);
    memcpy(b->data + b->len, p, len);
    b->len += len;
    b->data[b->len] = '\0';
    return len;
}

/* Builds the message (unless body is given), posts it, prints the receipt.
 * Returns the exit status. */
static int post(const char *url, char **phids, int nphids, struct json_object *msg, const char *type,
                const char *key, const char *instance, const char *body, double timeout) {
    if (!body) {
        char now[32];
        snprintf(now, sizeof now, "%ld", (long)time(NULL));
        json_object_object_add(msg, "type", json_object_new_string(type));
        json_object_object_add(msg, "key", json_object_new_string(key ? key : now));
        struct json_object *subs = json_object_new_array();
        for (int i = 0; i < nphids; i++) json_object_array_add(subs, json_object_new_string(phids[i]));
        json_object_object_add(msg, "subscribers", subs);
        body = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    }

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *curl = curl_easy_init();
    char *full = NULL;
    if (instance) {
        char *esc = curl_easy_escape(curl, instance, 0);
        size_t len = strlen(url) + strlen(esc) + 16;
        full = malloc(len);
        snprintf(full, len, "%s%sinstance=%s", url, strchr(url, '?') ? "&" : "?", esc);
        curl_free(esc);
    }
    struct buffer answer = { NULL, 0 };
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, full ? full : url);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);   /* as Phorge: no redirects */
    CURLcode rc = curl_easy_perform(curl);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    int status = 1;
    if (rc != CURLE_OK) {
        fprintf(stderr, "aphlict-notify: %s: %s\n", full ? full : url, curl_easy_strerror(rc));
    } else if (code != 200) {
        fprintf(stderr, "aphlict-notify: %s answered %ld: %s", full ? full : url, code, answer.data ? answer.data : "\n");
    } else {
        fputs(answer.data ? answer.data : "", stdout);
        status = 0;
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    free(answer.data);
    free(full);
    return status;
}

int main(int argc, char **argv) {
    static const struct option longopts[] = {
        { "type", required_argument, NULL, 'T' },  { "key", required_argument, NULL, 'k' },
        { "instance", required_argument, NULL, 'i' }, { "field", required_argument, NULL, 'f' },
        { "body", required_argument, NULL, 'b' },  { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },        { NULL, 0, NULL, 0 },
    };
    const char *type = "notification", *key = NULL, *instance = NULL, *body = NULL;
    double timeout = 5;
    /* Fields given with --field, added to the message once it is built. */
    struct json_object *msg = json_object_new_object();
    int c, status = 2;
    while ((c = getopt_long(argc, argv, "T:k:i:f:b:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'T': type = optarg; break;
        case 'k': key = optarg; break;
        case 'i': instance = optarg; break;
        case 'b': body = optarg; break;
        case 't': timeout = atof(optarg); break;
        case 'f': {
            char *eq = strchr(optarg, '=');
            if (!eq) {
                fprintf(stderr, "aphlict-notify: --field wants K=V\n");
                goto out;
            }
            *eq = '\0';
            json_object_object_add(msg, optarg, json_object_new_string(eq + 1));
            break;
        }
        case 'h':
            usage(stdout);
            status = 0;
            goto out;
        default:
            usage(stderr);
            goto out;
        }
    }
    if (argc - optind < 1) {
        usage(stderr);
        goto out;
    }
    status = post(argv[optind], argv + optind + 1, argc - optind - 1, msg, type, key, instance, body, timeout);
out:
    json_object_put(msg);
    return status;
}
