/* What the files of lib/seed give each other: the staging of an image's files and the image
 * itself, written by seed.c (the NoCloud seed) and used by configdrive.c (the OpenStack config
 * drive) too. The staging directory lies next to the image and holds secrets (a private host
 * key, a password) for as long as xorriso reads it: its files are created 0600 and overwritten
 * before they are removed. */
#ifndef KILN_SEED_PRIVATE_H
#define KILN_SEED_PRIVATE_H

#include <stddef.h>

#include <kiln/error.h>

/* A new staging directory "ISO.staging-XXXXXX" next to iso_path, returned (to free) with the
 * image's path as xorriso is to be given it in *ret_iso ("./" before a relative path that
 * starts with '-', which would read as an option). NULL and KILN_E_IO if it cannot be made;
 * *ret_iso is then untouched. */
char *seed_staging_new(const char *iso_path, char **ret_iso, kiln_error **err);

/* Writes len bytes of data to the new file dir/name (name may hold directories that exist),
 * mode 0600, never over an existing file. KILN_E_IO. */
int seed_stage_file(const char *dir, const char *name, const void *data, size_t len,
                    kiln_error **err);

/* Removes a staging directory: each of files (names under dir; a missing one is no error) is
 * overwritten and removed, then each of subdirs (names under dir, deepest first; a missing
 * one is no error), then dir. Goes on after a failure; returns -1 if any step failed, setting
 * *err unless it is already set (KILN_E_IO). */
int seed_staging_remove(const char *dir, const char *const *files, size_t n_files,
                        const char *const *subdirs, size_t n_subdirs, kiln_error **err);

/* Writes the tree under dir as an ISO 9660 image with Joliet and Rock Ridge and the volume ID
 * volid at iso (replacing any file there) with `xorriso -as mkisofs` through kiln_cmd.
 * KILN_E_IO, the message prefixed with "cannot write the WHAT 'ISO'". */
int seed_build_image(const char *dir, const char *volid, const char *iso, const char *what,
                     kiln_error **err);

#endif
