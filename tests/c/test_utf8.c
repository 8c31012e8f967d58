/*
 * test_utf8.c -- src/base/utf8.c: well-formed UTF-8, zero bytes, and each
 * kind of malformed sequence, at the start, deep inside ASCII runs and cut
 * off at the end.
 */
#include <string.h>

#include "base/utf8.h"
#include "check.h"

static int check(const char *s, size_t n) { return (int)ag_utf8_check(s, n, NULL); }
#define CHECK_TEXT(lit, want) CHECK_INT(check(lit, sizeof(lit) - 1), want)

int main(void) {
    CHECK_TEXT("", AG_UTF8_OK);
    CHECK_TEXT("plain ascii, long enough to use the eight-byte path", AG_UTF8_OK);
    CHECK_TEXT("h\xc3\xa9llo \xe2\x80\x93 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89", AG_UTF8_OK);
    CHECK_TEXT("\xef\xbf\xbf\xf4\x8f\xbf\xbf", AG_UTF8_OK); /* U+FFFF, U+10FFFF */
    CHECK_TEXT("a\0b", AG_UTF8_ZERO);
    CHECK_TEXT("0123456789abcdefghijklm\0nopqrstuvwxyz", AG_UTF8_ZERO);
    CHECK_TEXT("\xff", AG_UTF8_INVALID);
    CHECK_TEXT("\xc0\xaf", AG_UTF8_INVALID);         /* overlong */
    CHECK_TEXT("\xe0\x80\xaf", AG_UTF8_INVALID);     /* overlong */
    CHECK_TEXT("\xed\xa0\x80", AG_UTF8_INVALID);     /* a surrogate */
    CHECK_TEXT("\xf4\x90\x80\x80", AG_UTF8_INVALID); /* past U+10FFFF */
    CHECK_TEXT("\xf5\x80\x80\x80", AG_UTF8_INVALID);
    CHECK_TEXT("\x80", AG_UTF8_INVALID); /* a lone continuation */
    CHECK_TEXT("bad \xc3\x28 here", AG_UTF8_INVALID);
    CHECK_TEXT("0123456789\xc3", AG_UTF8_INVALID); /* cut off at the end */
    CHECK_TEXT("0123456789abcdefghijklmnop\xed\xa0\x80qrstuvwxyz", AG_UTF8_INVALID);
    CHECK_TEXT("\0\xff", AG_UTF8_INVALID); /* invalid wins over zero */
    size_t where = 0;
    CHECK_INT(ag_utf8_check("abcdefghij\xff", 11, &where), AG_UTF8_INVALID);
    CHECK_INT((int)where, 10);
    CHECK_DONE();
}
