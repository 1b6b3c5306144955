/* libvirt storage: a region's pool of qcow2 snapshot layers and volumes, read and written only
 * through libvirt's storage API (so the same code serves a remote host through
 * qemu+ssh://). Knows nothing of the registry or of IDs; names are given by the caller. */
#ifndef KILN_VIRT_STORAGE_H
#define KILN_VIRT_STORAGE_H

#include <stdbool.h>

#include "virt/virt.h"

typedef virStoragePool virt_pool;
virStoragePoolPtr virt_pool_free(virStoragePoolPtr pool);
KILN_DEFINE_AUTOPTR(virt_pool, virt_pool_free)

/* Progress of a transfer: bytes done so far and the total (0 if unknown). Returns 0 to go
 * on, non-zero to abort the transfer (it then fails with KILN_E_INTERRUPTED). */
typedef int (*virt_progress_fn)(unsigned long long done, unsigned long long total, void *userdata);

/* Finds the pool NAME; if it does not exist, defines a directory pool at PATH (creating the
 * directory, mode 0711 so that QEMU's user can traverse it but nobody else can list it), builds,
 * starts and marks it autostart. An inactive pool is started. The pool is refreshed either way. An
 * existing pool is used as it is: its type, path and autostart flag are not checked or changed. If
 * a later step fails, a pool this call defined is undefined again (its directory stays). NAME must
 * not be empty or contain '/'; PATH must be absolute (KILN_E_INVALID). */
virStoragePoolPtr virt_pool_ensure_dir(virConnectPtr conn, const char *name, const char *path,
                                       kiln_error **err);
/* Refuses (KILN_E_IO) a pool directory that QEMU, as the user libvirt's DAC model runs it as on
 * a local daemon, could not reach: some directory on the way to PATH is not searchable by that
 * user, so no domain with a disk there could start. The message names the directory, the user
 * and the fixes. 0 when QEMU can reach it, or when the check does not apply (another driver, a
 * remote host). virt_pool_ensure_dir makes this check first. */
int virt_pool_check_reachable(virConnectPtr conn, const char *path, kiln_error **err);
/* kiln's own pools on a local daemon whose directory is gone (its home was deleted): directory
 * pools named "kiln-...-REGION" whose target is ".../pools/REGION", the names kiln gives them.
 * Other pools are never listed. *ret_names and *ret_paths are parallel arrays. A remote daemon
 * gives none. */
int virt_pools_stale(virConnectPtr conn, char ***ret_names, char ***ret_paths, size_t *ret_n,
                     kiln_error **err);
/* Stops (if active) and undefines pool NAME; its directory is not touched. */
int virt_pool_remove_definition(virConnectPtr conn, const char *name, kiln_error **err);
/* Looks up an existing pool (active or not); KILN_E_NOT_FOUND if there is none. */
virStoragePoolPtr virt_pool_lookup(virConnectPtr conn, const char *name, kiln_error **err);

typedef struct virt_volume_info {
        char *path;                    /* path on the pool's host */
        unsigned long long capacity;   /* virtual size, bytes */
        unsigned long long allocation; /* bytes really allocated on the host */
        char *backing_path;            /* qcow2 backing file, or NULL */
} virt_volume_info;

void virt_volume_info_clear(virt_volume_info *info);

/* Creates volume NAME (format qcow2, capacity bytes of virtual size) and streams the bytes of
 * LOCAL_PATH, a qcow2 file of that virtual size, into it with virStorageVolUpload (the caller
 * knows both from disk/, which owns qemu-img; KILN_E_NOT_FOUND if the file does not exist). The
 * volume is made read-only (mode 0400) when read_only is set, 0600 otherwise: kiln's user's alone
 * (with dynamic ownership libvirt hands it to QEMU's user while a domain uses it). An existing
 * volume NAME is KILN_E_EXISTS and is left alone. progress (may be NULL) is called after each
 * chunk. On any failure, including an abort from progress, the half-written volume is deleted.
 * Returns the new volume's host path in *ret_path.
 *
 * libvirt creates the volume with qemu-img first and the upload overwrites it from offset 0
 * without truncating it: a qcow2 file smaller than libvirt's empty one (for example one with
 * clusters smaller than 64 KiB) keeps that file's tail after its end. QEMU ignores it, but a
 * download then returns more bytes than were uploaded. */
int virt_volume_upload(virStoragePoolPtr pool, const char *name, const char *local_path,
                       unsigned long long capacity, bool read_only, virt_progress_fn progress,
                       void *userdata, char **ret_path, kiln_error **err);
/* The same for a raw file of any content (a NoCloud seed ISO): a raw volume of the file's
 * size. */
int virt_volume_upload_raw(virStoragePoolPtr pool, const char *name, const char *local_path,
                           bool read_only, char **ret_path, kiln_error **err);
/* Streams volume NAME into LOCAL_PATH (created with mode 0600; replaced if it exists) with
 * virStorageVolDownload, and fsyncs it. KILN_E_NOT_FOUND if there is no volume NAME; LOCAL_PATH
 * is not touched then. Once LOCAL_PATH has been replaced, any failure (including an abort from
 * progress: KILN_E_INTERRUPTED) removes it. */
int virt_volume_download(virStoragePoolPtr pool, const char *name, const char *local_path,
                         virt_progress_fn progress, void *userdata, kiln_error **err);
/* Creates volume NAME as a qcow2 overlay (qcow2 v3, mode 0600: with dynamic ownership libvirt
 * hands it to QEMU's user when a domain starts) of the file BACKING_PATH (a qcow2 file in the same
 * pool) with the given virtual size (0: the backing file's). libvirt runs qemu-img and fails if
 * BACKING_PATH cannot be read. An existing volume NAME is KILN_E_EXISTS. */
int virt_volume_create_overlay(virStoragePoolPtr pool, const char *name, const char *backing_path,
                               unsigned long long capacity, char **ret_path, kiln_error **err);
/* Creates volume NAME as an empty qcow2 file (v3, mode 0600) of capacity bytes. An existing
 * volume NAME is KILN_E_EXISTS. */
int virt_volume_create_empty(virStoragePoolPtr pool, const char *name, unsigned long long capacity,
                             char **ret_path, kiln_error **err);
/* Deletes volume NAME. A volume that does not exist is not an error (deletes are retried by
 * fsck after a crash). */
int virt_volume_delete(virStoragePoolPtr pool, const char *name, kiln_error **err);
/* KILN_E_NOT_FOUND if there is no volume NAME. */
int virt_volume_get_info(virStoragePoolPtr pool, const char *name, virt_volume_info *ret,
                         kiln_error **err);
/* False also when libvirt cannot answer (for example an inactive pool). */
bool virt_volume_exists(virStoragePoolPtr pool, const char *name);
/* Rereads the pool's directory (retried while other clients build volumes in it), so that
 * files made outside the storage API (a domain snapshot's overlay) become volumes. */
int virt_pool_refresh(virStoragePoolPtr pool, kiln_error **err);
/* Names of all volumes in the pool (after a refresh), sorted; *ret is NULL-terminated and the
 * caller frees each name and then the array. ret_n may be NULL. */
int virt_pool_list_volumes(virStoragePoolPtr pool, char ***ret, size_t *ret_n, kiln_error **err);

#endif
