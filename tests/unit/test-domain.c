/* Domain XML from the skeletons in templates/domain/: golden files, values escaped, and valid
 * against libvirt's schema (virt-xml-validate). KILN_TEST_REGENERATE=1 rewrites the goldens. */
#include <stdlib.h>

#include "tap.h"
#include "util/util.h"
#include "instance/instance-private.h"
#include "virt/virt-domain.h"

static void check_case(const char *name, const virt_domain_spec *spec)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_autofree char *xml = virt_domain_render(spec, &e);
        kiln_autofree char *golden =
                kiln_xasprintf("%s/tests/data/domain/%s.xml", KILN_SRCDIR, name);
        kiln_autofree char *want = NULL;
        kiln_autofree char *tmp =
                kiln_xasprintf("/tmp/kiln-unit-domain-%d-%s.xml", (int) getpid(), name);
        FILE *f;

        ok(xml != NULL, "%s: renders (%s)", name, e ? e->msg : "ok");
        if (!xml)
                return;
        if (getenv("KILN_TEST_REGENERATE")) {
                f = fopen(golden, "w");
                if (f) {
                        fputs(xml, f);
                        fclose(f);
                }
        }
        if (kiln_file_read(golden, 1 << 20, &want, NULL, &e) == 0)
                is_str(xml, want, "%s: matches %s", name, golden);
        else
                ok(0, "%s: golden file %s (%s)", name, golden, e->msg);
        f = fopen(tmp, "w");
        if (f) {
                fputs(xml, f);
                fclose(f);
        }
        {
                kiln_autoptr(kiln_cmd) cmd = kiln_cmd_new("virt-xml-validate", tmp, "domain", NULL);
                kiln_autoptr(kiln_error) ve = NULL;

                ok(kiln_cmd_run(cmd, NULL, &ve) == 0, "%s: valid against libvirt's schema%s%s",
                   name, ve ? ": " : "", ve ? ve->msg : "");
        }
        unlink(tmp);
}

/* The nwfilter of an instance's security groups: valid against libvirt's schema, with a rule
 * for each kind of permission and the inbound drop last. */
static void check_filters(void)
{
        char tcp[] = "tcp", udp[] = "udp", icmp[] = "icmp", all[] = "-1";
        char any[] = "0.0.0.0/0", lan[] = "10.1.0.0/16", none[] = "";
        kiln_sg_rule rules[] = {{NULL, tcp, 22, 22, any, none},
                                {NULL, udp, 5000, 5010, lan, none},
                                {NULL, icmp, 8, -1, any, none},
                                {NULL, all, -1, -1, lan, none}};
        kiln_autofree char *xml = instance_filter_xml("kiln-i-0123456789abcdef0", rules, 4);
        kiln_autofree char *tmp = kiln_xasprintf("/tmp/kiln-unit-filter-%d.xml", (int) getpid());
        FILE *f = fopen(tmp, "w");

        like(xml, "<tcp srcipaddr='0.0.0.0' srcipmask='0' dstportstart='22' dstportend='22'/>",
             "a TCP rule accepts its port from its source");
        like(xml,
             "<udp srcipaddr='10.1.0.0' srcipmask='16' dstportstart='5000' dstportend='5010'/>",
             "a UDP rule its range");
        like(xml, "<icmp srcipaddr='0.0.0.0' srcipmask='0' type='8'/>", "an ICMP rule its type");
        like(xml, "<all srcipaddr='10.1.0.0' srcipmask='16'/>", "all traffic from a source");
        like(xml, "<all state='ESTABLISHED,RELATED'/>", "replies to the guest's own traffic pass");
        like(xml, "<rule action='drop' direction='in' priority='900'><all/></rule>",
             "the rest of the inbound traffic is dropped");
        if (f) {
                fputs(xml, f);
                fclose(f);
        }
        {
                kiln_autoptr(kiln_cmd) cmd =
                        kiln_cmd_new("virt-xml-validate", tmp, "nwfilter", NULL);
                kiln_autoptr(kiln_error) ve = NULL;

                ok(kiln_cmd_run(cmd, NULL, &ve) == 0,
                   "the filter is valid against libvirt's "
                   "schema%s%s",
                   ve ? ": " : "", ve ? ve->msg : "");
        }
        unlink(tmp);
}

int main(void)
{
        kiln_autofree char *linux_skel =
                kiln_xasprintf("%s/templates/domain/linux.xml", KILN_SRCDIR);
        kiln_autofree char *win_skel =
                kiln_xasprintf("%s/templates/domain/windows.xml", KILN_SRCDIR);
        virt_domain_disk disks[] = {
                {"kiln-pool", "vol-0123456789abcdef0.qcow2", "vda", false, false,
                 "vol0123456789abcdef0"},
                {"kiln-pool", "i-0123456789abcdef0-seed.iso", "vdz", true, true, NULL},
        };
        virt_forward fwd[] = {{"tcp", 40022, 22}, {"tcp", 40080, 8080}, {"udp", 40053, 53}};
        virt_domain_spec spec = {
                .skeleton_path = linux_skel,
                .name = "i-0123456789abcdef0",
                .instance_id = "i-0123456789abcdef0",
                .image_id = "ami-0123456789abcdef0",
                .kvm = false,
                .memory_mib = 1024,
                .vcpus = 2,
                .disks = disks,
                .n_disks = 2,
                .console_log = "/var/lib/kiln/instances/i-0123456789abcdef0/console.log",
                .network = NULL,
                .forwards = fwd,
                .n_forwards = 1,
        };

        check_case("linux-tcg-user", &spec);
        spec.n_forwards = 3;
        check_case("linux-tcg-user-forwards", &spec);
        spec.n_forwards = 0;
        check_case("linux-tcg-user-closed", &spec);
        spec.kvm = true;
        spec.network = "default";
        check_case("linux-kvm-network", &spec);
        spec.filter = "kiln-i-0123456789abcdef0";
        check_case("linux-kvm-network-filter", &spec);
        spec.filter = NULL;
        spec.kvm = false;
        spec.network = NULL;
        spec.uefi = true;
        spec.nvram_path = "/var/lib/kiln/pools/local/i-0123456789abcdef0-nvram.fd";
        check_case("linux-tcg-uefi", &spec);
        spec.secure_boot = true;
        spec.tpm = true;
        check_case("linux-tcg-uefi-secureboot-tpm", &spec);
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *xml = virt_domain_render(&spec, &e);

                like(xml, "machine='q35'", "Secure Boot takes a q35 machine");
                like(xml, "<smm state='on'/>", "with SMM");
                like(xml, "bus=pcie.0", "and user networking's NIC on its PCI Express root");
                like(xml, "<backend type='emulator' version='2.0'/>",
                     "a TPM 2.0 emulated by swtpm");
        }
        spec.uefi = spec.secure_boot = spec.tpm = false;
        spec.nvram_path = NULL;
        spec.skeleton_path = win_skel;
        spec.kvm = false;
        spec.network = NULL;
        fwd[0].guest_port = 3389;
        spec.n_forwards = 1;
        spec.q35 = spec.localtime = true;
        check_case("windows-tcg-user", &spec);
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *xml = virt_domain_render(&spec, &e);

                like(xml, "machine='q35'", "Windows: a q35 machine");
                like(xml,
                     "      <relaxed state='on'/>\n      <vapic state='on'/>\n      <spinlocks "
                     "state='on' retries='8191'/>\n      <runtime state='on'/>\n      "
                     "<frequencies state='on'/>",
                     "Hyper-V enlightenments relaxed, vapic, spinlocks, runtime, frequencies");
                ok(xml && !strstr(xml, "vpindex") && !strstr(xml, "synic") &&
                           !strstr(xml, "stimer"),
                   "under TCG without vpindex, synic and stimer, which QEMU gives only with KVM");
                like(xml, "<clock offset='localtime'>", "the clock in local time");
                like(xml, "<timer name='hypervclock' present='yes'/>", "with Hyper-V's clock");
        }
        spec.kvm = true;
        spec.uefi = spec.tpm = true;
        spec.nvram_path = "/var/lib/kiln/pools/local/i-0123456789abcdef0-nvram.fd";
        spec.localtime = false;
        check_case("windows-kvm-uefi-tpm", &spec);
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *xml = virt_domain_render(&spec, &e);

                like(xml,
                     "<vpindex state='on'/>\n      <synic state='on'/>\n      <stimer "
                     "state='on'/>",
                     "with KVM also vpindex, synic and stimer");
                like(xml, "<clock offset='utc'>", "the clock in UTC when asked");
                like(xml, "<tpm model='tpm-crb'>", "a TPM on q35 is CRB (Windows 11's)");
        }
        spec.kvm = spec.uefi = spec.tpm = false;
        spec.nvram_path = NULL;
        spec.localtime = true;
        spec.legacy_devices = true;
        check_case("windows-tcg-user-legacy", &spec);
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *xml = virt_domain_render(&spec, &e);

                like(xml, "<target dev='sda' bus='sata'/>",
                     "without virtio drivers: the disks on SATA");
                like(xml, "<disk type='volume' device='cdrom'>",
                     "the config drive a CD-ROM, where cloudbase-init looks");
                like(xml, "<target dev='sdz' bus='sata'/>", "  also on SATA");
                ok(xml && !strstr(xml, "bus='virtio'") && !strstr(xml, "virtio-net"),
                   "no virtio disk or NIC");
                like(xml, "value='e1000e,netdev=kilnnet0,bus=pcie.0",
                     "user networking's NIC an e1000e on q35");
                spec.network = "default";
                free(xml);
                xml = virt_domain_render(&spec, &e);
                like(xml, "<model type='e1000e'/>", "  as is a libvirt network's");
                spec.network = NULL;
                spec.q35 = false;
                free(xml);
                xml = virt_domain_render(&spec, &e);
                like(xml, "value='e1000,netdev=kilnnet0,bus=pci.0", "  and an e1000 on i440fx");
                spec.q35 = true;
        }
        spec.legacy_devices = false;
        check_filters();
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *xml = virt_domain_render(&spec, &e);

                /* No local user may watch or type on a Windows console: VNC has no port. */
                like(xml, "<graphics type='vnc'>\n      <listen type='socket'/>",
                     "a Windows instance's screen is on a unix socket in libvirt's own directory");
                ok(xml && !strstr(xml, "listen='127.0.0.1'") && !strstr(xml, "autoport"),
                   "and on no TCP port");
        }
        {
                virt_domain_disk odd[] = {
                        {"pool<&>'\"", "v'ol.qcow2", "vda", false, false, "s<&>"}};
                virt_domain_spec s2 = spec;
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *xml = NULL;

                s2.skeleton_path = linux_skel;
                s2.disks = odd;
                s2.n_disks = 1;
                s2.name = "a<b>&'c\"";
                xml = virt_domain_render(&s2, &e);
                like(xml, "<name>a&lt;b&gt;&amp;&apos;c&quot;</name>", "names are XML-escaped");
                like(xml, "pool='pool&lt;&amp;&gt;&apos;&quot;'", "pool names are escaped");
        }
        {
                /* Redefining an existing domain keeps its UUID (libvirt refuses a new one). */
                virt_domain_spec s4 = spec;
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *xml = NULL;

                s4.skeleton_path = linux_skel;
                s4.uuid = "0b1a1c8e-4f3e-4d0a-9c55-2f0e6f1d2a33";
                xml = virt_domain_render(&s4, &e);
                like(xml, "</name>\n  <uuid>0b1a1c8e-4f3e-4d0a-9c55-2f0e6f1d2a33</uuid>",
                     "a given UUID follows the name");
        }
        {
                virt_domain_spec s3 = spec;
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *xml = NULL;

                s3.skeleton_path = "/nonexistent/skeleton.xml";
                xml = virt_domain_render(&s3, &e);
                ok(xml == NULL && e && strstr(e->msg, "/nonexistent/skeleton.xml"),
                   "a missing skeleton is an error naming it");
        }
        return done();
}
