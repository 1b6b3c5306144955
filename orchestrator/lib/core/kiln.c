/* Process-wide setup of the libraries kiln stands on. */
#include <curl/curl.h>
#include <libssh2.h>
#include <signal.h>

#include "util/util.h"
#include "virt/virt.h"

#include <kiln/kiln.h>

const char *kiln_version(void)
{
        return KILN_VERSION;
}

int kiln_global_init(kiln_error **err)
{
        CURLcode c;
        int r;

        signal(SIGPIPE, SIG_IGN);
        virt_init();
        if (virInitialize() < 0)
                return virt_error(err, "cannot initialise libvirt");
        c = curl_global_init(CURL_GLOBAL_ALL);
        if (c != CURLE_OK)
                return kiln_error_set(err, KILN_E_INTERNAL, NULL, "cannot initialise libcurl: %s",
                                      curl_easy_strerror(c));
        r = libssh2_init(0);
        if (r != 0)
                return kiln_error_set(err, KILN_E_INTERNAL, NULL,
                                      "cannot initialise libssh2 (error %d)", r);
        return 0;
}

void kiln_global_cleanup(void)
{
        libssh2_exit();
        curl_global_cleanup();
}
