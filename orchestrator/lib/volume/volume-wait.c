/* The aws CLI's waiters for storage: volume-available, volume-in-use, snapshot-completed,
 * image-available. Each describes the resource once a second until it is in the state asked
 * for, is in a state it will not leave for that one, or the time is up. */
#include <string.h>

#include <kiln/volume.h>

#include "util/util.h"

#define WAIT_STEP_MS 1000

/* The state of the resource now (to free), or NULL with *err set. */
static char *state_now(kiln_ctx *ctx, kiln_resource_wait_what what, const char *id,
                       kiln_error **err)
{
        const char *ids[] = {id};
        char *state = NULL;

        if (what == KILN_WAIT_VOLUME_AVAILABLE || what == KILN_WAIT_VOLUME_IN_USE) {
                kiln_volume *v = NULL;
                size_t n = 0;

                if (kiln_volumes_describe(ctx, ids, 1, NULL, 0, &v, &n, err) == 0 && n == 1)
                        state = kiln_xstrdup(v[0].state);
                kiln_volumes_free(v, n);
        } else if (what == KILN_WAIT_SNAPSHOT_COMPLETED) {
                kiln_snapshot_query q = {0};
                kiln_snapshot *s = NULL;
                size_t n = 0;

                q.snapshot_ids = ids;
                q.n_snapshot_ids = 1;
                if (kiln_snapshots_describe(ctx, &q, &s, &n, err) == 0 && n == 1)
                        state = kiln_xstrdup(s[0].state);
                kiln_snapshots_free(s, n);
        } else {
                kiln_image_query q = {0};
                kiln_image *img = NULL;
                size_t n = 0;

                q.image_ids = ids;
                q.n_image_ids = 1;
                if (kiln_images_describe(ctx, &q, &img, &n, err) == 0 && n == 1)
                        state = kiln_xstrdup(img[0].state);
                kiln_images_free(img, n);
        }
        if (!state && err && !*err)
                kiln_error_set(err, KILN_E_NOT_FOUND, NULL, "'%s' does not exist", id);
        return state;
}

int kiln_resource_wait(kiln_ctx *ctx, kiln_resource_wait_what what, const char *id,
                       unsigned timeout_s, kiln_error **err)
{
        static const struct {
                const char *name, *want, *never; /* never: a state that will not become want */
        } w[] = {
                [KILN_WAIT_VOLUME_AVAILABLE] = {"volume-available", "available", "deleting"},
                [KILN_WAIT_VOLUME_IN_USE] = {"volume-in-use", "in-use", "deleting"},
                [KILN_WAIT_SNAPSHOT_COMPLETED] = {"snapshot-completed", "completed", "error"},
                [KILN_WAIT_IMAGE_AVAILABLE] = {"image-available", "available", "failed"},
        };
        uint64_t deadline = kiln_now_ms() + (uint64_t) (timeout_s ? timeout_s : 600) * 1000;

        for (;;) {
                kiln_autofree char *state = state_now(ctx, what, id, err);

                if (!state)
                        return -1;
                if (strcmp(state, w[what].want) == 0)
                        return 0;
                if (strcmp(state, w[what].never) == 0 || strcmp(state, "deregistered") == 0)
                        return kiln_error_set(err, KILN_E_STATE, "IncorrectState",
                                              "wait %s: %s is %s and will not be %s", w[what].name,
                                              id, state, w[what].want);
                if (kiln_interrupted())
                        return kiln_error_set(err, KILN_E_INTERRUPTED, NULL, "wait %s: interrupted",
                                              w[what].name);
                if (kiln_now_ms() >= deadline)
                        return kiln_error_set(err, KILN_E_STATE, "IncorrectState",
                                              "wait %s: %s is still %s after %u s", w[what].name,
                                              id, state, timeout_s ? timeout_s : 600);
                kiln_sleep_ms(WAIT_STEP_MS);
        }
}
