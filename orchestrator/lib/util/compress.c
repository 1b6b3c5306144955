/* zlib around base64: small texts for large, mostly empty blobs (a UEFI variable store is half
 * a megabyte of 0xff). */
#include <string.h>
#include <zlib.h>

#include <kiln/text.h>

#include "util/util.h"

char *kiln_deflate_base64(const void *data, size_t len)
{
        uLongf n = compressBound((uLong) len);
        unsigned char *z = kiln_xmalloc(n);
        char *text;

        if (compress2(z, &n, data, (uLong) len, Z_BEST_COMPRESSION) != Z_OK) {
                free(z);
                return NULL;
        }
        text = kiln_base64(z, n);
        free(z);
        return text;
}

int kiln_inflate_base64(const char *field, const char *text, size_t max, void **ret,
                        size_t *ret_len, kiln_error **err)
{
        unsigned char *z = NULL;
        size_t zn = 0;
        z_stream s;
        unsigned char *out;
        int rc;

        if (kiln_base64_parse(field, text, &z, &zn, err) < 0)
                return -1;
        memset(&s, 0, sizeof(s));
        if (inflateInit(&s) != Z_OK) {
                free(z);
                return kiln_error_set(err, KILN_E_INTERNAL, NULL, "%s: cannot inflate", field);
        }
        out = kiln_xmalloc(max + 1);
        s.next_in = z;
        s.avail_in = (uInt) zn;
        s.next_out = out;
        s.avail_out = (uInt) (max + 1);
        rc = inflate(&s, Z_FINISH);
        inflateEnd(&s);
        free(z);
        if (rc != Z_STREAM_END || s.total_out > max) {
                free(out);
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "%s is not kiln's compressed form (zlib, then base64) of at "
                                      "most %zu bytes",
                                      field, max);
        }
        *ret = out;
        *ret_len = s.total_out;
        return 0;
}
