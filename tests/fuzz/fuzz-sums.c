/* Checksum files for import-image --catalog (import.c, image_sums_lookup): the SHA256SUMS or
 * CHECKSUM file a catalog entry names comes from the server, in sha256sum style ("HEX  FILE",
 * "HEX *FILE") or BSD style ("SHA256 (FILE) = HEX"). The input's first line is the file name
 * looked up (the last part of the image URL), the rest is the sums file.
 *
 * Checked: a checksum found is "sha256:" and hex digits, and it is then checked as a
 * --checksum argument without harm, as import-image does. */
#include "fuzz.h"
#include "image/image-private.h"
#include "net/download.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        kiln_autofree char *input = fuzz_cstr(data, size);
        kiln_autofree char *sum = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        char *sums = strchr(input, '\n');

        if (!sums)
                return 0;
        *sums++ = '\0';
        sum = image_sums_lookup(sums, input, "sha256");
        if (!sum)
                return 0;
        FUZZ_CHECK(strncmp(sum, "sha256:", 7) == 0);
        FUZZ_CHECK(strspn(sum + 7, "0123456789abcdefABCDEF") == strlen(sum + 7));
        if (download_check_checksum_arg(sum, &err) == 0)
                FUZZ_CHECK(strlen(sum + 7) == 64);
        return 0;
}
