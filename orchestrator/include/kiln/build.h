/* Pipelines: `kiln build TEMPLATE.json` takes a source image through launch, configure,
 * generalize and bake, tests the new image on a fresh instance, copies it to other regions and
 * shares it, and reports a manifest. The template format is documented in the README and in
 * templates/build.schema.json. */
#ifndef KILN_BUILD_H
#define KILN_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include <kiln/common.h>
#include <kiln/configure.h>
#include <kiln/ctx.h>
#include <kiln/error.h>
#include <kiln/image.h>
#include <kiln/log.h>

typedef struct kiln_build_var {
        const char *key;
        const char *value;
} kiln_build_var;

typedef struct kiln_build_template {
        char *path; /* the file it was read from */
        /* source: exactly one of these */
        char *source_image_id;
        char *source_name_filter; /* newest available image whose name matches (wildcards) */
        char *source_catalog;     /* import-image --catalog NAME first */
        /* instance */
        char *instance_type; /* NULL: the default */
        char *key_name;      /* NULL: a temporary key pair, deleted at the end */
        char *user_data;     /* NULL: none */
        char *network;       /* NULL: user networking */
        /* configure: steps as the configure verb runs them */
        kiln_configure_step *steps; /* each arg is owned by the template */
        size_t n_steps;
        /* image */
        char *image_name; /* after {{timestamp}} and {{var.NAME}} substitution */
        char *image_description;
        kiln_tag *image_tags;
        size_t n_image_tags;
        bool generalize; /* default true */
        /* test: shell commands run on a fresh instance of the new image; any failure fails the
         * build */
        char **tests;
        size_t n_tests;
        /* distribute */
        char **regions; /* copy the image to these regions */
        size_t n_regions;
        char **share_accounts; /* launch permission for these accounts */
        size_t n_share_accounts;
        char **share_organizations; /* organization ARNs */
        size_t n_share_organizations;
        bool share_public;
} kiln_build_template;

/* Reads and checks a template before anything is launched. Errors name the file and the
 * line and column (bad JSON) or the JSON path of the bad field ("$.configure[2].run: expected
 * a string", "$.image.nmae: unknown key", "$.source: missing"), as KILN_E_INVALID. vars fill
 * {{var.NAME}} (an unknown variable is an error naming it); {{timestamp}} is the UTC time as
 * YYYYMMDDhhmmss. */
KILN_PUBLIC int kiln_build_template_load(const char *path, const kiln_build_var *vars,
                                         size_t n_vars, kiln_build_template **ret,
                                         kiln_error **err);
KILN_PUBLIC kiln_build_template *kiln_build_template_free(kiln_build_template *t);
KILN_DEFINE_AUTOPTR(kiln_build_template, kiln_build_template_free)

/* ---- running a build ---- */
typedef enum {
        KILN_ON_ERROR_CLEANUP, /* remove everything the run made (the default) */
        KILN_ON_ERROR_ABORT,   /* leave it, and say how to remove it */
        KILN_ON_ERROR_KEEP,    /* leave it, with the build instance running, and its ssh command */
} kiln_on_error;

typedef struct kiln_build_options {
        kiln_on_error on_error;
        kiln_log_fn notify;    /* each step with its elapsed time, warnings; may be NULL */
        kiln_output_fn output; /* the output of configure steps and tests; may be NULL */
        void *userdata;
} kiln_build_options;

typedef struct kiln_build_step {
        char *name; /* source, launch, configure, bake, test, distribute */
        double seconds;
} kiln_build_step;

typedef struct kiln_build_test {
        char *command;
        int exit_status;
        bool passed;
} kiln_build_test;

typedef struct kiln_build_region {
        char *region;
        char *image_id;
        char *snapshot_id; /* the root volume's */
} kiln_build_region;

typedef struct kiln_build_manifest {
        char *template_path;
        char *region;
        bool success;
        char *error;
        char *source_image_id;
        char *image_id; /* in the home region; NULL if the build failed and cleaned up */
        char *image_name;
        char *instance_id; /* on_error keep: the build instance left running */
        char *ssh_command;
        char *hint; /* on_error abort: how to remove what was left */
        double seconds;
        kiln_build_step *steps;
        size_t n_steps;
        kiln_build_test *tests;
        size_t n_tests;
        kiln_build_region *regions; /* the home region first, then each copy */
        size_t n_regions;
} kiln_build_manifest;

/* Runs the template in the context's region; the manifest is filled also on failure. */
KILN_PUBLIC int kiln_build_run(kiln_ctx *ctx, const kiln_build_template *t,
                               const kiln_build_options *o, kiln_build_manifest *ret,
                               kiln_error **err);
KILN_PUBLIC void kiln_build_manifest_clear(kiln_build_manifest *m);
/* Async-signal-safe: makes a running build stop at its next step and clean up. */
KILN_PUBLIC void kiln_build_interrupt(void);

#endif
