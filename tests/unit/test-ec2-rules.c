/* EC2's rules for images, snapshots, copies and launches (reference/ec2-ami.md §5, §6), checked
 * through the public API in seconds, with no daemon: a throw-away kiln home whose two regions
 * are pools on libvirt's test:///default driver (in memory, in this process), four accounts and
 * an organization. The test driver cannot upload volumes, so images and snapshots are planted
 * through the internal registry (plant.h); everything else goes through <kiln/kiln.h>, and each
 * refusal is checked for EC2's code and kiln's error class (the CLI's exit status), and where it
 * matters for leaving nothing behind. Copies whose layers are already in the destination pool,
 * which need no upload, run to the end. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <kiln/kiln.h>

#include "plant.h"
#include "tap.h"

#define ACCT_A  "111111111111" /* alice: owns most images, manages the organization */
#define ACCT_B  "222222222222" /* bob: outside the organization */
#define ACCT_C  "333333333333" /* carol: a member of the organization */
#define ACCT_D  "444444444444" /* a publisher whose images carry the alias amazon */
#define ORG_ID  "o-kilnunit0001"
#define ORG_ARN "arn:aws:organizations::" ACCT_A ":organization/" ORG_ID
#define UNKNOWN "ami-0123456789abcdef0"

typedef struct t_env {
        char *tmp;
        char *home;
        kiln_ctx *a, *b, *c, *d; /* region local */
        kiln_ctx *aw, *bw;       /* region west */
} t_env;

/* ---- checks ---- */

/* README's exit status for each error class. */
static int exit_status(int code)
{
        static const int status[KILN_E_COUNT] = {
                [KILN_E_INTERNAL] = 1, [KILN_E_INVALID] = 3,     [KILN_E_NOT_FOUND] = 4,
                [KILN_E_EXISTS] = 5,   [KILN_E_STATE] = 6,       [KILN_E_PERMISSION] = 7,
                [KILN_E_LIMIT] = 8,    [KILN_E_UNSUPPORTED] = 9, [KILN_E_IO] = 10,
                [KILN_E_LIBVIRT] = 12,
        };

        return code > 0 && code < KILN_E_COUNT && status[code] ? status[code] : 1;
}

static void say_error(int rc, kiln_error *const *e)
{
        const kiln_error *x = *e;

        printf("#   got: rc %d, %s %s\n", rc, x ? kiln_error_code_name(x->code) : "no error",
               x && x->api_code ? x->api_code : "");
        if (x)
                printf("#   message: %s\n", x->msg);
}

/* The call failed with EC2's code (api_code) and kiln's class (code). */
static void refused(int rc, kiln_error *const *e, int code, const char *api_code, const char *what)
{
        const kiln_error *x = *e;
        bool good = rc == -1 && x && x->code == code &&
                    (api_code ? x->api_code && strcmp(x->api_code, api_code) == 0 : true);

        if (!ok(good, "%s: %s, exit %d", what, api_code ? api_code : kiln_error_code_name(code),
                exit_status(code)))
                say_error(rc, e);
}

/* A fixture the checks that follow need: one TAP line, and whether it is there. */
static bool fixture(bool made, const char *what)
{
        ok(made, "%s", what);
        return made;
}

static void succeeds(int rc, kiln_error *const *e, const char *what)
{
        if (!ok(rc == 0 && !*e, "%s", what))
                say_error(rc, e);
}

/* ---- the public API, shortened ---- */

static kiln_permission perm(kiln_perm_kind kind, const char *value)
{
        kiln_permission p = {kind, (char *) value};

        return p;
}

static int launch_perm(kiln_ctx *ctx, const char *id, bool add, kiln_permission p,
                       bool with_snapshots, kiln_error **e)
{
        kiln_permission_change c = {0};

        if (add) {
                c.add = &p;
                c.n_add = 1;
        } else {
                c.remove = &p;
                c.n_remove = 1;
        }
        return kiln_image_modify_launch_permission(ctx, id, &c, with_snapshots, e);
}

static int volume_perm(kiln_ctx *ctx, const char *id, bool add, kiln_permission p, kiln_error **e)
{
        kiln_permission_change c = {0};

        if (add) {
                c.add = &p;
                c.n_add = 1;
        } else {
                c.remove = &p;
                c.n_remove = 1;
        }
        return kiln_snapshot_modify_permission(ctx, id, &c, e);
}

/* Whether a listing holds the image: 1, 0, or -1 when the call failed. */
static int lists(kiln_ctx *ctx, const kiln_image_query *q, const char *id)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_image *imgs = NULL;
        size_t n = 0;
        int found = 0;

        if (kiln_images_describe(ctx, q, &imgs, &n, &e) < 0) {
                printf("#   describe-images: %s\n", e->msg);
                return -1;
        }
        for (size_t i = 0; i < n; i++)
                found = found || strcmp(imgs[i].image_id, id) == 0;
        kiln_images_free(imgs, n);
        return found;
}

static int sees(kiln_ctx *ctx, const char *id)
{
        kiln_image_query q = {0};

        return lists(ctx, &q, id);
}

/* The number of images a listing holds whose name starts with prefix, or -1. */
static long count_named(kiln_ctx *ctx, const kiln_image_query *q, const char *prefix)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_image *imgs = NULL;
        size_t n = 0;
        long k = 0;

        if (kiln_images_describe(ctx, q, &imgs, &n, &e) < 0) {
                printf("#   describe-images: %s\n", e->msg);
                return -1;
        }
        for (size_t i = 0; i < n; i++)
                k += strncmp(imgs[i].name, prefix, strlen(prefix)) == 0;
        kiln_images_free(imgs, n);
        return k;
}

static int describe_one(kiln_ctx *ctx, const char *id, kiln_image *ret, kiln_error **e)
{
        const char *ids[] = {id};
        kiln_image_query q = {ids, 1, NULL, 0, NULL, 0, NULL, 0};
        kiln_image *imgs = NULL;
        size_t n = 0;

        if (kiln_images_describe(ctx, &q, &imgs, &n, e) < 0)
                return -1;
        if (n != 1) {
                kiln_images_free(imgs, n);
                return kiln_error_set(e, KILN_E_INTERNAL, NULL, "%zu images for one ID", n);
        }
        *ret = imgs[0];
        free(imgs);
        return 0;
}

static bool is_public(kiln_ctx *ctx, const char *id)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_image img = {0};
        bool pub = describe_one(ctx, id, &img, &e) == 0 && img.is_public;

        kiln_image_clear(&img);
        return pub;
}

/* Whether the caller can see the snapshot: 1, 0 (InvalidSnapshot.NotFound), -1 (another
 * error). */
static int sees_snapshot(kiln_ctx *ctx, const char *id)
{
        kiln_autoptr(kiln_error) e = NULL;
        const char *ids[] = {id};
        kiln_snapshot_query q = {ids, 1, NULL, 0, NULL, 0, NULL, 0};
        kiln_snapshot *s = NULL;
        size_t n = 0;

        if (kiln_snapshots_describe(ctx, &q, &s, &n, &e) < 0)
                return e->api_code && strcmp(e->api_code, "InvalidSnapshot.NotFound") == 0 ? 0 : -1;
        kiln_snapshots_free(s, n);
        return n == 1;
}

static char *volume_of(const char *snapshot_id)
{
        return kiln_xasprintf("%s.qcow2", snapshot_id);
}

static long instance_count(kiln_ctx *ctx)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_instance *list = NULL;
        size_t n = 0;

        if (kiln_instances_describe(ctx, NULL, 0, NULL, 0, &list, &n, &e) < 0) {
                printf("#   describe-instances: %s\n", e->msg);
                return -1;
        }
        kiln_instances_free(list, n);
        return (long) n;
}

/* Entries in HOME/instances (absent: 0). */
static long instance_dirs(const t_env *t)
{
        kiln_autofree char *dir = kiln_xasprintf("%s/instances", t->home);
        struct stat st;
        long n = 0;
        DIR *d;
        const struct dirent *de;

        if (stat(dir, &st) < 0)
                return 0;
        d = opendir(dir);
        while (d && (de = readdir(d)))
                n += de->d_name[0] != '.';
        if (d)
                closedir(d);
        return n;
}

/* A root snapshot of the context's account and an image of it. */
static char *image_with_snapshot(kiln_ctx *ctx, const char *name, char **ret_snapshot)
{
        kiln_autofree char *snap = plant_snapshot(ctx, NULL, NULL, NULL, false);
        const char *snaps[] = {snap};
        plant_image_spec spec = {NULL, name, NULL, NULL, NULL, false, snaps, 1};
        char *id = snap ? plant_image(ctx, &spec) : NULL;

        if (id && ret_snapshot)
                *ret_snapshot = kiln_steal(&snap);
        return id;
}

/* ==== visibility: §6.6, §6.7 ==== */

static void t_visibility(t_env *t)
{
        kiln_autofree char *snap = NULL;
        kiln_autofree char *id = image_with_snapshot(t->a, "vis-base", &snap);
        kiln_image_query q = {0};

        if (!fixture(id != NULL, "visibility: an image of account A is planted"))
                return;
        is_int(sees(t->a, id), 1, "private by default: the owner lists it");
        is_int(sees(t->b, id), 0, "another account does not list a private image");
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_image img = {0};

                refused(describe_one(t->b, id, &img, &e), &e, KILN_E_NOT_FOUND,
                        "InvalidAMIID.NotFound", "another account asks for a private image by ID");
                kiln_autofree char *want = kiln_xasprintf("The image id '[%s]' does not exist", id);
                like(e ? e->msg : NULL, want, "  in EC2's words");
        }
        ok(!is_public(t->a, id), "a new image is not public");

        /* UserId */
        {
                kiln_autoptr(kiln_error) e = NULL;

                succeeds(launch_perm(t->a, id, true, perm(KILN_PERM_USER, ACCT_B), false, &e), &e,
                         "the owner shares it with account B (UserId)");
        }
        is_int(sees(t->b, id), 1, "shared with B: B lists it");
        {
                const char *self[] = {"self"};
                const char *b[] = {ACCT_B};

                q = (kiln_image_query){0};
                q.executable_users = self;
                q.n_executable_users = 1;
                is_int(lists(t->b, &q, id), 1, "B's --executable-users self lists it");
                is_int(lists(t->a, &q, id), 0,
                       "the owner's --executable-users self does not list its own image");
                q.executable_users = b;
                is_int(lists(t->a, &q, id), 1, "--executable-users B lists it for the owner");
        }
        is_int(sees(t->c, id), 0, "an account it is not shared with still does not list it");
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_image_attribute a = {0};

                succeeds(kiln_image_attribute_describe(t->a, id, "launchPermission", &a, &e), &e,
                         "the owner reads the launch permissions");
                ok(a.n_perms == 1 && a.perms[0].kind == KILN_PERM_USER &&
                           strcmp(a.perms[0].value, ACCT_B) == 0,
                   "  they hold UserId B");
                kiln_image_attribute_clear(&a);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                succeeds(launch_perm(t->a, id, false, perm(KILN_PERM_USER, ACCT_B), false, &e), &e,
                         "the owner removes UserId B");
        }
        is_int(sees(t->b, id), 0, "after the removal B no longer lists it");

        /* OrganizationArn, given by the organization's ID */
        {
                kiln_autoptr(kiln_error) e = NULL;

                succeeds(launch_perm(t->a, id, true, perm(KILN_PERM_ORG, ORG_ID), false, &e), &e,
                         "the owner shares it with an organization");
        }
        is_int(sees(t->c, id), 1, "a member of the organization lists it");
        is_int(sees(t->b, id), 0, "an account outside the organization does not");
        {
                const char *self[] = {"self"};
                const char *all[] = {"all"};

                q = (kiln_image_query){0};
                q.executable_users = self;
                q.n_executable_users = 1;
                is_int(lists(t->c, &q, id), 1, "the member's --executable-users self lists it");
                is_int(lists(t->a, &q, id), 0,
                       "the owner, in the organization too, does not list its own with self");
                q.executable_users = all;
                is_int(lists(t->c, &q, id), 0,
                       "--executable-users all does not list an image that is not public");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_image_attribute a = {0};

                kiln_image_attribute_describe(t->a, id, "launchPermission", &a, &e);
                ok(a.n_perms == 1 && a.perms[0].kind == KILN_PERM_ORG &&
                           strcmp(a.perms[0].value, ORG_ARN) == 0,
                   "the permission is stored as the organization's ARN");
                kiln_image_attribute_clear(&a);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(launch_perm(t->a, id, true, perm(KILN_PERM_ORG, "o-nosuchorg0001"), false,
                                    &e),
                        &e, KILN_E_INVALID, "InvalidParameterValue",
                        "sharing with an organization that is not configured");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                succeeds(launch_perm(t->a, id, false, perm(KILN_PERM_ORG, ORG_ARN), false, &e), &e,
                         "the owner removes the organization by its ARN");
        }
        is_int(sees(t->c, id), 0, "then the member no longer lists it");

        /* Group all */
        {
                kiln_autoptr(kiln_error) e = NULL;

                succeeds(launch_perm(t->a, id, true, perm(KILN_PERM_ALL, NULL), false, &e), &e,
                         "the owner makes it public (Group all)");
        }
        ok(sees(t->b, id) == 1 && sees(t->c, id) == 1, "public: every account lists it");
        ok(is_public(t->b, id), "  with Public true");
        {
                const char *all[] = {"all"};
                const char *self[] = {"self"};

                q = (kiln_image_query){0};
                q.executable_users = all;
                q.n_executable_users = 1;
                is_int(lists(t->c, &q, id), 1, "--executable-users all lists a public image");
                q.executable_users = self;
                is_int(lists(t->b, &q, id), 0,
                       "--executable-users self does not list an image that is only public");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                succeeds(kiln_image_attribute_reset(t->a, id, "launchPermission", &e), &e,
                         "reset-image-attribute launchPermission");
        }
        ok(sees(t->b, id) == 0 && !is_public(t->a, id), "after a reset the image is private again");

        /* Images are regional. */
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_image img = {0};

                refused(describe_one(t->aw, id, &img, &e), &e, KILN_E_NOT_FOUND,
                        "InvalidAMIID.NotFound", "the owner asks for it in another region");
        }
}

/* ==== owner aliases and owner values: §6.7 ==== */

static void t_owner_alias(t_env *t)
{
        kiln_autofree char *snap = plant_snapshot(t->d, NULL, NULL, NULL, false);
        const char *snaps[] = {snap};
        plant_image_spec spec = {
                NULL, "alias-debian-12", NULL, "a catalog image", "amazon", false, snaps, 1};
        kiln_autofree char *id = snap ? plant_image(t->d, &spec) : NULL;
        kiln_autofree char *own = image_with_snapshot(t->a, "alias-mine", NULL);
        kiln_image_query q = {0};

        if (!fixture(id && own,
                     "owner alias: a public image whose owner alias is amazon is planted"))
                return;
        {
                kiln_autoptr(kiln_error) e = NULL;

                launch_perm(t->d, id, true, perm(KILN_PERM_ALL, NULL), false, &e);
        }
        {
                const char *amazon[] = {"amazon"};
                const char *market[] = {"aws-marketplace"};
                const char *self[] = {"self"};
                const char *d[] = {ACCT_D};

                q.owners = amazon;
                q.n_owners = 1;
                ok(lists(t->a, &q, id) == 1 && lists(t->a, &q, own) == 0,
                   "--owners amazon lists the aliased image and not the caller's own");
                q.owners = market;
                is_int(lists(t->a, &q, id), 0, "--owners aws-marketplace does not list it");
                q.owners = self;
                ok(lists(t->a, &q, id) == 0 && lists(t->a, &q, own) == 1,
                   "--owners self lists the caller's own only");
                q.owners = d;
                is_int(lists(t->a, &q, id), 1, "--owners ACCOUNT lists that account's images");
        }
        {
                const char *v[] = {"amazon"};
                kiln_filter f = {"owner-alias", v, 1};

                q = (kiln_image_query){0};
                q.filters = &f;
                q.n_filters = 1;
                ok(lists(t->b, &q, id) == 1 && lists(t->b, &q, own) == 0,
                   "the owner-alias filter matches the alias");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                const char *bad[] = {"nobody"};
                kiln_image *imgs = NULL;
                size_t n = 0;

                q = (kiln_image_query){0};
                q.owners = bad;
                q.n_owners = 1;
                refused(kiln_images_describe(t->a, &q, &imgs, &n, &e), &e, KILN_E_INVALID,
                        "InvalidUserID.Malformed", "an owner that is no account or alias");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                const char *bad[] = {"amazon"};
                kiln_image *imgs = NULL;
                size_t n = 0;

                q = (kiln_image_query){0};
                q.executable_users = bad;
                q.n_executable_users = 1;
                refused(kiln_images_describe(t->a, &q, &imgs, &n, &e), &e, KILN_E_INVALID,
                        "InvalidUserID.Malformed", "an executable user that is an alias");
        }
}

/* ==== only the owner changes an image: §6.6 ==== */

static void t_owner_only(t_env *t)
{
        kiln_autofree char *id = image_with_snapshot(t->a, "owner-only", NULL);
        kiln_autofree char *auth = NULL;

        if (!fixture(id != NULL, "owner only: an image of A shared with B"))
                return;
        auth = kiln_xasprintf("Not authorized for images: [%s]", id);
        {
                kiln_autoptr(kiln_error) e = NULL;

                launch_perm(t->a, id, true, perm(KILN_PERM_USER, ACCT_B), false, &e);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(launch_perm(t->b, id, true, perm(KILN_PERM_ALL, NULL), false, &e), &e,
                        KILN_E_PERMISSION, "AuthFailure", "a grantee re-shares it");
                like(e ? e->msg : NULL, auth, "  in EC2's words");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(kiln_image_attribute_reset(t->b, id, "launchPermission", &e), &e,
                        KILN_E_PERMISSION, "AuthFailure", "a grantee resets its permissions");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(kiln_image_modify_description(t->b, id, "mine now", &e), &e,
                        KILN_E_PERMISSION, "AuthFailure", "a grantee changes its description");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_image_attribute a = {0};

                refused(kiln_image_attribute_describe(t->b, id, "launchPermission", &a, &e), &e,
                        KILN_E_PERMISSION, "AuthFailure", "a grantee reads its launch permissions");
                kiln_image_attribute_clear(&a);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_image_attribute a = {0};

                succeeds(kiln_image_attribute_describe(t->b, id, "description", &a, &e), &e,
                         "a grantee reads its description");
                kiln_image_attribute_clear(&a);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(kiln_image_deregister(t->b, id, &e), &e, KILN_E_PERMISSION, "AuthFailure",
                        "a grantee deregisters it");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(launch_perm(t->c, id, true, perm(KILN_PERM_ALL, NULL), false, &e), &e,
                        KILN_E_NOT_FOUND, "InvalidAMIID.NotFound",
                        "an account it is not shared with changes its permissions");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(kiln_image_attribute_reset(t->c, id, "launchPermission", &e), &e,
                        KILN_E_NOT_FOUND, "InvalidAMIID.NotFound", "  resets them");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(kiln_image_deregister(t->c, id, &e), &e, KILN_E_NOT_FOUND,
                        "InvalidAMIID.NotFound", "  deregisters it");
        }
        ok(sees(t->a, id) == 1 && sees(t->b, id) == 1 && !is_public(t->a, id),
           "after all that the image is registered, shared with B and not public");

        /* The permission items. */
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_permission p = {0};

                refused(kiln_permission_parse("UserId", "12345", &p, &e), &e, KILN_E_INVALID,
                        "InvalidAMIAttributeItemValue", "a UserId that is not 12 digits");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_permission p = {0};

                refused(kiln_permission_parse("Group", "everyone", &p, &e), &e, KILN_E_INVALID,
                        "InvalidAMIAttributeItemValue", "a Group other than all");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_permission_change c = {0};

                refused(kiln_image_modify_launch_permission(t->a, id, &c, false, &e), &e,
                        KILN_E_INVALID, "MissingParameter",
                        "a change that adds and removes nothing");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_image_attribute a = {0};
                int rc = kiln_image_attribute_describe(t->a, id, "blockDeviceMapping", &a, &e);

                ok(rc == -1 && e && e->api_code && strcmp(e->api_code, "AuthFailure") == 0,
                   "describe-image-attribute blockDeviceMapping (deprecated): AuthFailure "
                   "(§6.1, §6.6)");
                if (e)
                        printf("#   got: %s\n", e->api_code ? e->api_code : e->msg);
                kiln_image_attribute_clear(&a);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(kiln_image_attribute_reset(t->a, id, "description", &e), &e, KILN_E_INVALID,
                        "InvalidParameterValue", "resetting anything but launchPermission");
        }
}

/* ==== deregister, and the snapshots that stay: §6.5 ==== */

static void t_deregister(t_env *t)
{
        kiln_autofree char *root = plant_snapshot(t->a, NULL, NULL, NULL, false);
        kiln_autofree char *data = plant_snapshot(t->a, NULL, NULL, NULL, false);
        const char *snaps[] = {root, data};
        plant_image_spec spec = {NULL, "dereg", NULL, NULL, NULL, false, snaps, 2};
        kiln_autofree char *id = root && data ? plant_image(t->a, &spec) : NULL;
        kiln_autofree char *root_vol = NULL;

        if (!fixture(id != NULL, "deregister: an image of A mapping two snapshots, shared with B"))
                return;
        root_vol = volume_of(root);
        {
                kiln_autoptr(kiln_error) e = NULL;

                launch_perm(t->a, id, true, perm(KILN_PERM_USER, ACCT_B), false, &e);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *want =
                        kiln_xasprintf("The snapshot %s is currently in use by %s", root, id);

                refused(kiln_snapshot_delete(t->a, root, &e), &e, KILN_E_STATE,
                        "InvalidSnapshot.InUse",
                        "deleting the root snapshot of a registered image");
                like(e ? e->msg : NULL, want, "  in EC2's words");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(kiln_snapshot_delete(t->a, data, &e), &e, KILN_E_STATE,
                        "InvalidSnapshot.InUse",
                        "deleting another snapshot it maps (kiln refuses every mapped one, §12)");
        }
        ok(plant_volume_exists(t->a, NULL, root_vol), "the refused snapshot's volume stays");
        {
                kiln_autoptr(kiln_error) e = NULL;

                succeeds(kiln_image_deregister(t->a, id, &e), &e, "the owner deregisters it");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_image img = {0};

                refused(describe_one(t->a, id, &img, &e), &e, KILN_E_NOT_FOUND,
                        "InvalidAMIID.NotFound", "a deregistered image is not found");
        }
        is_int(sees(t->b, id), 0, "nor listed for the account it was shared with");
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *want =
                        kiln_xasprintf("The image id '[%s]' is no longer available", id);

                refused(kiln_image_deregister(t->a, id, &e), &e, KILN_E_STATE,
                        "InvalidAMIID.Unavailable", "deregistering it twice");
                like(e ? e->msg : NULL, want, "  in EC2's words");
        }
        ok(sees_snapshot(t->a, root) == 1 && sees_snapshot(t->a, data) == 1,
           "its snapshots stay after the deregistration");
        ok(plant_volume_exists(t->a, NULL, root_vol), "  with their volumes");
        {
                kiln_autoptr(kiln_error) e = NULL;

                succeeds(kiln_snapshot_delete(t->a, root, &e), &e,
                         "then the snapshot can be deleted");
        }
        ok(sees_snapshot(t->a, root) == 0 && !plant_volume_exists(t->a, NULL, root_vol),
           "  its record and its volume are gone");
}

/* ==== snapshots: createVolumePermission, deletion: §6.5, §6.6 ==== */

static void t_snapshots(t_env *t)
{
        kiln_autofree char *snap = plant_snapshot(t->a, NULL, NULL, NULL, false);

        if (!fixture(snap != NULL, "snapshots: an unmapped snapshot of A"))
                return;
        {
                kiln_autoptr(kiln_error) e = NULL;
                const char *ids[] = {snap};
                kiln_snapshot_query q = {ids, 1, NULL, 0, NULL, 0, NULL, 0};
                kiln_snapshot *s = NULL;
                size_t n = 0;
                kiln_autofree char *want =
                        kiln_xasprintf("The snapshot '%s' does not exist.", snap);

                refused(kiln_snapshots_describe(t->b, &q, &s, &n, &e), &e, KILN_E_NOT_FOUND,
                        "InvalidSnapshot.NotFound", "another account asks for a private snapshot");
                like(e ? e->msg : NULL, want, "  in EC2's words");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_permission add = perm(KILN_PERM_USER, ACCT_B);
                kiln_permission rm = perm(KILN_PERM_USER, ACCT_C);
                kiln_permission_change c = {&add, 1, &rm, 1};

                refused(kiln_snapshot_modify_permission(t->a, snap, &c, &e), &e, KILN_E_INVALID,
                        "InvalidParameterCombination",
                        "createVolumePermission: add and remove in one call");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(volume_perm(t->a, snap, true, perm(KILN_PERM_ORG, ORG_ARN), &e), &e,
                        KILN_E_INVALID, "InvalidParameterValue",
                        "createVolumePermission for an organization");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                succeeds(volume_perm(t->a, snap, true, perm(KILN_PERM_USER, ACCT_B), &e), &e,
                         "the owner grants createVolumePermission to B");
        }
        {
                const char *self[] = {"self"};
                kiln_snapshot_query q = {NULL, 0, NULL, 0, self, 1, NULL, 0};
                kiln_autoptr(kiln_error) e = NULL;
                kiln_snapshot *s = NULL;
                size_t n = 0;
                bool found = false;

                kiln_snapshots_describe(t->b, &q, &s, &n, &e);
                for (size_t i = 0; i < n; i++)
                        found = found || strcmp(s[i].snapshot_id, snap) == 0;
                kiln_snapshots_free(s, n);
                ok(found, "B's --restorable-by-user-ids self lists it");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_permission *p = NULL;
                size_t n = 0;

                kiln_snapshot_permissions_describe(t->a, snap, &p, &n, &e);
                ok(n == 1 && p[0].kind == KILN_PERM_USER && strcmp(p[0].value, ACCT_B) == 0,
                   "describe-snapshot-attribute shows UserId B");
                kiln_permissions_free(p, n);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(volume_perm(t->b, snap, true, perm(KILN_PERM_ALL, NULL), &e), &e,
                        KILN_E_PERMISSION, "AuthFailure", "the grantee changes its permissions");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(kiln_snapshot_delete(t->b, snap, &e), &e, KILN_E_PERMISSION, "AuthFailure",
                        "the grantee deletes it");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(volume_perm(t->c, snap, true, perm(KILN_PERM_ALL, NULL), &e), &e,
                        KILN_E_NOT_FOUND, "InvalidSnapshot.NotFound",
                        "an account without permission changes its permissions");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                succeeds(volume_perm(t->a, snap, false, perm(KILN_PERM_USER, ACCT_B), &e), &e,
                         "the owner removes B's createVolumePermission");
        }
        is_int(sees_snapshot(t->b, snap), 0, "then B no longer sees it");
        {
                kiln_autoptr(kiln_error) e = NULL;

                succeeds(volume_perm(t->a, snap, true, perm(KILN_PERM_ALL, NULL), &e), &e,
                         "the owner makes it public");
        }
        is_int(sees_snapshot(t->c, snap), 1, "a public snapshot is seen by every account");
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(kiln_snapshot_delete(t->a, "snap-1", &e), &e, KILN_E_INVALID,
                        "InvalidSnapshotID.Malformed", "deleting a malformed snapshot ID");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(kiln_snapshot_delete(t->a, "snap-0123456789abcdef0", &e), &e,
                        KILN_E_NOT_FOUND, "InvalidSnapshot.NotFound",
                        "deleting an unknown snapshot");
        }

        /* A layer others build on: hidden at once, its data kept until nothing needs it. */
        {
                kiln_autofree char *parent = plant_snapshot(t->a, NULL, NULL, NULL, false);
                kiln_autofree char *child =
                        parent ? plant_snapshot(t->a, NULL, parent, NULL, false) : NULL;
                kiln_autofree char *pv = NULL, *cv = NULL;

                if (!fixture(child != NULL, "a layer with a layer on it"))
                        return;
                pv = volume_of(parent);
                cv = volume_of(child);
                {
                        kiln_autoptr(kiln_error) e = NULL;

                        succeeds(kiln_snapshot_delete(t->a, parent, &e), &e,
                                 "deleting a snapshot another builds on succeeds");
                }
                ok(sees_snapshot(t->a, parent) == 0 && plant_volume_exists(t->a, NULL, pv),
                   "  it is no longer listed, and its data stays for the layer on it");
                {
                        kiln_autoptr(kiln_error) e = NULL;

                        succeeds(kiln_snapshot_delete(t->a, child, &e), &e,
                                 "deleting the layer on it");
                }
                ok(!plant_volume_exists(t->a, NULL, cv) && !plant_volume_exists(t->a, NULL, pv),
                   "  frees both volumes");
        }
}

/* ==== images that keep their identity: README, §6.6 (what may become public) ==== */

static void t_ungeneralized(t_env *t)
{
        kiln_autofree char *snap = plant_snapshot(t->a, NULL, NULL, NULL, true);
        const char *snaps[] = {snap};
        plant_image_spec spec = {NULL, "keep-identity", NULL, NULL, NULL, true, snaps, 1};
        kiln_autofree char *id = snap ? plant_image(t->a, &spec) : NULL;

        if (!fixture(id != NULL,
                     "ungeneralized: an image baked with --no-generalize and its snapshot"))
                return;
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(launch_perm(t->a, id, true, perm(KILN_PERM_ALL, NULL), false, &e), &e,
                        KILN_E_INVALID, "InvalidParameter", "making the image public");
                like(e ? e->msg : NULL, "--no-generalize", "  the refusal says why");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(launch_perm(t->a, id, true, perm(KILN_PERM_ALL, NULL), true, &e), &e,
                        KILN_E_INVALID, "InvalidParameter", "making it public with its snapshots");
        }
        ok(!is_public(t->a, id) && sees(t->c, id) == 0, "  it stays private");
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(volume_perm(t->a, snap, true, perm(KILN_PERM_ALL, NULL), &e), &e,
                        KILN_E_INVALID, "InvalidParameter", "making its snapshot public");
        }
        is_int(sees_snapshot(t->c, snap), 0, "  it stays private");
        {
                kiln_autoptr(kiln_error) e = NULL;

                succeeds(launch_perm(t->a, id, true, perm(KILN_PERM_USER, ACCT_B), true, &e), &e,
                         "sharing it with an account, with its snapshots, works");
        }
        ok(sees(t->b, id) == 1 && sees_snapshot(t->b, snap) == 1,
           "  the account sees the image and its snapshot");
}

/* ==== copy-image: §6.4, decided before any data moves ==== */

static void t_copy(t_env *t)
{
        kiln_autofree char *snap = NULL;
        kiln_autofree char *id = image_with_snapshot(t->a, "app", &snap);
        kiln_autofree char *layer = snap ? plant_layer_of(t->a, snap) : NULL;
        /* The same layer in west, as an earlier copy would have left it: a copy there makes an
         * overlay on it and sends nothing, so it completes on the test driver. */
        kiln_autofree char *west_layer =
                layer ? plant_snapshot(t->aw, NULL, NULL, layer, false) : NULL;
        kiln_autofree char *west_snap = plant_snapshot(t->aw, NULL, NULL, NULL, false);
        const char *ws[] = {west_snap};
        plant_image_spec west_spec = {NULL, "app-west", NULL, NULL, NULL, false, ws, 1};
        kiln_autofree char *west_img = west_snap ? plant_image(t->aw, &west_spec) : NULL;
        long west_vols;

        if (!fixture(
                    id && west_layer && west_img,
                    "copy: an image of A in local, its layer and an image called app-west in west"))
                return;
        west_vols = plant_volume_count(t->aw, NULL);
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_copy_spec c = {"mars", id, "app", NULL, false, NULL, false};
                char *out = NULL;

                refused(kiln_image_copy(t->aw, &c, NULL, NULL, &out, &e), &e, KILN_E_INVALID,
                        "InvalidRegion", "copying from an unknown source region");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_copy_spec c = {"local", "ami-nope", "app", NULL, false, NULL, false};
                char *out = NULL;

                refused(kiln_image_copy(t->aw, &c, NULL, NULL, &out, &e), &e, KILN_E_INVALID,
                        "InvalidAMIID.Malformed", "copying a malformed image ID");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_copy_spec c = {"local", id, "app", NULL, false, NULL, false};
                char *out = NULL;

                refused(kiln_image_copy(t->bw, &c, NULL, NULL, &out, &e), &e, KILN_E_NOT_FOUND,
                        "InvalidAMIID.NotFound", "copying an image the caller may not launch");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                launch_perm(t->a, id, true, perm(KILN_PERM_USER, ACCT_B), false, &e);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_copy_spec c = {"local", id, "bobs-app", NULL, false, NULL, false};
                char *out = NULL;

                refused(kiln_image_copy(t->bw, &c, NULL, NULL, &out, &e), &e, KILN_E_PERMISSION,
                        "AuthFailure",
                        "copying an image shared with the caller whose snapshots "
                        "are not");
                like(e ? e->msg : NULL,
                     "You do not have permission to access the storage of this ami",
                     "  in EC2's words");
        }
        {
                kiln_image_query q = {0};
                const char *self[] = {"self"};

                q.owners = self;
                q.n_owners = 1;
                ok(count_named(t->bw, &q, "") == 0 && plant_volume_count(t->aw, NULL) == west_vols,
                   "  nothing was registered and no volume was made");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_copy_spec c = {"local", id, "app-west", NULL, false, NULL, false};
                char *out = NULL;
                kiln_autofree char *want =
                        kiln_xasprintf("AMI name app-west is already in use by AMI %s", west_img);

                refused(kiln_image_copy(t->aw, &c, NULL, NULL, &out, &e), &e, KILN_E_EXISTS,
                        "InvalidAMIName.Duplicate",
                        "copying to a name already used in the destination");
                like(e ? e->msg : NULL, want, "  in EC2's words");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_copy_spec c = {"local", id, "ab", NULL, false, NULL, false};
                char *out = NULL;

                refused(kiln_image_copy(t->aw, &c, NULL, NULL, &out, &e), &e, KILN_E_INVALID,
                        "InvalidAMIName.Malformed", "copying to a name of 2 characters");
        }
        is_int(plant_volume_count(t->aw, NULL), west_vols, "no refused copy left a volume");

        /* With read permission on the snapshot as well, B may copy it. */
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_copy_spec c = {"local", id, "bobs-app", NULL, false, NULL, false};
                kiln_autofree char *out = NULL;
                kiln_image img = {0};

                volume_perm(t->a, snap, true, perm(KILN_PERM_USER, ACCT_B), &e);
                succeeds(kiln_image_copy(t->bw, &c, NULL, NULL, &out, &e), &e,
                         "with createVolumePermission on its snapshot too, B copies it");
                if (out)
                        describe_one(t->bw, out, &img, &e);
                is_str(img.owner_id, ACCT_B, "  the copy is B's");
                is_str(img.state, "available", "  and available");
                kiln_image_clear(&img);
        }

        /* The owner's copy into west, after making the source public. */
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_copy_spec c = {"local", id, "app", NULL, false, NULL, false};
                kiln_autofree char *out = NULL;
                kiln_image img = {0};
                kiln_snapshot *s = NULL;
                size_t n = 0;

                launch_perm(t->a, id, true, perm(KILN_PERM_ALL, NULL), false, &e);
                succeeds(kiln_image_copy(t->aw, &c, NULL, NULL, &out, &e), &e,
                         "the owner copies it into west under the same name (names are "
                         "regional)");
                if (!out || describe_one(t->aw, out, &img, &e) < 0) {
                        ok(0, "  the copy is described");
                        return;
                }
                ok(strcmp(out, id) != 0 && img.n_mappings == 1 &&
                           strcmp(img.mappings[0].snapshot_id, snap) != 0,
                   "  a new image ID and a new snapshot ID");
                ok(img.source_image_id && strcmp(img.source_image_id, id) == 0 &&
                           img.source_region && strcmp(img.source_region, "local") == 0,
                   "  it records its source");
                ok(!img.is_public, "  launch permissions are not copied: a public source gives "
                                   "a private copy");
                if (img.n_mappings == 1) {
                        const char *ids[] = {img.mappings[0].snapshot_id};
                        kiln_snapshot_query q = {ids, 1, NULL, 0, NULL, 0, NULL, 0};

                        kiln_autofree char *want =
                                kiln_xasprintf("Copied for DestinationAmi %s from SourceAmi %s for "
                                               "SourceSnapshot %s. Task created on ",
                                               out, id, snap);

                        kiln_snapshots_describe(t->aw, &q, &s, &n, &e);
                        ok(n == 1 && s[0].parent_id && strcmp(s[0].parent_id, west_layer) == 0,
                           "  its snapshot is an overlay on the layer already there");
                        like(n == 1 ? s[0].description : NULL, want,
                             "  described as EC2 describes a copied snapshot");
                        kiln_snapshots_free(s, n);
                }
                kiln_image_clear(&img);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_copy_spec c = {"local", id, "app-copy", NULL, false, NULL, false};
                kiln_autofree char *out = NULL;

                succeeds(kiln_image_copy(t->a, &c, NULL, NULL, &out, &e), &e,
                         "a copy within the same region");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_copy_spec c = {"local", id, "app-token", NULL, false, "copy-token-1", false};
                kiln_copy_spec other = {"local",        id,   "app-token-2", NULL, false,
                                        "copy-token-1", false};
                kiln_copy_spec longer = {"local",
                                         id,
                                         "app-token-3",
                                         NULL,
                                         false,
                                         "0123456789012345678901234567890123456789012345678901234"
                                         "5678901234",
                                         false};
                kiln_autofree char *first = NULL, *again = NULL;
                char *out = NULL;

                succeeds(kiln_image_copy(t->a, &c, NULL, NULL, &first, &e), &e,
                         "a copy with a ClientToken");
                succeeds(kiln_image_copy(t->a, &c, NULL, NULL, &again, &e), &e,
                         "  the same request again");
                ok(first && again && strcmp(first, again) == 0,
                   "  gets the same image, not a second copy");
                refused(kiln_image_copy(t->a, &other, NULL, NULL, &out, &e), &e, KILN_E_INVALID,
                        "IdempotentParameterMismatch", "  the token with another name");
                kiln_error_free(kiln_steal(&e));
                refused(kiln_image_copy(t->a, &longer, NULL, NULL, &out, &e), &e, KILN_E_INVALID,
                        "InvalidParameterValue", "a ClientToken of 65 characters");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *snap_u = plant_snapshot(t->a, NULL, NULL, NULL, true);
                const char *su[] = {snap_u};
                plant_image_spec spec = {NULL, "keep-id-src", NULL, NULL, NULL, true, su, 1};
                kiln_autofree char *src = snap_u ? plant_image(t->a, &spec) : NULL;
                kiln_copy_spec c = {"local", src, "keep-id-copy", NULL, false, NULL, false};
                kiln_autofree char *out = NULL;

                succeeds(src ? kiln_image_copy(t->a, &c, NULL, NULL, &out, &e) : -1, &e,
                         "a copy of an image baked with --no-generalize");
                if (out) {
                        refused(launch_perm(t->a, out, true, perm(KILN_PERM_ALL, NULL), false, &e),
                                &e, KILN_E_INVALID, "InvalidParameter",
                                "  cannot be made public either");
                }
        }
}

/* ==== run-instances: §6.8, checked before anything is made ==== */

static void t_run(t_env *t)
{
        kiln_autofree char *snap = NULL;
        kiln_autofree char *id = image_with_snapshot(t->a, "runme", &snap);
        kiln_autofree char *psnap = plant_snapshot(t->a, NULL, NULL, NULL, false);
        const char *ps[] = {psnap};
        plant_image_spec pspec = {NULL, "run-pending", "pending", NULL, NULL, false, ps, 1};
        kiln_autofree char *pending = psnap ? plant_image(t->a, &pspec) : NULL;
        kiln_autofree char *gone = image_with_snapshot(t->a, "run-deregistered", NULL);
        long vols;

        if (!fixture(id && pending && gone, "run: available, pending and deregistered images of A"))
                return;
        {
                kiln_autoptr(kiln_error) e = NULL;

                kiln_image_deregister(t->a, gone, &e);
        }
        vols = plant_volume_count(t->a, NULL);
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_run_spec s = {"ami-nope",     NULL, NULL, NULL, 0, 1,    NULL,
                                   KILN_ACCEL_TCG, NULL, 0,    NULL, 0, NULL, NULL,
                                   NULL,           NULL, 0,    NULL, 0};
                kiln_instance *out = NULL;
                size_t n = 0;

                refused(kiln_instances_run(t->a, &s, &out, &n, &e), &e, KILN_E_INVALID,
                        "InvalidAMIID.Malformed", "launching a malformed image ID");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_run_spec s = {UNKNOWN,        NULL, NULL, NULL, 0, 1,    NULL,
                                   KILN_ACCEL_TCG, NULL, 0,    NULL, 0, NULL, NULL,
                                   NULL,           NULL, 0,    NULL, 0};
                kiln_instance *out = NULL;
                size_t n = 0;

                refused(kiln_instances_run(t->a, &s, &out, &n, &e), &e, KILN_E_NOT_FOUND,
                        "InvalidAMIID.NotFound", "launching an unknown image");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_run_spec s = {id,   NULL, NULL, NULL, 0,    1,    NULL, KILN_ACCEL_TCG,
                                   NULL, 0,    NULL, 0,    NULL, NULL, NULL, NULL,
                                   0,    NULL, 0};
                kiln_instance *out = NULL;
                size_t n = 0;
                kiln_autofree char *want = kiln_xasprintf("Not authorized for images: [%s]", id);

                refused(kiln_instances_run(t->b, &s, &out, &n, &e), &e, KILN_E_PERMISSION,
                        "AuthFailure", "launching an image not shared with the caller");
                like(e ? e->msg : NULL, want, "  in EC2's words");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_run_spec s = {pending,        NULL, NULL, NULL, 0, 1,    NULL,
                                   KILN_ACCEL_TCG, NULL, 0,    NULL, 0, NULL, NULL,
                                   NULL,           NULL, 0,    NULL, 0};
                kiln_instance *out = NULL;
                size_t n = 0;
                kiln_autofree char *want =
                        kiln_xasprintf("AMI '%s' is pending, and cannot be run", pending);

                refused(kiln_instances_run(t->a, &s, &out, &n, &e), &e, KILN_E_STATE,
                        "InvalidAMIID.Unavailable", "launching a pending image");
                like(e ? e->msg : NULL, want, "  in EC2's words");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_run_spec s = {gone,           NULL, NULL, NULL, 0, 1,    NULL,
                                   KILN_ACCEL_TCG, NULL, 0,    NULL, 0, NULL, NULL,
                                   NULL,           NULL, 0,    NULL, 0};
                kiln_instance *out = NULL;
                size_t n = 0;
                int rc = kiln_instances_run(t->a, &s, &out, &n, &e);

                ok(rc == -1 && e && e->api_code &&
                           strcmp(e->api_code, "InvalidAMIID.Unavailable") == 0,
                   "launching a deregistered image: InvalidAMIID.Unavailable (§6.1, §6.8)");
                if (rc == -1 && e && e->api_code)
                        printf("#   got: %s\n", e->api_code);
                ok(rc == -1, "  it is refused all the same");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_run_spec s = {id,   NULL, "nope", NULL, 0,    1,    NULL, KILN_ACCEL_TCG,
                                   NULL, 0,    NULL,   0,    NULL, NULL, NULL, NULL,
                                   0,    NULL, 0};
                kiln_instance *out = NULL;
                size_t n = 0;

                refused(kiln_instances_run(t->a, &s, &out, &n, &e), &e, KILN_E_NOT_FOUND,
                        "InvalidKeyPair.NotFound", "launching with an unknown key pair");
                like(e ? e->msg : NULL, "The key pair 'nope' does not exist", "  in EC2's words");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_run_spec s = {id,   NULL, NULL, NULL, 0,    21,   NULL, KILN_ACCEL_TCG,
                                   NULL, 0,    NULL, 0,    NULL, NULL, NULL, NULL,
                                   0,    NULL, 0};
                kiln_instance *out = NULL;
                size_t n = 0;

                refused(kiln_instances_run(t->a, &s, &out, &n, &e), &e, KILN_E_INVALID,
                        "InvalidParameterValue", "launching 21 instances at once (at most 20)");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_run_spec s = {id,   NULL, NULL, NULL, 0,    -1,   NULL, KILN_ACCEL_TCG,
                                   NULL, 0,    NULL, 0,    NULL, NULL, NULL, NULL,
                                   0,    NULL, 0};
                kiln_instance *out = NULL;
                size_t n = 0;

                refused(kiln_instances_run(t->a, &s, &out, &n, &e), &e, KILN_E_INVALID,
                        "InvalidParameterValue", "launching a negative count");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_instance_attribute_change c = {KILN_ATTR_INSTANCE_TYPE, false, "m9.huge", NULL,
                                                    0};

                refused(kiln_instance_attribute_modify(t->a, "i-0123456789abcdef0", &c, &e), &e,
                        KILN_E_INVALID, "InvalidParameterValue", "an unknown instance type");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_instance_attribute_change c = {KILN_ATTR_INSTANCE_TYPE, false, "t3.small",
                                                    NULL, 0};

                refused(kiln_instance_attribute_modify(t->a, "i-0123456789abcdef0", &c, &e), &e,
                        KILN_E_NOT_FOUND, "InvalidInstanceID.NotFound",
                        "another type for an unknown instance");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *big = kiln_xcalloc(16385, 1);
                kiln_run_spec s = {id,   NULL, NULL, NULL, 16385, 1,    NULL, KILN_ACCEL_TCG,
                                   NULL, 0,    NULL, 0,    NULL,  NULL, NULL, NULL,
                                   0,    NULL, 0};
                kiln_instance *out = NULL;
                size_t n = 0;

                memset(big, 'a', 16385);
                s.user_data = big;
                refused(kiln_instances_run(t->a, &s, &out, &n, &e), &e, KILN_E_LIMIT,
                        "InvalidUserData.Malformed", "launching with 16385 bytes of user data");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_run_spec s = {id,   "m9.huge", NULL, NULL, 0,    1,    NULL, KILN_ACCEL_TCG,
                                   NULL, 0,         NULL, 0,    NULL, NULL, NULL, NULL,
                                   0,    NULL,      0};
                kiln_instance *out = NULL;
                size_t n = 0;

                refused(kiln_instances_run(t->a, &s, &out, &n, &e), &e, KILN_E_INVALID,
                        "InvalidParameterValue", "launching an unknown instance type");
        }
        is_int(instance_count(t->a) + instance_count(t->b), 0,
               "no refused launch left an instance record");
        is_int(plant_volume_count(t->a, NULL), vols, "  nor a volume");
        is_int(instance_dirs(t), 0, "  nor an instance directory");

        /* Shared through the organization, the rules let C launch it: the launch gets as far as
         * the seed, which the test driver cannot upload, and is rolled back whole. */
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_run_spec s = {id,   NULL, NULL, NULL, 0,    2,    NULL, KILN_ACCEL_TCG,
                                   NULL, 0,    NULL, 0,    NULL, NULL, NULL, NULL,
                                   0,    NULL, 0};
                kiln_instance *out = NULL;
                size_t n = 0;
                int rc;

                launch_perm(t->a, id, true, perm(KILN_PERM_ORG, ORG_ARN), false, &e);
                rc = kiln_instances_run(t->c, &s, &out, &n, &e);
                if (rc == 0) {
                        /* A driver that uploads: the launch went through; take it down. */
                        const char *ids[2] = {NULL, NULL};
                        kiln_state_change *ch = NULL;
                        size_t nch = 0;

                        for (size_t i = 0; i < n && i < 2; i++)
                                ids[i] = out[i].instance_id;
                        kiln_instances_terminate(t->c, ids, n, &ch, &nch, &e);
                        kiln_state_changes_free(ch, nch);
                        kiln_instances_free(out, n);
                        ok(1, "# SKIP the test driver uploaded the seed: nothing to roll back");
                        return;
                }
                ok(e && !e->api_code && (e->code == KILN_E_LIBVIRT || e->code == KILN_E_IO),
                   "an organization member, without createVolumePermission, passes the rules: "
                   "the launch fails only at the seed upload");
                if (e)
                        printf("#   %s: %s\n", kiln_error_code_name(e->code), e->msg);
        }
        is_int(instance_count(t->c), 0, "  all or none: no instance record is left");
        is_int(plant_volume_count(t->a, NULL), vols, "  no volume (overlay or seed)");
        is_int(instance_dirs(t), 0, "  no instance directory");
}

/* ==== run-instances' BlockDeviceMappings: the refusals, made before anything ==== */

static kiln_mapping_spec mapping(const char *device, const char *snapshot, int64_t size,
                                 bool no_device)
{
        kiln_mapping_spec m = {device, snapshot, size, -1, NULL, no_device};

        return m;
}

static void t_mappings(t_env *t)
{
        kiln_autofree char *snap = NULL;
        kiln_autofree char *img = image_with_snapshot(t->a, "mapped", &snap);
        kiln_autofree char *other = plant_snapshot(t->b, NULL, NULL, NULL, false);
        long vols, insts;
        struct {
                kiln_mapping_spec m[2];
                size_t n;
                int code;
                const char *api;
                const char *what;
        } bad[] = {
                {{mapping("/dev/hda", NULL, 1, false)},
                 1,
                 KILN_E_INVALID,
                 "InvalidBlockDeviceMapping",
                 "a device name that is not EBS's"},
                {{mapping("/dev/sdf", NULL, 1, false), mapping("/dev/sdf", NULL, 2, false)},
                 2,
                 KILN_E_INVALID,
                 "InvalidBlockDeviceMapping",
                 "the same device twice"},
                {{mapping("/dev/sdf", NULL, 0, false)},
                 1,
                 KILN_E_INVALID,
                 "InvalidBlockDeviceMapping",
                 "an added volume with no size and no snapshot"},
                {{mapping("/dev/sdf", NULL, 16385, false)},
                 1,
                 KILN_E_INVALID,
                 "InvalidBlockDeviceMapping",
                 "16385 GiB"},
                {{mapping("/dev/vda", NULL, 0, true)},
                 1,
                 KILN_E_INVALID,
                 "InvalidBlockDeviceMapping",
                 "NoDevice on the root device"},
                {{mapping("/dev/sdf", "snap-0123456789abcdef0", 0, false)},
                 1,
                 KILN_E_NOT_FOUND,
                 "InvalidSnapshot.NotFound",
                 "an unknown snapshot"},
                {{mapping("/dev/sdf", other, 0, false)},
                 1,
                 KILN_E_NOT_FOUND,
                 "InvalidSnapshot.NotFound",
                 "another account's snapshot without createVolumePermission"},
                {{mapping("/dev/vda", other, 0, false)},
                 1,
                 KILN_E_INVALID,
                 "InvalidBlockDeviceMapping",
                 "another snapshot for the image's device"},
        };

        if (!fixture(img && snap && other, "mappings: an image of A and a snapshot of B"))
                return;
        vols = plant_volume_count(t->a, NULL);
        insts = instance_count(t->a);
        for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_run_spec s = {img,  NULL, NULL, NULL, 0,    1,    NULL, KILN_ACCEL_TCG,
                                   NULL, 0,    NULL, 0,    NULL, NULL, NULL, NULL,
                                   0,    NULL, 0};
                kiln_instance *out = NULL;
                size_t n = 0;

                s.mappings = bad[i].m;
                s.n_mappings = bad[i].n;
                refused(kiln_instances_run(t->a, &s, &out, &n, &e), &e, bad[i].code, bad[i].api,
                        bad[i].what);
        }
        is_int(instance_count(t->a), insts, "  the refused launches left no instance");
        is_int(plant_volume_count(t->a, NULL), vols, "  nor a volume");
}

/* ==== create-image: §6.2, the checks made before the instance is touched ==== */

static void t_create(t_env *t)
{
        kiln_autofree char *img = image_with_snapshot(t->a, "create-src", NULL);
        kiln_autofree char *gone = img ? plant_instance(t->a, img, "terminated") : NULL;
        kiln_create_image_spec spec = {0};

        if (!fixture(gone != NULL, "create-image: a terminated instance of A"))
                return;
        spec.instance_id = gone;
        spec.name = "create-new";
        spec.no_generalize = true;
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_bake_result r = {0};
                int rc = kiln_image_create(t->a, &spec, &r, &e);
                kiln_autofree char *want = kiln_xasprintf(
                        "Invalid value '%s' for instanceId. Instance is not in state 'running' "
                        "or 'stopping' or 'stopped'",
                        gone);

                ok(rc == -1 && e && e->api_code &&
                           strcmp(e->api_code, "InvalidParameterValue") == 0,
                   "baking a terminated instance: InvalidParameterValue (§6.1, §6.2)");
                if (e)
                        printf("#   got: %s\n", e->api_code ? e->api_code : e->msg);
                ok(rc == -1 && e && e->code == KILN_E_STATE, "  it is refused as a wrong state");
                like(e ? e->msg : NULL, want, "  in EC2's words");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_bake_result r = {0};

                spec.name = "create-src";
                refused(kiln_image_create(t->a, &spec, &r, &e), &e, KILN_E_EXISTS,
                        "InvalidAMIName.Duplicate", "baking under a name in use");
                spec.name = "create-new";
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_bake_result r = {0};

                spec.name = "x";
                refused(kiln_image_create(t->a, &spec, &r, &e), &e, KILN_E_INVALID,
                        "InvalidAMIName.Malformed", "baking under a name of 1 character");
                spec.name = "create-new";
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_bake_result r = {0};

                refused(kiln_image_create(t->b, &spec, &r, &e), &e, KILN_E_NOT_FOUND,
                        "InvalidInstanceID.NotFound", "baking another account's instance");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_bake_result r = {0};

                spec.instance_id = "i-nope";
                refused(kiln_image_create(t->a, &spec, &r, &e), &e, KILN_E_INVALID,
                        "InvalidInstanceID.Malformed", "baking a malformed instance ID");
                spec.instance_id = gone;
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_bake_result r = {0};

                spec.no_reboot = true;
                spec.no_generalize = false;
                refused(kiln_image_create(t->a, &spec, &r, &e), &e, KILN_E_INVALID,
                        "InvalidParameterCombination",
                        "--no-reboot without --no-generalize (a live disk cannot be generalized)");
        }
        {
                kiln_image_query q = {0};
                const char *v[] = {"create-new"};
                kiln_filter f = {"name", v, 1};

                q.filters = &f;
                q.n_filters = 1;
                is_int(count_named(t->a, &q, ""), 0, "no refused bake registered an image");
        }
}

/* ==== names and descriptions: §5, §6.1 ==== */

static void t_names(t_env *t)
{
        kiln_autofree char *snap = NULL;
        kiln_autofree char *id = image_with_snapshot(t->a, "names-src", &snap);
        char name[130];

        if (!fixture(id != NULL, "names: an image of A called names-src"))
                return;
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_copy_spec c = {"local", id, "web#1", NULL, false, NULL, false};
                char *out = NULL;

                refused(kiln_image_copy(t->a, &c, NULL, NULL, &out, &e), &e, KILN_E_INVALID,
                        "InvalidAMIName.Malformed", "a name with '#'");
                like(e ? e->msg : NULL, "AMI names must be between 3 and 128 characters long",
                     "  in EC2's words");
        }
        memset(name, 'n', 129);
        name[129] = '\0';
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_copy_spec c = {"local", id, name, NULL, false, NULL, false};
                char *out = NULL;

                refused(kiln_image_copy(t->a, &c, NULL, NULL, &out, &e), &e, KILN_E_INVALID,
                        "InvalidAMIName.Malformed", "a name of 129 characters");
        }
        name[128] = '\0';
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_copy_spec c = {"local", id, name, NULL, false, NULL, false};
                kiln_autofree char *out = NULL;

                succeeds(kiln_image_copy(t->a, &c, NULL, NULL, &out, &e), &e,
                         "a name of 128 characters");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_copy_spec c = {"local", id,    "web (v2) [x86_64]/base.img @2024 it's_ok-1",
                                    NULL,    false, NULL,
                                    false};
                kiln_autofree char *out = NULL;

                succeeds(kiln_image_copy(t->a, &c, NULL, NULL, &out, &e), &e,
                         "a name with every character EC2 allows");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_register_spec r = {0};
                char *out = NULL;

                r.name = "x!";
                r.disk_path = "/nonexistent.raw";
                refused(kiln_image_register(t->a, &r, NULL, NULL, &out, &e), &e, KILN_E_INVALID,
                        "InvalidAMIName.Malformed", "register-image checks the name first");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_copy_spec c = {"local", id, "names-src", NULL, false, NULL, false};
                char *out = NULL;

                refused(kiln_image_copy(t->a, &c, NULL, NULL, &out, &e), &e, KILN_E_EXISTS,
                        "InvalidAMIName.Duplicate", "a name in use in the region");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_copy_spec c = {"local", id, "names-src", NULL, false, NULL, false};
                kiln_autofree char *out = NULL;
                kiln_autofree char *src = NULL;

                /* The name is freed by deregistering: copy the source first to keep one. */
                kiln_copy_spec keep = {"local", id, "names-keep", NULL, false, NULL, false};

                succeeds(kiln_image_copy(t->a, &keep, NULL, NULL, &src, &e), &e,
                         "a copy called names-keep");
                kiln_image_deregister(t->a, id, &e);
                c.source_image_id = src;
                succeeds(src ? kiln_image_copy(t->a, &c, NULL, NULL, &out, &e) : -1, &e,
                         "the name of a deregistered image can be used again");
        }

        /* Descriptions: 0-255 characters, checked where they are written. */
        {
                kiln_autofree char *own = image_with_snapshot(t->a, "names-desc", NULL);
                char d[257];
                kiln_autofree char *accents = NULL;
                kiln_buf b = {0};

                memset(d, 'x', 256);
                d[256] = '\0';
                {
                        kiln_autoptr(kiln_error) e = NULL;

                        refused(kiln_image_modify_description(t->a, own, d, &e), &e, KILN_E_INVALID,
                                "InvalidParameterValue", "a description of 256 characters");
                }
                d[255] = '\0';
                {
                        kiln_autoptr(kiln_error) e = NULL;

                        succeeds(kiln_image_modify_description(t->a, own, d, &e), &e,
                                 "a description of 255 characters");
                }
                for (int i = 0; i < 255; i++)
                        kiln_buf_append(&b, "\xc3\xa9", 2);
                accents = kiln_buf_steal(&b);
                {
                        kiln_autoptr(kiln_error) e = NULL;

                        succeeds(kiln_image_modify_description(t->a, own, accents, &e), &e,
                                 "255 characters of two bytes each (characters are counted)");
                }
                {
                        kiln_autoptr(kiln_error) e = NULL;

                        refused(kiln_image_modify_description(t->a, own, "bell\x07", &e), &e,
                                KILN_E_INVALID, "InvalidParameterValue",
                                "a description with a control character");
                }
                {
                        kiln_autoptr(kiln_error) e = NULL;
                        kiln_copy_spec c = {"local", own, "names-desc-copy", d, false, NULL, false};
                        char *out = NULL;

                        d[255] = 'x';
                        refused(kiln_image_copy(t->a, &c, NULL, NULL, &out, &e), &e, KILN_E_INVALID,
                                "InvalidParameterValue",
                                "copy-image with a description of 256 characters");
                }
                {
                        kiln_autoptr(kiln_error) e = NULL;
                        kiln_image_attribute a = {0};

                        kiln_image_attribute_describe(t->a, own, "description", &a, &e);
                        is_str(a.description, accents,
                               "the description read back is the last "
                               "one accepted");
                        kiln_image_attribute_clear(&a);
                }
        }
}

/* ==== filters and IDs: §6.7 ==== */

static void t_filters(t_env *t)
{
        kiln_autofree char *web1 = image_with_snapshot(t->a, "flt-web-1", NULL);
        kiln_autofree char *web2 = image_with_snapshot(t->a, "flt-web-2", NULL);
        kiln_autofree char *s3 = plant_snapshot(t->a, NULL, NULL, NULL, false);
        const char *snaps[] = {s3};
        plant_image_spec spec = {NULL, "flt-db-1", NULL, "database", NULL, false, snaps, 1};
        kiln_autofree char *db1 = s3 ? plant_image(t->a, &spec) : NULL;
        kiln_image_query q = {0};

        if (!fixture(web1 && web2 && db1, "filters: flt-web-1, flt-web-2 (public) and flt-db-1"))
                return;
        {
                kiln_autoptr(kiln_error) e = NULL;

                launch_perm(t->a, web2, true, perm(KILN_PERM_ALL, NULL), false, &e);
        }
        q.n_filters = 1;
        {
                const char *v[] = {"flt-web-*"};
                kiln_filter f = {"name", v, 1};

                q.filters = &f;
                is_int(count_named(t->a, &q, "flt-"), 2, "name flt-web-* (a wildcard)");
        }
        {
                const char *v[] = {"flt-web-1?"};
                kiln_filter f = {"name", v, 1};

                q.filters = &f;
                is_int(count_named(t->a, &q, "flt-"), 1, "'?' matches zero characters too");
        }
        {
                const char *v[] = {"FLT-*"};
                kiln_filter f = {"name", v, 1};

                q.filters = &f;
                is_int(count_named(t->a, &q, "flt-"), 0, "matching is case-sensitive");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                const char *v[] = {"lit*star"};
                kiln_filter f = {"description", v, 1};

                kiln_image_modify_description(t->a, web1, "lit*star", &e);
                kiln_image_modify_description(t->a, web2, "litXstar", &e);
                q.filters = &f;
                is_int(count_named(t->a, &q, "flt-"), 2, "description lit*star matches both");
                v[0] = "lit\\*star";
                ok(count_named(t->a, &q, "flt-") == 1 && lists(t->a, &q, web1) == 1,
                   "description lit\\*star: an escaped '*' matches only a star");
        }
        {
                const char *v[] = {"flt-web-1", "flt-db-1"};
                kiln_filter f = {"name", v, 2};

                q.filters = &f;
                is_int(count_named(t->a, &q, "flt-"), 2, "the values of a filter are ORed");
        }
        {
                const char *v1[] = {"flt-*"};
                const char *v2[] = {"data*"};
                kiln_filter f[] = {{"name", v1, 1}, {"description", v2, 1}};

                q.filters = f;
                q.n_filters = 2;
                is_int(count_named(t->a, &q, "flt-"), 1, "separate filters are ANDed");
                q.n_filters = 1;
        }
        {
                const char *v[] = {"true"};
                kiln_filter f = {"is-public", v, 1};

                q.filters = &f;
                ok(count_named(t->a, &q, "flt-") == 1 && lists(t->a, &q, web2) == 1,
                   "is-public true: the public one");
                v[0] = "false";
                is_int(count_named(t->a, &q, "flt-"), 2, "is-public false: the two others");
        }
        {
                const char *v[] = {ACCT_A};
                kiln_filter f = {"owner-id", v, 1};

                q.filters = &f;
                ok(count_named(t->b, &q, "flt-") == 1 && lists(t->b, &q, web2) == 1,
                   "owner-id A, asked by B: only A's public image");
                v[0] = ACCT_B;
                is_int(count_named(t->b, &q, "flt-"), 0, "owner-id B, asked by B: none");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                const char *v[] = {"red"};
                kiln_filter f = {"colour", v, 1};
                kiln_image *imgs = NULL;
                size_t n = 0;

                q.filters = &f;
                refused(kiln_images_describe(t->a, &q, &imgs, &n, &e), &e, KILN_E_INVALID,
                        "InvalidFilter", "an unknown filter");
                like(e ? e->msg : NULL, "The filter 'colour' is invalid", "  in EC2's words");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                const char *v[] = {"red"};
                kiln_filter f = {"colour", v, 1};
                kiln_snapshot_query sq = {NULL, 0, NULL, 0, NULL, 0, &f, 1};
                kiln_snapshot *s = NULL;
                size_t n = 0;

                refused(kiln_snapshots_describe(t->a, &sq, &s, &n, &e), &e, KILN_E_INVALID,
                        "InvalidFilter", "describe-snapshots with an unknown filter");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_image img = {0};

                refused(describe_one(t->a, "ami-xyz", &img, &e), &e, KILN_E_INVALID,
                        "InvalidAMIID.Malformed", "describe-images with a malformed ID");
                like(e ? e->msg : NULL, "Invalid id: \"ami-xyz\" (expecting \"ami-...\")",
                     "  in EC2's words");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_image img = {0};

                refused(describe_one(t->a, UNKNOWN, &img, &e), &e, KILN_E_NOT_FOUND,
                        "InvalidAMIID.NotFound", "describe-images with an unknown ID");
        }
}

/* ==== the caller: accounts and regions of the configuration ==== */

static void t_context(t_env *t)
{
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_ctx_options o = {t->home, NULL, "999999999999"};
                kiln_autoptr(kiln_ctx) ctx = NULL;

                refused(kiln_ctx_new(&o, &ctx, &e), &e, KILN_E_PERMISSION, "AuthFailure",
                        "an account the configuration does not list");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_ctx_options o = {t->home, NULL, "12345"};
                kiln_autoptr(kiln_ctx) ctx = NULL;

                refused(kiln_ctx_new(&o, &ctx, &e), &e, KILN_E_INVALID, "InvalidUserID.Malformed",
                        "an account ID that is not 12 digits");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_ctx_options o = {t->home, "mars", ACCT_A};
                kiln_autoptr(kiln_ctx) ctx = NULL;

                refused(kiln_ctx_new(&o, &ctx, &e), &e, KILN_E_INVALID, "InvalidRegion",
                        "a region the configuration does not list");
        }
}

/* ==== tags: CreateTags, DeleteTags, DescribeTags, TagSpecifications, tag filters ==== */

static kiln_tag tag(const char *key, const char *value)
{
        kiln_tag x = {(char *) key, (char *) value};

        return x;
}

/* The value of key on resource id as describe-tags shows it to ctx, or NULL. */
static char *tag_value(kiln_ctx *ctx, const char *id, const char *key)
{
        kiln_autoptr(kiln_error) e = NULL;
        const char *ids[] = {id}, *keys[] = {key};
        kiln_filter f[] = {{"resource-id", ids, 1}, {"key", keys, 1}};
        kiln_tag_description *d = NULL;
        size_t n = 0;
        char *v = NULL;

        if (kiln_tags_describe(ctx, f, 2, &d, &n, &e) < 0) {
                printf("#   describe-tags: %s\n", e->msg);
                return NULL;
        }
        if (n == 1)
                v = kiln_xstrdup(d[0].value);
        kiln_tag_descriptions_free(d, n);
        return v;
}

static size_t tag_count(kiln_ctx *ctx, const kiln_filter *f, size_t n_f)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_tag_description *d = NULL;
        size_t n = 0;

        if (kiln_tags_describe(ctx, f, n_f, &d, &n, &e) < 0) {
                printf("#   describe-tags: %s\n", e->msg);
                return (size_t) -1;
        }
        kiln_tag_descriptions_free(d, n);
        return n;
}

static void t_tags_limits(t_env *t, const char *img)
{
        const char *ids[] = {img};
        char key128[129], key129[130], val256[257], val257[258];

        memset(key128, 'k', 128);
        key128[128] = '\0';
        memset(key129, 'k', 129);
        key129[129] = '\0';
        memset(val256, 'v', 256);
        val256[256] = '\0';
        memset(val257, 'v', 257);
        val257[257] = '\0';
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_tag x = tag(key128, val256);

                succeeds(kiln_tags_create(t->a, ids, 1, &x, 1, &e), &e,
                         "a 128-character key with a 256-character value");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_tag x = tag(key129, "v");

                refused(kiln_tags_create(t->a, ids, 1, &x, 1, &e), &e, KILN_E_INVALID,
                        "InvalidParameterValue", "a 129-character key");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_tag x = tag("k", val257);

                refused(kiln_tags_create(t->a, ids, 1, &x, 1, &e), &e, KILN_E_INVALID,
                        "InvalidParameterValue", "a 257-character value");
        }
        {
                const char *reserved[] = {"aws:name", "AWS:x", "kiln:generalized", "Kiln:x", ""};

                for (size_t i = 0; i < KILN_ARRAY_SIZE(reserved); i++) {
                        kiln_autoptr(kiln_error) e = NULL;
                        kiln_tag x = tag(reserved[i], "v");
                        kiln_autofree char *what = kiln_xasprintf("the key '%s'", reserved[i]);

                        refused(kiln_tags_create(t->a, ids, 1, &x, 1, &e), &e, KILN_E_INVALID,
                                "InvalidParameterValue", what);
                }
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_tag x = tag("bell", "ring\a");

                refused(kiln_tags_create(t->a, ids, 1, &x, 1, &e), &e, KILN_E_INVALID,
                        "InvalidParameterValue", "a value with a control character");
        }
        {
                /* 49 more make 50 with the 128-character key: allowed; one more is not. */
                kiln_tag many[50];
                char keys[50][8];
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autoptr(kiln_error) e2 = NULL;

                for (size_t i = 0; i < 50; i++) {
                        snprintf(keys[i], sizeof(keys[i]), "n%02zu", i);
                        many[i] = tag(keys[i], "x");
                }
                succeeds(kiln_tags_create(t->a, ids, 1, many, 49, &e), &e,
                         "49 more tags: 50 in all");
                refused(kiln_tags_create(t->a, ids, 1, &many[49], 1, &e2), &e2, KILN_E_LIMIT,
                        "TagLimitExceeded", "a 51st tag");
        }
        {
                const char *v[] = {"x"};
                const char *rid[] = {img};
                kiln_filter f[] = {{"resource-id", rid, 1}, {"value", v, 1}};

                is_int((long) tag_count(t->a, f, 2), 49, "the 51st was not written");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                succeeds(kiln_tags_delete(t->a, ids, 1, NULL, 0, &e), &e,
                         "delete-tags with no tags removes them all");
        }
}

static void t_tags_kinds(t_env *t, const char *img, const char *snap, const char *inst,
                         const char *key_id)
{
        const char *all[] = {img, snap, inst, key_id};
        kiln_tag x[] = {tag("team", "web"), tag("stage", "")};
        kiln_autofree char *v = NULL;

        {
                kiln_autoptr(kiln_error) e = NULL;

                succeeds(kiln_tags_create(t->a, all, 4, x, 2, &e), &e,
                         "create-tags on an image, a snapshot, an instance and a key pair");
        }
        {
                const char *types[] = {"image", "snapshot", "instance", "key-pair"};

                for (size_t i = 0; i < 4; i++) {
                        const char *ty[] = {types[i]};
                        const char *k[] = {"team"};
                        kiln_filter f[] = {{"resource-type", ty, 1}, {"key", k, 1}};

                        is_int((long) tag_count(t->a, f, 2), 1, "describe-tags finds the %s",
                               types[i]);
                }
        }
        v = tag_value(t->a, inst, "stage");
        is_str(v, "", "an empty value is kept as \"\"");
        {
                const char *k[] = {"team"};
                kiln_filter f = {"key", k, 1};

                is_int((long) tag_count(t->b, &f, 1), 0, "another account sees none of them");
        }
        {
                const char *k[] = {"t?am"}, *vv[] = {"w*"};
                kiln_filter f[] = {{"key", k, 1}, {"value", vv, 1}};

                is_int((long) tag_count(t->a, f, 2), 4, "key and value filters take wildcards");
        }
        {
                const char *vv[] = {"web"};
                kiln_filter f = {"tag:team", vv, 1};

                is_int((long) tag_count(t->a, &f, 1), 4, "describe-tags takes tag:KEY");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                const char *k[] = {"team"};
                kiln_filter f = {"owner-id", k, 1};
                kiln_tag_description *d = NULL;
                size_t n = 0;

                refused(kiln_tags_describe(t->a, &f, 1, &d, &n, &e), &e, KILN_E_INVALID,
                        "InvalidFilter", "describe-tags refuses a filter it does not know");
        }
        /* delete-tags: with a value only if it matches; without, whatever it is. */
        {
                kiln_autoptr(kiln_error) e = NULL;
                const char *one[] = {img};
                kiln_tag d = tag("team", "db");

                succeeds(kiln_tags_delete(t->a, one, 1, &d, 1, &e), &e,
                         "delete-tags with another value");
                free(v);
                v = tag_value(t->a, img, "team");
                is_str(v, "web", "leaves the tag");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                const char *one[] = {img};
                kiln_tag d = tag("team", NULL);

                succeeds(kiln_tags_delete(t->a, one, 1, &d, 1, &e), &e,
                         "delete-tags with the key only");
                free(v);
                v = tag_value(t->a, img, "team");
                ok(v == NULL, "removes it whatever its value");
        }
}

static void t_tags_refusals(t_env *t, const char *img, const char *snap, const char *inst)
{
        kiln_tag x = tag("team", "web");
        struct {
                const char *id;
                int code;
                const char *api;
                const char *what;
        } bad[] = {
                {"ami-0123456789abcdef0", KILN_E_NOT_FOUND, "InvalidAMIID.NotFound",
                 "an unknown image"},
                {"snap-0123456789abcdef0", KILN_E_NOT_FOUND, "InvalidSnapshot.NotFound",
                 "an unknown snapshot"},
                {"i-0123456789abcdef0", KILN_E_NOT_FOUND, "InvalidInstanceID.NotFound",
                 "an unknown instance"},
                {"vol-0123456789abcdef0", KILN_E_NOT_FOUND, "InvalidVolume.NotFound",
                 "an unknown volume"},
                {"key-0123456789abcdef0", KILN_E_NOT_FOUND, "InvalidKeyPair.NotFound",
                 "an unknown key pair"},
                {"i-xyz", KILN_E_INVALID, "InvalidInstanceID.Malformed", "a malformed instance ID"},
                {"sg-0123456789abcdef0", KILN_E_INVALID, "InvalidID", "a kind kiln does not tag"},
        };

        for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
                kiln_autoptr(kiln_error) e = NULL;
                const char *ids[] = {img, bad[i].id};

                refused(kiln_tags_create(t->a, ids, 2, &x, 1, &e), &e, bad[i].code, bad[i].api,
                        bad[i].what);
        }
        {
                kiln_autofree char *v = tag_value(t->a, img, "team");

                ok(v == NULL, "a refused create-tags tags none of the resources (all or none)");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                const char *ids[] = {snap, inst};

                refused(kiln_tags_create(t->b, ids, 2, &x, 1, &e), &e, KILN_E_NOT_FOUND,
                        "InvalidSnapshot.NotFound", "another account's snapshot");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                const char *ids[] = {img};

                launch_perm(t->a, img, true, perm(KILN_PERM_ALL, NULL), false, &e);
                kiln_error_free(kiln_steal(&e));
                refused(kiln_tags_create(t->b, ids, 1, &x, 1, &e), &e, KILN_E_PERMISSION,
                        "AuthFailure", "a public image of another account");
                kiln_error_free(kiln_steal(&e));
                launch_perm(t->a, img, false, perm(KILN_PERM_ALL, NULL), false, &e);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(kiln_tags_create(t->a, NULL, 0, &x, 1, &e), &e, KILN_E_INVALID,
                        "MissingParameter", "no resource");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                const char *ids[] = {img};

                refused(kiln_tags_create(t->a, ids, 1, NULL, 0, &e), &e, KILN_E_INVALID,
                        "MissingParameter", "create-tags without tags");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                const char *ids[] = {inst};
                kiln_tag r = tag("aws:x", NULL);

                refused(kiln_tags_delete(t->a, ids, 1, &r, 1, &e), &e, KILN_E_INVALID,
                        "InvalidParameterValue", "delete-tags of a reserved key");
        }
}

/* The tag filters on each describe verb, and TagSpecifications on a key pair. */
static void t_tags_filters(t_env *t, const char *img, const char *snap, const char *inst)
{
        const char *all[] = {img, snap, inst};
        kiln_tag x = tag("flt-role", "cache");
        const char *k[] = {"flt-role"}, *vv[] = {"cach?"}, *none[] = {"nothing"};
        kiln_filter fk = {"tag-key", k, 1}, fv = {"tag-value", vv, 1},
                    fkv = {"tag:flt-role", vv, 1}, fn = {"tag:flt-role", none, 1};
        kiln_filter *fs[] = {&fk, &fv, &fkv};
        const char *names[] = {"tag-key", "tag-value", "tag:KEY"};

        {
                kiln_autoptr(kiln_error) e = NULL;

                succeeds(kiln_tags_create(t->a, all, 3, &x, 1, &e), &e, "tags for the filters");
        }
        for (size_t i = 0; i < KILN_ARRAY_SIZE(fs); i++) {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_image_query iq = {0};
                kiln_snapshot_query sq = {0};
                kiln_image *imgs = NULL;
                kiln_snapshot *snaps = NULL;
                kiln_instance *insts = NULL;
                size_t ni = 0, ns = 0, nn = 0;

                iq.filters = sq.filters = fs[i];
                iq.n_filters = sq.n_filters = 1;
                kiln_images_describe(t->a, &iq, &imgs, &ni, &e);
                kiln_snapshots_describe(t->a, &sq, &snaps, &ns, &e);
                kiln_instances_describe(t->a, NULL, 0, fs[i], 1, &insts, &nn, &e);
                ok(!e && ni == 1 && strcmp(imgs[0].image_id, img) == 0 && ns == 1 &&
                           strcmp(snaps[0].snapshot_id, snap) == 0 && nn == 1 &&
                           strcmp(insts[0].instance_id, inst) == 0,
                   "%s finds the one image, snapshot and instance", names[i]);
                if (nn == 1)
                        ok(insts[0].n_tags == 1 && strcmp(insts[0].tags[0].key, "flt-role") == 0,
                           "%s: the instance carries its tags", names[i]);
                kiln_images_free(imgs, ni);
                kiln_snapshots_free(snaps, ns);
                kiln_instances_free(insts, nn);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_instance *insts = NULL;
                size_t nn = 0;

                kiln_instances_describe(t->a, NULL, 0, &fn, 1, &insts, &nn, &e);
                is_int((long) nn, 0, "a value no tag has finds nothing");
                kiln_instances_free(insts, nn);
        }
}

static void t_tags_keypairs(t_env *t)
{
        static const char *const line =
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBwXYWfGuZbiE5JGCnxd3fhl8E0v1sGFWt0dg+I6mNpB";
        kiln_tag good[] = {tag("owner", "ops"), tag("env", "test")};
        kiln_tag twice[] = {tag("owner", "a"), tag("owner", "b")};
        kiln_tag_spec ok_spec = {"key-pair", good, 2};
        struct {
                kiln_tag_spec specs[2];
                size_t n;
                int code;
                const char *api;
                const char *what;
        } bad[] = {
                {{{"instance", good, 2}},
                 1,
                 KILN_E_INVALID,
                 "InvalidParameterValue",
                 "TagSpecifications for an instance on a key pair"},
                {{{"spaceship", good, 2}},
                 1,
                 KILN_E_INVALID,
                 "InvalidParameterValue",
                 "an unknown resource type"},
                {{{"key-pair", good, 2}, {"key-pair", good, 1}},
                 2,
                 KILN_E_INVALID,
                 "InvalidParameterValue",
                 "the same resource type twice"},
                {{{"key-pair", twice, 2}},
                 1,
                 KILN_E_INVALID,
                 "InvalidParameterValue",
                 "the same key twice"},
        };
        kiln_keypair kp = {0};

        for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_keypair none = {0};

                refused(kiln_keypair_import(t->a, "tagged", line, bad[i].specs, bad[i].n, &none,
                                            &e),
                        &e, bad[i].code, bad[i].api, bad[i].what);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                const char *k[] = {"owner"};
                kiln_filter f = {"key", k, 1};

                is_int((long) tag_count(t->a, &f, 1), 0, "refused imports registered nothing");
                succeeds(kiln_keypair_import(t->a, "tagged", line, &ok_spec, 1, &kp, &e), &e,
                         "import-key-pair with TagSpecifications");
        }
        ok(kp.n_tags == 2 && strcmp(kp.tags[0].key, "env") == 0 &&
                   strcmp(kp.tags[1].value, "ops") == 0,
           "the new key pair carries its tags");
        {
                kiln_autoptr(kiln_error) e = NULL;
                const char *v[] = {"ops"};
                kiln_filter f = {"tag:owner", v, 1};
                kiln_keypair_query q = {0};
                kiln_keypair *kps = NULL;
                size_t n = 0;

                q.filters = &f;
                q.n_filters = 1;
                kiln_keypairs_describe(t->a, &q, &kps, &n, &e);
                ok(!e && n == 1 && strcmp(kps[0].key_name, "tagged") == 0,
                   "describe-key-pairs takes tag:KEY");
                kiln_keypairs_free(kps, n);
        }
        kiln_keypair_clear(&kp);
}

static void t_tags(t_env *t)
{
        kiln_autofree char *snap = NULL;
        kiln_autofree char *img = image_with_snapshot(t->a, "tagged-image", &snap);
        kiln_autofree char *img2 = image_with_snapshot(t->a, "tagged-filters", NULL);
        kiln_autofree char *inst = img ? plant_instance(t->a, img, "stopped") : NULL;
        kiln_autofree char *snap2 = plant_snapshot(t->a, NULL, NULL, NULL, false);
        kiln_autofree char *inst2 = img ? plant_instance(t->a, img, "running") : NULL;
        kiln_keypair kp = {0};

        {
                kiln_autoptr(kiln_error) e = NULL;
                static const char *const line = "ssh-ed25519 "
                                                "AAAAC3NzaC1lZDI1NTE5AAAAIHxL0ZXW0cT1zVh6Qy1Wq2K"
                                                "bJ9nqS3o1Xm8a0f6mE4yB";

                kiln_keypair_import(t->a, "tag-target", line, NULL, 0, &kp, &e);
                if (e)
                        printf("# import: %s\n", e->msg);
        }
        if (!fixture(img && snap && img2 && inst && snap2 && inst2 && kp.key_pair_id,
                     "tags: images, snapshots, instances and a key pair of A"))
                goto out;
        t_tags_limits(t, img);
        t_tags_kinds(t, img, snap, inst, kp.key_pair_id);
        t_tags_refusals(t, img, snap, inst);
        t_tags_filters(t, img2, snap2, inst2);
        t_tags_keypairs(t);
out:
        kiln_keypair_clear(&kp);
}

/* ==== volumes: create, describe, delete, attach and detach (before the domain) ==== */

static kiln_volume_spec volume_spec(int64_t size, const char *snapshot_id)
{
        kiln_volume_spec v = {size, snapshot_id, NULL, NULL, NULL, 0, NULL};

        return v;
}

static void t_volumes_create(t_env *t, const char *snap, char **ret_empty, char **ret_from)
{
        kiln_tag x = tag("use", "data");
        kiln_tag_spec ts = {"volume", &x, 1};
        long before = plant_volume_count(t->a, NULL);
        struct {
                kiln_volume_spec spec;
                int code;
                const char *api;
                const char *what;
        } bad[] = {
                {volume_spec(0, NULL), KILN_E_INVALID, "MissingParameter", "no size, no snapshot"},
                {volume_spec(16385, NULL), KILN_E_INVALID, "InvalidParameterValue", "16385 GiB"},
                {volume_spec(-1, NULL), KILN_E_INVALID, "InvalidParameterValue", "a negative size"},
                {volume_spec(0, "snap-0123456789abcdef0"), KILN_E_NOT_FOUND,
                 "InvalidSnapshot.NotFound", "an unknown snapshot"},
                {volume_spec(0, "snap-nope"), KILN_E_INVALID, "InvalidSnapshotID.Malformed",
                 "a malformed snapshot ID"},
        };

        for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_volume v = {0};

                refused(kiln_volume_create(t->a, &bad[i].spec, &v, &e), &e, bad[i].code, bad[i].api,
                        bad[i].what);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_volume_spec sp = volume_spec(1, NULL);
                kiln_volume v = {0};

                sp.volume_type = "fast";
                refused(kiln_volume_create(t->a, &sp, &v, &e), &e, KILN_E_INVALID,
                        "InvalidParameterValue", "an unknown volume type");
                sp.volume_type = NULL;
                sp.availability_zone = "mars1a";
                kiln_error_free(kiln_steal(&e));
                refused(kiln_volume_create(t->a, &sp, &v, &e), &e, KILN_E_INVALID,
                        "InvalidParameterValue", "another availability zone");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_volume v = {0};
                kiln_volume_spec sp = volume_spec(0, snap);

                refused(kiln_volume_create(t->b, &sp, &v, &e), &e, KILN_E_NOT_FOUND,
                        "InvalidSnapshot.NotFound",
                        "another account's snapshot without createVolumePermission");
        }
        is_int(plant_volume_count(t->a, NULL), before, "refused creates left no file");
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_volume v = {0};
                kiln_volume_spec sp = volume_spec(2, NULL);

                sp.volume_type = "gp3";
                sp.availability_zone = "locala";
                sp.tag_specs = &ts;
                sp.n_tag_specs = 1;
                succeeds(kiln_volume_create(t->a, &sp, &v, &e), &e, "an empty 2 GiB gp3 volume");
                ok(v.state && strcmp(v.state, "available") == 0 && v.size == 2 &&
                           strcmp(v.volume_type, "gp3") == 0 && !v.snapshot_id && !v.instance_id,
                   "available, 2 GiB, gp3, from no snapshot, not attached");
                ok(v.n_tags == 1 && strcmp(v.tags[0].value, "data") == 0,
                   "with its tags from TagSpecifications");
                {
                        kiln_autofree char *file = kiln_xasprintf("%s.qcow2", v.volume_id);

                        ok(plant_volume_exists(t->a, NULL, file), "and its file in the pool");
                }
                *ret_empty = kiln_steal(&v.volume_id);
                kiln_volume_clear(&v);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_volume v = {0};
                kiln_volume_spec sp = volume_spec(0, snap);

                succeeds(kiln_volume_create(t->a, &sp, &v, &e), &e, "a volume from a snapshot");
                ok(v.size == 1 && v.snapshot_id && strcmp(v.snapshot_id, snap) == 0,
                   "the snapshot's size (1 GiB) and its ID");
                *ret_from = kiln_steal(&v.volume_id);
                kiln_volume_clear(&v);
        }
}

static size_t volumes_matching(kiln_ctx *ctx, const char *name, const char *value)
{
        kiln_autoptr(kiln_error) e = NULL;
        const char *v[] = {value};
        kiln_filter f = {name, v, 1};
        kiln_volume *list = NULL;
        size_t n = 0;

        if (kiln_volumes_describe(ctx, NULL, 0, &f, 1, &list, &n, &e) < 0) {
                printf("#   describe-volumes: %s\n", e->msg);
                return (size_t) -1;
        }
        kiln_volumes_free(list, n);
        return n;
}

static void t_volumes_attach(t_env *t, const char *empty, const char *inst, const char *pending)
{
        struct {
                const char *vol, *inst, *device;
                int code;
                const char *api;
                const char *what;
        } bad[] = {
                {empty, inst, "/dev/sda", KILN_E_INVALID, "InvalidParameterValue",
                 "the root's letter"},
                {empty, inst, "/dev/hdf", KILN_E_INVALID, "InvalidParameterValue",
                 "a device name that is not EBS's"},
                {empty, inst, "/dev/vda", KILN_E_INVALID, "InvalidParameterValue",
                 "the root device itself"},
                {empty, pending, "/dev/sdf", KILN_E_STATE, "IncorrectState",
                 "an instance that is pending"},
                {empty, "i-0123456789abcdef0", "/dev/sdf", KILN_E_NOT_FOUND,
                 "InvalidInstanceID.NotFound", "an unknown instance"},
                {"vol-0123456789abcdef0", inst, "/dev/sdf", KILN_E_NOT_FOUND,
                 "InvalidVolume.NotFound", "an unknown volume"},
                {"vol-x", inst, "/dev/sdf", KILN_E_INVALID, "InvalidVolumeID.Malformed",
                 "a malformed volume ID"},
        };

        for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_volume v = {0};

                refused(kiln_volume_attach(t->a, bad[i].vol, bad[i].inst, bad[i].device, &v, &e),
                        &e, bad[i].code, bad[i].api, bad[i].what);
        }
        {
                /* The planted instance has no domain: the attach is undone. */
                kiln_autoptr(kiln_error) e = NULL;
                kiln_volume v = {0};
                int rc = kiln_volume_attach(t->a, empty, inst, "/dev/sdf", &v, &e);

                ok(rc == -1 && e, "an attach whose domain cannot be changed fails");
                is_int((long) volumes_matching(t->a, "status", "available"), 2,
                       "and leaves the volume available");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_volume v = {0};

                refused(kiln_volume_detach(t->a, empty, NULL, NULL, false, &v, &e), &e,
                        KILN_E_STATE, "IncorrectState", "detaching a volume that is not attached");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_volume v = {0};

                refused(kiln_volume_attach(t->b, empty, inst, "/dev/sdf", &v, &e), &e,
                        KILN_E_NOT_FOUND, "InvalidVolume.NotFound", "another account's volume");
        }
}

/* create-snapshot of a detached volume: the overlay is frozen, the volume continues on a fresh
 * one, and the next snapshot's parent is the first. */
static size_t own_snapshots(kiln_ctx *ctx)
{
        kiln_autoptr(kiln_error) e = NULL;
        const char *self[] = {"self"};
        kiln_snapshot_query q = {NULL, 0, self, 1, NULL, 0, NULL, 0};
        kiln_snapshot *s = NULL;
        size_t n = 0;

        if (kiln_snapshots_describe(ctx, &q, &s, &n, &e) < 0)
                return (size_t) -1;
        kiln_snapshots_free(s, n);
        return n;
}

/* CreateVolume's ClientToken: the same request gets the same volume; another request with the
 * token is refused. */
static void t_volumes_token(t_env *t)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_volume_spec sp = volume_spec(1, NULL);
        kiln_volume a = {0}, b = {0}, c = {0};
        long files;

        sp.client_token = "volume-token-1";
        succeeds(kiln_volume_create(t->a, &sp, &a, &e), &e, "create-volume with a ClientToken");
        files = plant_volume_count(t->a, NULL);
        succeeds(kiln_volume_create(t->a, &sp, &b, &e), &e, "  the same request again");
        ok(a.volume_id && b.volume_id && strcmp(a.volume_id, b.volume_id) == 0,
           "  gets the same volume");
        is_int(plant_volume_count(t->a, NULL), files, "  and makes no file");
        sp.size = 2;
        refused(kiln_volume_create(t->a, &sp, &c, &e), &e, KILN_E_INVALID,
                "IdempotentParameterMismatch", "  the token with another size");
        sp.size = 1;
        sp.client_token = "";
        kiln_error_free(kiln_steal(&e));
        refused(kiln_volume_create(t->a, &sp, &c, &e), &e, KILN_E_INVALID, "InvalidParameterValue",
                "an empty ClientToken");
        if (a.volume_id)
                kiln_volume_delete(t->a, a.volume_id, NULL);
        kiln_volume_clear(&a);
        kiln_volume_clear(&b);
}

static void t_volumes_snapshot(t_env *t, const char *empty)
{
        kiln_tag x = tag("when", "nightly");
        kiln_tag_spec ts = {"snapshot", &x, 1}, wrong = {"image", &x, 1};
        kiln_autofree char *long_text = kiln_xcalloc(257, 1);
        size_t before = own_snapshots(t->a);
        long files = plant_volume_count(t->a, NULL);
        kiln_snapshot first = {0}, second = {0};
        struct {
                kiln_snapshot_spec spec;
                int code;
                const char *api;
                const char *what;
        } bad[] = {
                {{.volume_id = "vol-x"},
                 KILN_E_INVALID,
                 "InvalidVolumeID.Malformed",
                 "a malformed volume ID"},
                {{.volume_id = NULL}, KILN_E_INVALID, "InvalidVolumeID.Malformed", "no volume"},
                {{.volume_id = "vol-0123456789abcdef0"},
                 KILN_E_NOT_FOUND,
                 "InvalidVolume.NotFound",
                 "an unknown volume"},
                {{.volume_id = empty, .tag_specs = &wrong, .n_tag_specs = 1},
                 KILN_E_INVALID,
                 "InvalidParameterValue",
                 "tags for an image"},
                {{.volume_id = empty, .description = long_text},
                 KILN_E_INVALID,
                 "InvalidParameterValue",
                 "a description of 256 characters and more"},
        };

        memset(long_text, 'd', 256);
        for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_snapshot s = {0};

                refused(kiln_snapshot_create(t->a, &bad[i].spec, &s, &e), &e, bad[i].code,
                        bad[i].api, bad[i].what);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_snapshot_spec sp = {.volume_id = empty};
                kiln_snapshot s = {0};

                refused(kiln_snapshot_create(t->b, &sp, &s, &e), &e, KILN_E_NOT_FOUND,
                        "InvalidVolume.NotFound", "another account's volume");
        }
        is_int((long) own_snapshots(t->a), (long) before, "refused snapshots recorded nothing");
        is_int(plant_volume_count(t->a, NULL), files, "and made no file");
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_snapshot_spec sp = {.volume_id = empty,
                                         .description = "first",
                                         .tag_specs = &ts,
                                         .n_tag_specs = 1};

                succeeds(kiln_snapshot_create(t->a, &sp, &first, &e), &e,
                         "create-snapshot of an available volume");
        }
        ok(first.snapshot_id && strcmp(first.state, "completed") == 0 &&
                   strcmp(first.volume_id, empty) == 0 && first.volume_size == 2 &&
                   strcmp(first.description, "first") == 0 && !first.parent_id,
           "completed, of the volume, its 2 GiB, its description, no parent (an empty volume)");
        ok(first.n_tags == 1 && strcmp(first.tags[0].key, "when") == 0, "with its tags");
        is_int(plant_volume_count(t->a, NULL), files + 1,
               "the volume continues on one new file, the old one is the snapshot");
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_snapshot_spec sp = {.volume_id = empty};

                succeeds(kiln_snapshot_create(t->a, &sp, &second, &e), &e, "a second snapshot");
        }
        ok(second.parent_id && first.snapshot_id &&
                   strcmp(second.parent_id, first.snapshot_id) == 0,
           "incremental: its parent is the first");
        is_int((long) volumes_matching(t->a, "status", "available"), 2,
               "the volume is still available");
        is_int((long) volumes_matching(t->a, "snapshot-id", first.snapshot_id), 0,
               "and still shows the snapshot it was made from (none), as EC2 does");
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_volume v = {0};
                kiln_volume_spec sp = volume_spec(0, second.snapshot_id);

                succeeds(kiln_volume_create(t->a, &sp, &v, &e), &e,
                         "a volume from the volume's snapshot");
                ok(v.size == 2, "with the snapshot's size");
                if (v.volume_id)
                        kiln_volume_delete(t->a, v.volume_id, NULL);
                kiln_volume_clear(&v);
        }
        kiln_snapshot_clear(&first);
        kiln_snapshot_clear(&second);
}

static void t_volumes(t_env *t)
{
        kiln_autofree char *snap = NULL;
        kiln_autofree char *img = image_with_snapshot(t->a, "volume-source", &snap);
        kiln_autofree char *inst = img ? plant_instance(t->a, img, "stopped") : NULL;
        kiln_autofree char *pending = img ? plant_instance(t->a, img, "pending") : NULL;
        kiln_autofree char *empty = NULL, *from = NULL;
        long files;

        if (!fixture(img && snap && inst && pending, "volumes: a snapshot and instances of A"))
                return;
        t_volumes_create(t, snap, &empty, &from);
        if (!empty || !from)
                return;
        is_int((long) volumes_matching(t->a, "volume-id", empty), 1, "describe-volumes volume-id");
        is_int((long) volumes_matching(t->a, "snapshot-id", snap), 1, "snapshot-id");
        is_int((long) volumes_matching(t->a, "volume-type", "gp3"), 1, "volume-type");
        is_int((long) volumes_matching(t->a, "size", "2"), 1, "size");
        is_int((long) volumes_matching(t->a, "availability-zone", "locala"), 2,
               "availability-zone");
        is_int((long) volumes_matching(t->a, "tag:use", "d*"), 1, "tag:use");
        is_int((long) volumes_matching(t->b, "status", "*"), 0, "another account sees none");
        {
                kiln_autoptr(kiln_error) e = NULL;
                const char *ids[] = {"vol-0123456789abcdef0"};
                kiln_volume *list = NULL;
                size_t n = 0;

                refused(kiln_volumes_describe(t->a, ids, 1, NULL, 0, &list, &n, &e), &e,
                        KILN_E_NOT_FOUND, "InvalidVolume.NotFound",
                        "describe-volumes of an unknown ID");
        }
        t_volumes_attach(t, empty, inst, pending);
        t_volumes_snapshot(t, empty);
        t_volumes_token(t);
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autoptr(kiln_storage_report) rep = NULL;
                double cost = -1;
                int64_t gib = -1;

                succeeds(kiln_storage_describe(t->a, &rep, &e), &e, "describe-storage");
                for (size_t i = 0; rep && i < rep->n_volumes; i++)
                        if (strcmp(rep->volumes[i].volume_id, empty) == 0)
                                cost = rep->volumes[i].monthly_cost;
                for (size_t i = 0; rep && i < rep->n_accounts; i++)
                        if (strcmp(rep->accounts[i].account_id, ACCT_A) == 0)
                                gib = rep->accounts[i].volume_gib;
                ok(cost > 0.159 && cost < 0.161, "bills the 2 GiB volume by its size at 0.08");
                is_int((long) gib, 3, "the account's volumes: 2 + 1 GiB provisioned");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                succeeds(kiln_resource_wait(t->a, KILN_WAIT_VOLUME_AVAILABLE, empty, 5, &e), &e,
                         "wait volume-available returns for an available volume");
                refused(kiln_resource_wait(t->a, KILN_WAIT_VOLUME_IN_USE, empty, 1, &e), &e,
                        KILN_E_STATE, "IncorrectState", "wait volume-in-use gives up after 1 s");
                kiln_error_free(kiln_steal(&e));
                refused(kiln_resource_wait(t->a, KILN_WAIT_VOLUME_AVAILABLE,
                                           "vol-0123456789abcdef0", 1, &e),
                        &e, KILN_E_NOT_FOUND, "InvalidVolume.NotFound",
                        "wait on an unknown volume");
                kiln_error_free(kiln_steal(&e));
                succeeds(kiln_resource_wait(t->a, KILN_WAIT_SNAPSHOT_COMPLETED, snap, 5, &e), &e,
                         "wait snapshot-completed");
                succeeds(kiln_resource_wait(t->a, KILN_WAIT_IMAGE_AVAILABLE, img, 5, &e), &e,
                         "wait image-available");
        }
        files = plant_volume_count(t->a, NULL);
        {
                kiln_autoptr(kiln_error) e = NULL;

                succeeds(kiln_volume_delete(t->a, from, &e), &e, "delete-volume");
                is_int(plant_volume_count(t->a, NULL), files - 1, "its file goes");
                is_int((long) volumes_matching(t->a, "volume-id", from), 0, "and its record");
                kiln_error_free(kiln_steal(&e));
                refused(kiln_volume_delete(t->a, from, &e), &e, KILN_E_NOT_FOUND,
                        "InvalidVolume.NotFound", "deleting it again");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                succeeds(kiln_volume_delete(t->a, empty, &e), &e, "delete the empty one");
        }
}

/* ==== set-up ==== */

static int write_config(const t_env *t)
{
        kiln_autofree char *path = kiln_xasprintf("%s/config.json", t->home);
        long pid = (long) getpid();
        FILE *f;
        int bad;

        if (mkdir(t->home, 0700) < 0)
                return -1;
        f = fopen(path, "we");
        if (!f)
                return -1;
        /* Pool names carry the PID: the test driver's state is shared by every connection of
         * this process. */
        bad = fprintf(f,
                      "{\"Version\": 1, \"DefaultRegion\": \"local\", \"DefaultAccount\": \"%s\",\n"
                      " \"Regions\": [\n"
                      "  {\"Name\": \"local\", \"Uri\": \"test:///default\", "
                      "\"Pool\": \"kiln-unit-ec2-%ld-local\", \"PoolPath\": \"%s/pools/local\"},\n"
                      "  {\"Name\": \"west\", \"Uri\": \"test:///default\", "
                      "\"Pool\": \"kiln-unit-ec2-%ld-west\", \"PoolPath\": \"%s/pools/west\"}],\n"
                      " \"Accounts\": [{\"AccountId\": \"%s\", \"Alias\": \"alice\"}, "
                      "{\"AccountId\": \"%s\", \"Alias\": \"bob\"}, "
                      "{\"AccountId\": \"%s\", \"Alias\": \"carol\"}, {\"AccountId\": \"%s\"}],\n"
                      " \"Organizations\": [{\"Id\": \"%s\", \"MasterAccount\": \"%s\", "
                      "\"Accounts\": [\"%s\"]}]}\n",
                      ACCT_A, pid, t->home, pid, t->home, ACCT_A, ACCT_B, ACCT_C, ACCT_D, ORG_ID,
                      ACCT_A, ACCT_C) < 0;
        bad = fclose(f) != 0 || bad;
        return bad ? -1 : 0;
}

static kiln_ctx *open_ctx(const t_env *t, const char *region, const char *account)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_ctx_options o = {t->home, region, account};
        kiln_ctx *ctx = NULL;

        if (kiln_ctx_new(&o, &ctx, &e) < 0)
                printf("# context %s in %s: %s\n", account, region, e->msg);
        return ctx;
}

static double ms_since(const struct timespec *t0)
{
        struct timespec t1;

        clock_gettime(CLOCK_MONOTONIC, &t1);
        return (double) (t1.tv_sec - t0->tv_sec) * 1e3 + (double) (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Instance attributes and VPCs: what is refused before any instance is looked at, and
 * unknown instances. */
static void t_attributes(t_env *t)
{
        static const char *const bad_attrs[] = {"kernel", "ramdisk", "productCodes", "", NULL};
        kiln_vpc v = {0};

        for (size_t i = 0; bad_attrs[i]; i++) {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *what = kiln_xasprintf("the attribute '%s'", bad_attrs[i]);

                refused(kiln_instance_attribute_name_check(bad_attrs[i], &e), &e, KILN_E_INVALID,
                        "InvalidParameterValue", what);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                is_int(kiln_instance_attribute_name_check("disableApiStop", &e), 0,
                       "disableApiStop is an attribute");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_instance_attribute a = {0};

                refused(kiln_instance_attribute_describe(t->a, "i-nope", &a, &e), &e,
                        KILN_E_INVALID, "InvalidInstanceID.Malformed",
                        "describing an attribute of a malformed instance ID");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_instance_attribute a = {0};

                refused(kiln_instance_attribute_describe(t->a, "i-0123456789abcdef0", &a, &e), &e,
                        KILN_E_NOT_FOUND, "InvalidInstanceID.NotFound",
                        "describing an attribute of an unknown instance");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_instance_attribute_change c = {KILN_ATTR_DISABLE_API_TERMINATION, true, NULL,
                                                    NULL, 0};

                refused(kiln_instance_attribute_modify(t->a, "i-0123456789abcdef0", &c, &e), &e,
                        KILN_E_NOT_FOUND, "InvalidInstanceID.NotFound",
                        "protecting an unknown instance");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_instance_attribute_change c = {KILN_ATTR_SHUTDOWN_BEHAVIOR, false, "terminate",
                                                    NULL, 0};

                refused(kiln_instance_attribute_modify(t->a, "i-0123456789abcdef0", &c, &e), &e,
                        KILN_E_UNSUPPORTED, "InvalidParameterValue",
                        "a shutdown behaviour other than stop");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *big = kiln_xcalloc(16385, 1);
                kiln_instance_attribute_change c = {KILN_ATTR_USER_DATA, false, NULL, big, 16385};

                memset(big, 'a', 16384);
                refused(kiln_instance_attribute_modify(t->a, "i-0123456789abcdef0", &c, &e), &e,
                        KILN_E_LIMIT, "InvalidUserData.Malformed", "user data over 16384 bytes");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_vpc *list = NULL;
                size_t n = 0;
                const char *other[] = {"vpc-0123456789abcdef0"};

                is_int(kiln_vpc_describe(t->a, &v, &e), 0, "the region's VPC");
                ok(kiln_id_valid("vpc", v.vpc_id), "  with an ID of EC2's form");
                ok(kiln_id_valid("subnet", v.subnet_id), "  and its subnet's");
                is_str(v.cidr, "10.0.2.0/24", "  user networking: QEMU's network");
                is_int(kiln_vpcs_describe(t->a, other, 1, NULL, 0, &list, &n, &e), -1,
                       "another VPC ID is not found");
                is_str(e ? e->api_code : NULL, "InvalidVpcID.NotFound", "  InvalidVpcID.NotFound");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_vpc w = {0};

                is_int(kiln_vpc_describe(t->aw, &w, &e), 0, "the other region's VPC");
                ok(v.vpc_id && w.vpc_id && strcmp(v.vpc_id, w.vpc_id) != 0,
                   "  is another one, with its own ID");
                kiln_vpc_clear(&w);
        }
        kiln_vpc_clear(&v);
}

/* Security groups: names, rules and limits as EC2's, the default group, other accounts. */
static size_t sg_count(kiln_ctx *ctx)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_security_group *list = NULL;
        kiln_sg_query q = {0};
        size_t n = 0;

        if (kiln_security_groups_describe(ctx, &q, &list, &n, &e) < 0)
                return (size_t) -1;
        kiln_security_groups_free(list, n);
        return n;
}

static void t_security_groups(t_env *t)
{
        kiln_security_group web = {0};
        kiln_sg_permission p22 = {"tcp", 22, 22, "0.0.0.0/0", NULL};
        kiln_sg_permission p8080 = {"6", 8080, 8080, "10.1.2.3/16", "app"};

        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_security_group *list = NULL;
                const char *names[] = {"default"};
                kiln_sg_query q = {NULL, 0, names, 1, NULL, 0};
                size_t n = 0;
                bool ssh = false, rdp = false;

                is_int(kiln_security_groups_describe(t->a, &q, &list, &n, &e), 0,
                       "the default group is there before anything made it");
                for (size_t i = 0; n == 1 && i < list[0].n_ingress; i++) {
                        ssh = ssh || (list[0].ingress[i].from_port == 22 &&
                                      strcmp(list[0].ingress[i].cidr_ipv4, "0.0.0.0/0") == 0);
                        rdp = rdp || list[0].ingress[i].from_port == 3389;
                }
                ok(n == 1 && ssh && rdp, "  and it allows SSH and RDP from anywhere");
                kiln_security_groups_free(list, n);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                is_int(kiln_security_group_create(t->a, "web", "web servers", "", NULL, 0, &web,
                                                  &e),
                       0, "a group is made (an empty VPC ID is the region's)");
                ok(web.group_id && kiln_id_valid("sg", web.group_id) && web.n_ingress == 0,
                   "  with an sg- ID and no inbound rule");
        }
        {
                static const struct {
                        const char *name, *description, *vpc, *api;
                        int code;
                } bad[] = {
                        {"web", "again", NULL, "InvalidGroup.Duplicate", KILN_E_EXISTS},
                        {"default", "mine", NULL, "InvalidParameterValue", KILN_E_INVALID},
                        {"sg-web", "x", NULL, "InvalidParameterValue", KILN_E_INVALID},
                        {"", "x", NULL, "InvalidParameterValue", KILN_E_INVALID},
                        {"caf\xc3\xa9", "x", NULL, "InvalidParameterValue", KILN_E_INVALID},
                        {"ok", NULL, NULL, "MissingParameter", KILN_E_INVALID},
                        {"ok", "tab\there", NULL, "InvalidParameterValue", KILN_E_INVALID},
                        {"ok", "x", "vpc-0123456789abcdef0", "InvalidVpcID.NotFound",
                         KILN_E_NOT_FOUND},
                };

                for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
                        kiln_autoptr(kiln_error) e = NULL;
                        kiln_security_group sg = {0};
                        kiln_autofree char *what = kiln_xasprintf(
                                "creating group '%s' (%s)", bad[i].name,
                                bad[i].description ? bad[i].description : "no description");

                        refused(kiln_security_group_create(t->a, bad[i].name, bad[i].description,
                                                           bad[i].vpc, NULL, 0, &sg, &e),
                                &e, bad[i].code, bad[i].api, what);
                }
                is_int((int) sg_count(t->a), 2, "no refused group was made");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_sg_permission both[] = {p22, p8080};
                kiln_sg_rule *rules = NULL;
                size_t n = 0;

                is_int(kiln_security_group_authorize(t->a, web.group_id, NULL, both, 2, &rules, &n,
                                                     &e),
                       0, "two rules are authorized");
                ok(n == 2 && kiln_id_valid("sgr", rules[0].rule_id) &&
                           strcmp(rules[1].ip_protocol, "tcp") == 0 &&
                           strcmp(rules[1].cidr_ipv4, "10.1.0.0/16") == 0,
                   "  with sgr- IDs, protocol 6 named tcp, the source its network");
                kiln_sg_rules_free(rules, n);
        }
        {
                static const struct {
                        kiln_sg_permission p;
                        const char *api;
                        int code;
                } bad[] = {
                        {{"tcp", 22, 22, "0.0.0.0/0", NULL},
                         "InvalidPermission.Duplicate",
                         KILN_E_EXISTS},
                        {{"gre", 0, 0, "0.0.0.0/0", NULL}, "InvalidParameterValue", KILN_E_INVALID},
                        {{"tcp", -1, -1, "0.0.0.0/0", NULL},
                         "InvalidParameterValue",
                         KILN_E_INVALID},
                        {{"tcp", 90, 80, "0.0.0.0/0", NULL},
                         "InvalidParameterValue",
                         KILN_E_INVALID},
                        {{"udp", 1, 70000, "0.0.0.0/0", NULL},
                         "InvalidParameterValue",
                         KILN_E_INVALID},
                        {{"tcp", 1, 2, "10.0.0.0/33", NULL},
                         "InvalidParameterValue",
                         KILN_E_INVALID},
                        {{"tcp", 1, 2, "10.0.0/8", NULL}, "InvalidParameterValue", KILN_E_INVALID},
                        {{"tcp", 1, 2, NULL, NULL}, "MissingParameter", KILN_E_INVALID},
                        {{NULL, 1, 2, "0.0.0.0/0", NULL}, "MissingParameter", KILN_E_INVALID},
                        {{"icmp", 300, -1, "0.0.0.0/0", NULL},
                         "InvalidParameterValue",
                         KILN_E_INVALID},
                };

                for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
                        kiln_autoptr(kiln_error) e = NULL;
                        kiln_autofree char *what = kiln_xasprintf(
                                "authorizing %s %d-%d from %s",
                                bad[i].p.ip_protocol ? bad[i].p.ip_protocol : "(no protocol)",
                                bad[i].p.from_port, bad[i].p.to_port,
                                bad[i].p.cidr_ipv4 ? bad[i].p.cidr_ipv4 : "(no source)");

                        refused(kiln_security_group_authorize(t->a, web.group_id, NULL, &bad[i].p,
                                                              1, NULL, NULL, &e),
                                &e, bad[i].code, bad[i].api, what);
                }
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_sg_permission two[] = {{"udp", 53, 53, "0.0.0.0/0", NULL}, p22};
                kiln_security_group *list = NULL;
                const char *ids[] = {web.group_id};
                kiln_sg_query q = {ids, 1, NULL, 0, NULL, 0};
                size_t n = 0;

                refused(kiln_security_group_authorize(t->a, web.group_id, NULL, two, 2, NULL, NULL,
                                                      &e),
                        &e, KILN_E_EXISTS, "InvalidPermission.Duplicate",
                        "a request with one new rule and one the group has");
                kiln_error_free(kiln_steal(&e));
                kiln_security_groups_describe(t->a, &q, &list, &n, &e);
                is_int(n == 1 ? (int) list[0].n_ingress : -1, 2, "  adds neither");
                kiln_security_groups_free(list, n);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_sg_permission many[KILN_SG_RULES_MAX];

                for (int i = 0; i < KILN_SG_RULES_MAX; i++)
                        many[i] = (kiln_sg_permission){"tcp", 10000 + i, 10000 + i, "0.0.0.0/0",
                                                       NULL};
                refused(kiln_security_group_authorize(t->a, web.group_id, NULL, many,
                                                      KILN_SG_RULES_MAX, NULL, NULL, &e),
                        &e, KILN_E_LIMIT, "RulesPerSecurityGroupLimitExceeded",
                        "more inbound rules than a group may have");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_security_group *list = NULL;
                kiln_sg_query q = {0};
                size_t n = 0;

                kiln_security_groups_describe(t->b, &q, &list, &n, &e);
                ok(n == 1 && strcmp(list[0].group_name, "default") == 0 &&
                           strcmp(list[0].owner_id, web.owner_id) != 0,
                   "another account sees only a default group of its own");
                kiln_security_groups_free(list, n);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_sg_permission p = {"tcp", 1, 1, "0.0.0.0/0", NULL};

                refused(kiln_security_group_authorize(t->b, web.group_id, NULL, &p, 1, NULL, NULL,
                                                      &e),
                        &e, KILN_E_NOT_FOUND, "InvalidGroup.NotFound",
                        "another account authorizing a rule in the group");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(kiln_security_group_delete(t->b, web.group_id, NULL, &e), &e,
                        KILN_E_NOT_FOUND, "InvalidGroup.NotFound",
                        "another account deleting the group");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_security_group *list = NULL;
                const char *ids[] = {"sg-nope"};
                kiln_sg_query q = {ids, 1, NULL, 0, NULL, 0};
                size_t n = 0;

                refused(kiln_security_groups_describe(t->a, &q, &list, &n, &e), &e, KILN_E_INVALID,
                        "InvalidGroupId.Malformed", "a malformed group ID");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_security_group *list = NULL;
                const char *values[] = {"8080"};
                kiln_filter f = {"ip-permission.from-port", values, 1};
                kiln_sg_query q = {NULL, 0, NULL, 0, &f, 1};
                size_t n = 0;

                kiln_security_groups_describe(t->a, &q, &list, &n, &e);
                ok(n == 1 && strcmp(list[0].group_id, web.group_id) == 0,
                   "a filter on a rule's port finds the group with it");
                kiln_security_groups_free(list, n);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(kiln_security_group_revoke(t->a, web.group_id, NULL, &p22, 1, NULL, 0,
                                                   &e) == 0
                                ? kiln_security_group_revoke(t->a, web.group_id, NULL, &p22, 1,
                                                             NULL, 0, &e)
                                : 0,
                        &e, KILN_E_NOT_FOUND, "InvalidPermission.NotFound",
                        "a rule revoked, then revoked again");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                const char *ids[] = {"sgr-0123456789abcdef0"};

                refused(kiln_security_group_revoke(t->a, web.group_id, NULL, NULL, 0, ids, 1, &e),
                        &e, KILN_E_NOT_FOUND, "InvalidSecurityGroupRuleId.NotFound",
                        "revoking a rule ID the group does not have");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                refused(kiln_security_group_delete(t->a, NULL, "default", &e), &e, KILN_E_STATE,
                        "CannotDelete", "deleting the default group");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                is_int(kiln_security_group_delete(t->a, NULL, "web", &e), 0,
                       "a group is deleted by name");
                kiln_error_free(kiln_steal(&e));
                refused(kiln_security_group_delete(t->a, web.group_id, NULL, &e), &e,
                        KILN_E_NOT_FOUND, "InvalidGroup.NotFound", "  and is gone");
        }
        kiln_security_group_clear(&web);
}

/* UEFI images: boot modes, TPM support, and UEFI data that goes in and comes back out. */
static void t_uefi(t_env *t)
{
        kiln_autofree char *snap = plant_snapshot(t->a, NULL, NULL, NULL, false);
        kiln_autofree char *vars = NULL, *text = NULL;
        size_t vars_len = 0;
        kiln_mapping_spec m = {"/dev/vda", snap, 0, -1, NULL, false};
        static const struct {
                const char *boot, *tpm, *uefi, *api;
                bool secure;
        } bad[] = {
                {"uefi-only", NULL, NULL, "InvalidParameterValue", false},
                {"uefi", "v1.2", NULL, "InvalidParameterValue", false},
                {NULL, "v2.0", NULL, "InvalidParameterCombination", false},
                {"legacy-bios", NULL, NULL, "InvalidParameterCombination", true},
                {"uefi", NULL, "bm90IHpsaWI=", "InvalidParameterValue", false},
                {"uefi", NULL, "***", "InvalidParameterValue", false},
        };

        fixture(snap != NULL, "a snapshot to register UEFI images from");
        for (size_t i = 0; snap && i < KILN_ARRAY_SIZE(bad); i++) {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_register_spec r = {0};
                kiln_autofree char *what = kiln_xasprintf(
                        "register-image --boot-mode %s%s%s%s%s", bad[i].boot ? bad[i].boot : "-",
                        bad[i].tpm ? " --tpm-support " : "", bad[i].tpm ? bad[i].tpm : "",
                        bad[i].uefi ? " --uefi-data (not UEFI data)" : "",
                        bad[i].secure ? " --secure-boot" : "");
                char *out = NULL;

                r.name = "uefi-bad";
                r.default_user = "admin";
                r.mappings = &m;
                r.n_mappings = 1;
                r.boot_mode = bad[i].boot;
                r.tpm_support = bad[i].tpm;
                r.uefi_data = bad[i].uefi;
                r.secure_boot = bad[i].secure;
                refused(kiln_image_register(t->a, &r, NULL, NULL, &out, &e), &e, KILN_E_INVALID,
                        bad[i].api, what);
        }
        if (kiln_file_read("/usr/share/OVMF/OVMF_VARS_4M.fd", 8u << 20, &vars, &vars_len, NULL) <
            0) {
                ok(1, "# SKIP no OVMF variable store (package ovmf) for the UEFI data round trip");
                return;
        }
        text = kiln_deflate_base64(vars, vars_len);
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *id = NULL;
                kiln_register_spec r = {0};
                kiln_image_attribute a = {0};
                void *back = NULL;
                size_t back_len = 0;

                r.name = "uefi-tpm";
                r.default_user = "admin";
                r.mappings = &m;
                r.n_mappings = 1;
                r.boot_mode = "uefi-preferred";
                r.tpm_support = "v2.0";
                r.uefi_data = text;
                succeeds(kiln_image_register(t->a, &r, NULL, NULL, &id, &e), &e,
                         "a uefi-preferred image with a TPM and OVMF's variable store");
                ok(strlen(text) < 65536, "its UefiData is %zu characters for %zu bytes",
                   strlen(text), vars_len);
                if (!id)
                        return;
                {
                        kiln_image *img = NULL;
                        size_t n = 0;
                        kiln_image_query q = {0};
                        const char *ids[] = {id};

                        q.image_ids = ids;
                        q.n_image_ids = 1;
                        kiln_images_describe(t->a, &q, &img, &n, &e);
                        ok(n == 1 && strcmp(img[0].boot_mode, "uefi-preferred") == 0 &&
                                   img[0].tpm_support && strcmp(img[0].tpm_support, "v2.0") == 0 &&
                                   img[0].has_uefi_data,
                           "describe-images: BootMode uefi-preferred, TpmSupport v2.0");
                        kiln_images_free(img, n);
                }
                succeeds(kiln_image_attribute_describe(t->a, id, "uefiData", &a, &e), &e,
                         "describe-image-attribute uefiData");
                ok(a.value &&
                           kiln_inflate_base64("UefiData", a.value, 8u << 20, &back, &back_len,
                                               NULL) == 0 &&
                           back_len == vars_len && memcmp(back, vars, vars_len) == 0,
                   "  gives the variable store back, byte for byte");
                free(back);
                kiln_image_attribute_clear(&a);
                succeeds(kiln_image_attribute_describe(t->a, id, "tpmSupport", &a, &e), &e,
                         "describe-image-attribute tpmSupport");
                is_str(a.value, "v2.0", "  says v2.0");
                kiln_image_attribute_clear(&a);
        }
}

int main(void)
{
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autofree char *tmpl = NULL;
        const char *tmpdir = getenv("TMPDIR");
        const char *base = tmpdir && *tmpdir ? tmpdir : "/tmp";
        virConnectPtr keep;
        struct timespec t0;
        t_env t = {0};

        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (kiln_global_init(&err) < 0) {
                printf("Bail out! %s\n", err->msg);
                return 1;
        }
        /* One connection held for the whole run: the test driver forgets its pools when the
         * last connection of the process closes. */
        keep = virt_connect("test:///default", &err);
        if (!keep) {
                printf("Bail out! %s\n", err->msg);
                return 1;
        }
        tmpl = kiln_xasprintf("%s/kiln-unit-ec2.XXXXXX", base);
        if (!mkdtemp(tmpl)) {
                printf("Bail out! cannot make a directory from '%s'\n", tmpl);
                virt_disconnect(keep);
                return 1;
        }
        t.tmp = kiln_steal(&tmpl);
        t.home = kiln_xasprintf("%s/home", t.tmp);
        if (write_config(&t) < 0) {
                printf("Bail out! cannot write %s/config.json\n", t.home);
        } else {
                t.a = open_ctx(&t, "local", ACCT_A);
                t.b = open_ctx(&t, "local", ACCT_B);
                t.c = open_ctx(&t, "local", ACCT_C);
                t.d = open_ctx(&t, "local", ACCT_D);
                t.aw = open_ctx(&t, "west", ACCT_A);
                t.bw = open_ctx(&t, "west", ACCT_B);
        }
        if (fixture(t.a && t.b && t.c && t.d && t.aw && t.bw,
                    "a kiln home with two regions on the test driver, four accounts, an "
                    "organization")) {
                void (*sections[])(t_env *) = {
                        t_context,    t_visibility,      t_owner_alias, t_owner_only, t_deregister,
                        t_snapshots,  t_ungeneralized,   t_copy,        t_run,        t_create,
                        t_names,      t_filters,         t_tags,        t_volumes,    t_mappings,
                        t_attributes, t_security_groups, t_uefi};

                for (size_t i = 0; i < KILN_ARRAY_SIZE(sections); i++)
                        sections[i](&t);
        }
        kiln_ctx_free(t.a);
        kiln_ctx_free(t.b);
        kiln_ctx_free(t.c);
        kiln_ctx_free(t.d);
        kiln_ctx_free(t.aw);
        kiln_ctx_free(t.bw);
        virt_disconnect(keep);
        ctx_workdir_remove(t.tmp);
        {
                struct stat st;

                ok(stat(t.tmp, &st) < 0, "the temporary home is removed");
        }
        free(t.tmp);
        free(t.home);
        kiln_global_cleanup();
        printf("# %.0f ms\n", ms_since(&t0));
        return done();
}
