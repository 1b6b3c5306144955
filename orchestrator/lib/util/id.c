/* Resource IDs (EC2's form: a prefix and 17 lowercase hex digits), timestamps, crash points. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>

#include "util/util.h"

void kiln_random_bytes(void *buf, size_t len)
{
        unsigned char *p = buf;
        size_t got = 0;

        while (got < len) {
                ssize_t n = getrandom(p + got, len - got, 0);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        abort(); /* the kernel's CSPRNG does not fail after boot */
                got += (size_t) n;
        }
}

char *kiln_id_new(const char *prefix)
{
        unsigned char rnd[9];
        char hex[19];

        kiln_random_bytes(rnd, sizeof(rnd));
        for (size_t i = 0; i < sizeof(rnd); i++) {
                static const char digits[] = "0123456789abcdef";

                hex[2 * i] = digits[rnd[i] >> 4];
                hex[2 * i + 1] = digits[rnd[i] & 15];
        }
        hex[17] = '\0';
        return kiln_xasprintf("%s-%s", prefix, hex);
}

bool kiln_id_valid(const char *prefix, const char *s)
{
        size_t plen = strlen(prefix), n;

        if (!s || strncmp(s, prefix, plen) != 0 || s[plen] != '-')
                return false;
        s += plen + 1;
        n = strlen(s);
        if (n != 8 && n != 17)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

char *kiln_time_now_iso(void)
{
        struct timeval tv;
        struct tm tm;
        char buf[32];

        gettimeofday(&tv, NULL);
        gmtime_r(&tv.tv_sec, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
        return kiln_xasprintf("%s.%03ldZ", buf, (long) (tv.tv_usec / 1000));
}

bool kiln_is_digits(const char *s, size_t n)
{
        if (!s || strlen(s) != n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

void kiln_crash_point(const char *name)
{
        const char *want = getenv("KILN_CRASH_AT");

        if (want && strcmp(want, name) == 0)
                raise(SIGKILL);
}
