/* Timestamps as the aws CLI prints them. The records themselves are the shapes of
 * <kiln/shape.h>, written through the writer's sink (cli_w_sink). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* aws CLI v2 prints timestamps as 2024-01-02T03:04:05.123000+00:00. */
char *cli_timestamp(const char *iso)
{
        char *s;

        if (!iso)
                return NULL;
        if (asprintf(&s, "%.19s.%.3s000+00:00", iso, strlen(iso) >= 23 ? iso + 20 : "000") < 0)
                abort();
        return s;
}
