/* Whether QEMU's user can reach a pool directory, and the pools that deleted homes leave
 * behind: the search-permission walk (util/fs.c) on directories made here with chosen modes
 * and owners, the XPath reads of libvirt XML, and the stale-pool listing on libvirt's
 * test:///default driver, which keeps pools in memory (their paths are never created). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "util/util.h"
#include "virt/virt-storage.h"

#include <kiln/kiln.h>

static char *mkdir_mode(const char *parent, const char *name, mode_t mode)
{
        char *p = kiln_xasprintf("%s/%s", parent, name);

        if (mkdir(p, 0700) < 0 || chmod(p, mode) < 0) {
                printf("Bail out! cannot make %s\n", p);
                exit(1);
        }
        return p;
}

static void test_walk(void)
{
        char tmpl[] = "/var/tmp/kiln-test-reach.XXXXXX";
        const char *top = mkdtemp(tmpl);
        unsigned groups[] = {4242};
        kiln_fs_user stranger = {54321, 54321, NULL, 0};
        kiln_fs_user member = {54321, 54321, groups, 1};
        kiln_fs_user owner = {getuid(), 54321, NULL, 0};
        kiln_fs_user root = {0, 0, NULL, 0};
        unsigned mode = 0, uid = 12345;
        kiln_autofree char *open_dir = NULL, *closed = NULL, *grp = NULL, *deep = NULL;
        kiln_autofree char *noown = NULL;
        char *r, *missing;

        if (!top || chmod(top, 0755) < 0) {
                printf("Bail out! cannot make a scratch directory\n");
                exit(1);
        }
        open_dir = mkdir_mode(top, "open", 0755);
        closed = mkdir_mode(top, "closed", 0700);
        grp = mkdir_mode(top, "group", 0710);
        deep = mkdir_mode(closed, "inner", 0755);
        noown = mkdir_mode(top, "owner-no-x", 0655);

        r = kiln_fs_first_unsearchable(open_dir, &stranger, &mode, &uid);
        ok(r == NULL, "a path of 0755 directories can be searched by anyone");
        free(r);

        r = kiln_fs_first_unsearchable(deep, &stranger, &mode, &uid);
        is_str(r, closed, "the 0700 parent is the one named, not the open directory below it");
        is_int((int) mode, 0700, "with its mode");
        is_int((int) uid, (int) getuid(), "and its owner");
        free(r);

        missing = kiln_xasprintf("%s/not/there/yet", open_dir);
        r = kiln_fs_first_unsearchable(missing, &stranger, NULL, NULL);
        ok(r == NULL, "directories that do not exist yet are not counted against the path");
        free(r);
        free(missing);
        missing = kiln_xasprintf("%s/not/there", closed);
        r = kiln_fs_first_unsearchable(missing, &stranger, NULL, NULL);
        is_str(r, closed, "an existing closed directory above a missing tail is still found");
        free(r);
        free(missing);

        if (chown(grp, 0, 4242) == 0) {
                r = kiln_fs_first_unsearchable(grp, &member, NULL, NULL);
                ok(r == NULL, "a 0710 directory is searchable through a supplementary group");
                free(r);
                r = kiln_fs_first_unsearchable(grp, &stranger, NULL, NULL);
                is_str(r, grp, "and not by a user outside that group");
                free(r);
        } else {
                ok(1, "# SKIP chown needs root");
                ok(1, "# SKIP chown needs root");
        }

        /* As root the directory goes to the made-up user; root itself would pass. */
        if (getuid() == 0 && chown(noown, stranger.uid, stranger.gid) == 0)
                owner = stranger;
        r = kiln_fs_first_unsearchable(noown, &owner, NULL, NULL);
        is_str(r, noown, "the owner's bits count for the owner, even where others may search");
        free(r);

        r = kiln_fs_first_unsearchable(deep, &root, NULL, NULL);
        ok(r == NULL, "uid 0 passes");
        free(r);
        r = kiln_fs_first_unsearchable("relative/path", &stranger, NULL, NULL);
        ok(r == NULL, "a relative path is not judged");
        free(r);

        rmdir(deep);
        rmdir(closed);
        rmdir(grp);
        rmdir(noown);
        rmdir(open_dir);
        rmdir(top);
}

static void test_xml(void)
{
        static const char caps[] = "<capabilities><host>"
                                   "<secmodel><model>none</model><doi>0</doi></secmodel>"
                                   "<secmodel><model>dac</model><doi>0</doi>"
                                   "<baselabel type='kvm'>+64055:+994</baselabel>"
                                   "<baselabel type='qemu'>+64055:+107</baselabel></secmodel>"
                                   "</host></capabilities>";
        kiln_autofree char *label = virt_xml_string(
                caps, "string(/capabilities/host/secmodel[model='dac']/baselabel[@type='qemu'])");
        kiln_autofree char *none = virt_xml_string(caps, "string(/capabilities/guest)");
        kiln_autofree char *bad = virt_xml_string("<pool><target>", "string(/pool)");
        kiln_autofree char *path = virt_xml_string(
                "<pool type='dir'><target><path>/a &amp; b/pools/local</path></target></pool>",
                "string(/pool/target/path)");

        is_str(label, "+64055:+107", "the DAC base label for qemu domains is read");
        ok(none == NULL, "an empty value is NULL");
        ok(bad == NULL, "a document that does not parse gives NULL");
        is_str(path, "/a & b/pools/local", "entities in a pool path are decoded");
}

static virStoragePoolPtr define_pool(virConnectPtr conn, const char *name, const char *path)
{
        kiln_autofree char *xml = kiln_xasprintf(
                "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>", name,
                path);

        return virStoragePoolDefineXML(conn, xml, 0);
}

static bool listed(char **names, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(names[i], name) == 0)
                        return true;
        return false;
}

static void test_stale(void)
{
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autoptr(virt_conn) conn = virt_connect("test:///default", &err);
        virStoragePoolPtr p[5] = {0};
        char **names = NULL, **paths = NULL;
        size_t n = 0;
        unsigned uid = 1, gid = 1;

        if (!conn) {
                printf("Bail out! %s\n", err->msg);
                exit(1);
        }
        ok(virt_qemu_dac_user(conn, &uid, &gid, &err) == 0,
           "the test driver has no QEMU user: the reach check does not apply");
        ok(virt_pool_check_reachable(conn, "/nowhere/pools/local", &err) == 0,
           "and so every pool path passes it");
        p[0] = define_pool(conn, "kiln-0a1b2c3d-local", "/var/tmp/kiln-gone.X1/pools/local");
        p[1] = define_pool(conn, "kiln-t-gone-west", "/var/tmp/kiln-gone.X2/pools/west");
        p[2] = define_pool(conn, "mine", "/var/tmp/kiln-gone.X3/pools/local");
        p[3] = define_pool(conn, "kiln-0a1b2c3d-east", "/var/tmp/kiln-gone.X4/pools/west");
        p[4] = define_pool(conn, "kiln-here-tmp", "/tmp");
        ok(p[0] && p[1] && p[2] && p[3] && p[4], "five pools defined on the test driver");

        ok(virt_pools_stale(conn, &names, &paths, &n, &err) == 0, "stale pools are listed");
        ok(listed(names, n, "kiln-0a1b2c3d-local"), "a generated kiln pool whose home is gone");
        ok(listed(names, n, "kiln-t-gone-west"), "a test home's pool whose home is gone");
        ok(!listed(names, n, "mine"), "a pool of another name is never listed");
        ok(!listed(names, n, "kiln-0a1b2c3d-east"),
           "nor one whose region suffix does not match its directory");
        ok(!listed(names, n, "kiln-here-tmp"), "nor one whose directory exists");
        ok(!listed(names, n, "default-pool"), "nor the driver's own pool");
        is_int((int) n, 2, "exactly two are stale");
        for (size_t i = 0; i < n; i++) {
                if (strcmp(names[i], "kiln-t-gone-west") == 0)
                        is_str(paths[i], "/var/tmp/kiln-gone.X2/pools/west", "with its path");
                free(names[i]);
                free(paths[i]);
        }
        free(names);
        free(paths);

        ok(virt_pool_remove_definition(conn, "kiln-t-gone-west", &err) == 0,
           "a stale pool's definition is removed");
        ok(virStoragePoolLookupByName(conn, "kiln-t-gone-west") == NULL, "and it is gone");
        ok(virt_pool_remove_definition(conn, "kiln-t-gone-west", &err) < 0 && err &&
                   strstr(err->msg, "kiln-t-gone-west"),
           "removing it twice fails naming it");
        for (size_t i = 0; i < 5; i++) {
                if (p[i] && i != 1)
                        virStoragePoolUndefine(p[i]);
                if (p[i])
                        virStoragePoolFree(p[i]);
        }
}

int main(void)
{
        kiln_autoptr(kiln_error) err = NULL;

        if (kiln_global_init(&err) < 0) {
                printf("Bail out! %s\n", err->msg);
                return 1;
        }
        test_walk();
        test_xml();
        test_stale();
        return done();
}
