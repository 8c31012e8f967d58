/*
 * fuzz_url.c -- libFuzzer target for the URL parser (src/base/url.c).
 *
 * Any bytes are parsed as a URL.  Checks: parsing never crashes, leaks or
 * trips a sanitizer; a failure is an AG_ERR_ARGUMENT with a message; a URL
 * that parses renders to text that parses again into the same URL (every
 * field equal) and renders to the same text (rendering is a fixpoint); a
 * copy renders the same; the masked rendering holds no password.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const uint8_t *data, size_t size) {
    fprintf(stderr, "fuzz_url: %s for input '%.*s'\n", what, (int)size, (const char *)data);
    abort();
}

static int same_str(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int same_url(const ag_url *a, const ag_url *b) {
    if (!same_str(a->drivername, b->drivername) || a->dialect != b->dialect ||
        !same_str(a->driver, b->driver) || !same_str(a->username, b->username) ||
        !same_str(a->password, b->password) || !same_str(a->host, b->host) || a->port != b->port ||
        !same_str(a->database, b->database) || a->nquery != b->nquery)
        return 0;
    for (size_t i = 0; i < a->nquery; i++)
        if (!same_str(a->query[i].key, b->query[i].key) ||
            !same_str(a->query[i].value, b->query[i].value))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ag_url *url = NULL;
    ag_error err;
    if (ag_url_parse((const char *)data, size, &url, &err) != 0) {
        if (url || err.kind != AG_ERR_ARGUMENT || !err.message[0])
            fail("a bad failure", data, size);
        return 0;
    }
    char *text = ag_url_render(url, 0);
    char *masked = ag_url_render(url, 1);
    ag_url *copy = ag_url_copy(url);
    if (!text || !masked || !copy) fail("out of memory", data, size);
    char *copy_text = ag_url_render(copy, 0);
    if (!copy_text || strcmp(copy_text, text) != 0) fail("a copy renders differently", data, size);
    ag_url *again = NULL;
    if (ag_url_parse(text, strlen(text), &again, &err) != 0) {
        fprintf(stderr, "fuzz_url: rendered '%s' does not parse: %s\n", text, err.message);
        fail("the rendering does not parse", data, size);
    }
    if (!same_url(url, again)) {
        fprintf(stderr, "fuzz_url: rendered '%s'\n", text);
        fail("the rendering parses into another URL", data, size);
    }
    char *text2 = ag_url_render(again, 0);
    if (!text2 || strcmp(text, text2) != 0) fail("rendering is not a fixpoint", data, size);
    if (url->password && strlen(url->password) >= 3 && strstr(masked, url->password) &&
        !strstr(masked, "***"))
        fail("the masked rendering shows the password", data, size);
    free(text);
    free(text2);
    free(masked);
    free(copy_text);
    ag_url_free(url);
    ag_url_free(copy);
    ag_url_free(again);
    return 0;
}
