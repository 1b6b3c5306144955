/* Rules with EC2's codes: IDs, names, descriptions, wildcards; and the config's strictness. */
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include <kiln/tag.h>
#include <kiln/text.h>

#include "image/image-rules.h"
#include "tap.h"
#include "util/util.h"

static void check_code(int rc, kiln_error **e, const char *code, const char *what)
{
        ok(rc == -1 && *e && (*e)->api_code && strcmp((*e)->api_code, code) == 0, "%s: %s", what,
           code);
        *e = kiln_error_free(*e);
}

static void write_config(const char *dir, const char *text)
{
        kiln_autofree char *path = kiln_xasprintf("%s/config.json", dir);
        FILE *f = fopen(path, "w");

        if (!f)
                abort();
        fputs(text, f);
        fclose(f);
}

int main(void)
{
        kiln_error *e = NULL;
        char tmpl[] = "/tmp/kiln-unit-rules.XXXXXX";
        char *dir = mkdtemp(tmpl);

        ok(kiln_id_valid("ami", "ami-0123456789abcdef0"), "17 hex digits");
        ok(kiln_id_valid("ami", "ami-1a2b3c4d"), "8 hex digits (older IDs)");
        ok(!kiln_id_valid("ami", "ami-0123456789ABCDEF0"), "upper case refused");
        ok(!kiln_id_valid("ami", "ami-0123456789abcdef"), "16 digits refused");
        ok(!kiln_id_valid("ami", "snap-0123456789abcdef0"), "wrong prefix refused");
        {
                kiln_autofree char *id = kiln_id_new("snap");
                kiln_autofree char *id2 = kiln_id_new("snap");

                ok(kiln_id_valid("snap", id), "new IDs are valid (%s)", id);
                ok(strcmp(id, id2) != 0, "new IDs differ");
        }
        check_code(rules_check_image_id("ami-zz", &e), &e, "InvalidAMIID.Malformed", "bad AMI ID");
        check_code(rules_check_snapshot_id("snap-1", &e), &e, "InvalidSnapshotID.Malformed",
                   "bad snapshot ID");
        is_int(kiln_image_name_check("web (v2) [x86_64]/base.img @2024 it's_ok-1", &e), 0,
               "every character EC2 allows");
        check_code(kiln_image_name_check("ab", &e), &e, "InvalidAMIName.Malformed", "2 characters");
        {
                char longname[130];

                memset(longname, 'a', 129);
                longname[129] = '\0';
                check_code(kiln_image_name_check(longname, &e), &e, "InvalidAMIName.Malformed",
                           "129 characters");
                longname[128] = '\0';
                is_int(kiln_image_name_check(longname, &e), 0, "128 characters");
        }
        check_code(kiln_image_name_check("web#1", &e), &e, "InvalidAMIName.Malformed", "'#'");
        check_code(kiln_image_name_check(NULL, &e), &e, "InvalidAMIName.Malformed", "no name");
        {
                char d[257];

                memset(d, 'x', 256);
                d[256] = '\0';
                check_code(kiln_image_description_check(d, &e), &e, "InvalidParameterValue",
                           "256-character description");
                d[255] = '\0';
                is_int(kiln_image_description_check(d, &e), 0, "255-character description");
        }
        check_code(kiln_image_description_check("x\x1b]2;pwned\x07", &e), &e,
                   "InvalidParameterValue", "a description with a terminal escape");
        {
                /* 255 characters of two bytes each: EC2 counts characters */
                char d[2 * 256 + 1] = "";

                for (size_t i = 0; i < 255; i++)
                        memcpy(d + 2 * i, "\xc3\xa9", 3);
                is_int(kiln_image_description_check(d, &e), 0,
                       "255 'é' (510 bytes) are 255 characters");
                memcpy(d + 510, "\xc3\xa9", 3); /* the 256th */
                check_code(kiln_image_description_check(d, &e), &e, "InvalidParameterValue",
                           "256 'é'");
        }

        /* tags: EC2's limits and reserved prefixes, kiln's as well */
        {
                char key[130], value[258];

                is_int(kiln_tag_check("Name", "web", &e), 0, "tag: a plain tag");
                is_int(kiln_tag_check("Name", NULL, &e), 0, "tag: no value is the empty value");
                check_code(kiln_tag_check("", "x", &e), &e, "InvalidParameterValue",
                           "tag: empty key");
                check_code(kiln_tag_check("aws:cloudformation", "x", &e), &e,
                           "InvalidParameterValue", "tag: aws: is reserved");
                check_code(kiln_tag_check("AWS:x", "x", &e), &e, "InvalidParameterValue",
                           "tag: in any case");
                check_code(kiln_tag_check("kiln:generalized", "true", &e), &e,
                           "InvalidParameterValue", "tag: kiln: is reserved");
                memset(key, 'k', 128);
                key[128] = '\0';
                is_int(kiln_tag_check(key, "x", &e), 0, "tag: a 128-character key");
                key[128] = 'k';
                key[129] = '\0';
                check_code(kiln_tag_check(key, "x", &e), &e, "InvalidParameterValue",
                           "tag: a 129-character key");
                memset(value, 'v', 256);
                value[256] = '\0';
                is_int(kiln_tag_check("k", value, &e), 0, "tag: a 256-character value");
                value[256] = 'v';
                value[257] = '\0';
                check_code(kiln_tag_check("k", value, &e), &e, "InvalidParameterValue",
                           "tag: a 257-character value");
                check_code(kiln_tag_check("k", "a\x1b[2Jb", &e), &e, "InvalidParameterValue",
                           "tag: a control character in the value");
        }

        /* kiln_text_check: what may be stored for others to print */
        {
                static const struct {
                        const char *value, *why;
                } good[] = {
                        {"Web tier (nginx) - v2.1", "ASCII"},
                        {"caf\xc3\xa9 cr\xc3\xa8me", "é and è"},
                        {"\xe4\xb8\xad\xe6\x96\x87 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "CJK"},
                        {"\xf0\x9f\x94\xa5 \xc2\xa0nbsp", "a 4-byte character and U+00A0"},
                        {"C:\\x1b is text", "a backslash and 'x1b' are text"},
                        {"", "the empty string"},
                };
                static const struct {
                        const char *value, *why, *want;
                } bad[] = {
                        {"tab\there", "a tab (C0)", "character 4 is the control character U+0009"},
                        {"two\nlines", "a newline (C0)", "U+000A"},
                        {"cr\r", "a carriage return (C0)", "U+000D"},
                        {"\x01", "U+0001", "character 1 is the control character U+0001"},
                        {"x\x1b]2;title\x07", "an OSC sequence",
                         "character 2 is the control character U+001B"},
                        {"\x1b[2J", "a CSI sequence (clear screen)", "U+001B"},
                        {"del\x7f", "DEL", "character 4 is the control character U+007F"},
                        {"\xc2\x9b"
                         "2J",
                         "C1 CSI as UTF-8", "character 1 is the control character U+009B"},
                        {"caf\xc3\xa9\xc2\x85", "C1 NEL after é",
                         "character 5 is the control character U+0085"},
                        {"\x9b"
                         "2J",
                         "a raw C1 byte (not UTF-8)", "it is not UTF-8 (byte 1 is 0x9b)"},
                        {"ab\xc3", "a sequence cut short", "it is not UTF-8 (byte 3 is 0xc3)"},
                        {"\xc3("
                         "x",
                         "a lead byte without continuation", "not UTF-8"},
                        {"\xff\xfe", "0xff", "not UTF-8"},
                        {"\xc0\xaf", "an overlong '/'", "it is not UTF-8 (byte 1 is 0xc0)"},
                        {"\xe0\x80\x9b", "an overlong C1 in 3 bytes", "not UTF-8"},
                        {"\xed\xa0\x80", "a surrogate", "not UTF-8"},
                        {"\xf4\x90\x80\x80", "above U+10FFFF", "not UTF-8"},
                };

                for (size_t i = 0; i < KILN_ARRAY_SIZE(good); i++)
                        is_int(kiln_text_check("Description", good[i].value, 255, &e), 0,
                               "text: %s passes", good[i].why);
                for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
                        is_int(kiln_text_check("Description", bad[i].value, 255, &e), -1,
                               "text: %s is refused", bad[i].why);
                        ok(e && e->code == KILN_E_INVALID && e->api_code &&
                                   strcmp(e->api_code, "InvalidParameterValue") == 0,
                           "  with InvalidParameterValue");
                        like(e ? e->msg : NULL, "Value for parameter Description is invalid",
                             "  naming the field");
                        like(e ? e->msg : NULL, bad[i].want, "  and saying why");
                        e = kiln_error_free(e);
                }
                is_int(kiln_text_check("Name", NULL, 10, &e), 0, "text: absent passes");
                is_int(kiln_text_check("Tag.Value", "abc", 3, &e), 0, "text: at the limit");
                is_int(kiln_text_check("Tag.Value", "abcd", 3, &e), -1, "text: over the limit");
                like(e ? e->msg : NULL,
                     "Value for parameter Tag.Value is invalid: 4 characters, more than 3",
                     "  names the field and the limit");
                e = kiln_error_free(e);
                is_int(kiln_text_check("Tag.Value", "abcd\x1b", 0, &e), -1,
                       "text: 0 is no limit, but controls still count");
                e = kiln_error_free(e);
        }

        ok(filter_wildcard("web-*", "web-1"), "* matches a run");
        ok(filter_wildcard("web-*", "web-"), "* matches nothing");
        ok(!filter_wildcard("web-*", "db-1"), "* anchors at the start");
        ok(filter_wildcard("*-prod", "api-prod"), "leading *");
        ok(filter_wildcard("web-?", "web-1"), "? matches one");
        ok(filter_wildcard("web-?", "web-"), "? matches zero (EC2)");
        ok(!filter_wildcard("web-?", "web-12"), "? not two");
        ok(filter_wildcard("a\\*b", "a*b"), "\\* is a literal star");
        ok(!filter_wildcard("a\\*b", "axb"), "escaped star does not wildcard");
        ok(filter_wildcard("Web", "Web") && !filter_wildcard("web", "Web"), "case-sensitive");
        ok(filter_wildcard("*a*b*c*", "xxaxxbxxcxx"), "several stars");
        ok(!filter_wildcard("*a*b*c*", "xxcxxbxxaxx"), "several stars keep their order");
        ok(filter_wildcard("**", "") && filter_wildcard("*", "") && !filter_wildcard("?", "ab"),
           "stars on the empty string; ? is at most one");
        ok(filter_wildcard("a?*?c", "abc") && filter_wildcard("a?*?c", "ac"),
           "? and * side by side");
        ok(filter_wildcard("a\\\\?b", "a\\b") && filter_wildcard("a\\\\?b", "a\\xb"),
           "\\\\ is a literal backslash before a wildcard");
        ok(filter_wildcard("a\\?b", "a?b") && !filter_wildcard("a\\?b", "ab"),
           "\\? is a literal question mark");
        ok(filter_wildcard("end\\", "end\\"), "a trailing backslash is itself");
        ok(filter_wildcard("caf?", "caf\xc3\xa9") &&
                   filter_wildcard("?\xe4\xb8\xad?", "\xe4\xb8\xad\xe6\x96\x87"),
           "? is one character, not one byte (é, CJK)");
        ok(!filter_wildcard("caf?", "caf\xc3\xa9x"), "and not two");
        {
                /* Backtracking took hours on this: it must be linear in each length. */
                const char *p = "*a*a*a*a*a*a*a*a*a*a*a*ab";
                char s[129];
                struct timespec t0, t1;
                double secs;
                bool m;

                memset(s, 'a', 128);
                s[128] = '\0';
                alarm(60); /* a regression fails here instead of hanging the tier */
                clock_gettime(CLOCK_MONOTONIC, &t0);
                m = filter_wildcard(p, s);
                s[127] = 'b';
                m = !m && filter_wildcard(p, s);
                clock_gettime(CLOCK_MONOTONIC, &t1);
                alarm(0);
                secs = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
                ok(m, "%s: no match on 128 'a', a match when the last is 'b'", p);
                ok(secs < 0.5, "and at once (%.3f s)", secs);
        }

        /* config: first run creates, bad files are named with the JSON path */
        {
                kiln_autoptr(config) c = NULL;

                is_int(config_load_or_create(dir, &c, &e), 0, "first run creates a config");
                ok(c && c->n_regions == 1 && strcmp(c->regions[0].name, "local") == 0,
                   "with region local");
                ok(c && strcmp(c->regions[0].uri, "qemu:///system") == 0, "on qemu:///system");
                ok(c && kiln_is_digits(c->default_account, 12), "and a 12-digit account");
                ok(c && strncmp(c->regions[0].pool, "kiln-", 5) == 0 &&
                           strstr(c->regions[0].pool, "-local"),
                   "a pool name unique to the home (%s)", c ? c->regions[0].pool : "");
                ok(c && c->price_per_gib_month == 0.05, "price 0.05 per GiB-month");
        }
        {
                kiln_autoptr(config) c = NULL;
                write_config(dir,
                             "{\"DefaultRegion\":\"local\",\"DefaultAccount\":\"111111111111\","
                             "\"Regions\":[{\"Name\":\"local\",\"Uri\":\"qemu:///system\","
                             "\"Pool\":\"p\",\"PoolPath\":\"/x\",\"Colour\":\"red\"}],"
                             "\"Accounts\":[{\"AccountId\":\"111111111111\"}]}");

                is_int(config_load_or_create(dir, &c, &e), -1, "an unknown key is refused");
                like(e ? e->msg : NULL, "$.Regions[0].Colour: unknown key", "named by its path");
                e = kiln_error_free(e);
        }
        {
                kiln_autoptr(config) c = NULL;
                write_config(dir, "{\"DefaultRegion\": \n  \"local\",,}");

                is_int(config_load_or_create(dir, &c, &e), -1, "bad JSON is refused");
                like(e ? e->msg : NULL, "config.json:2:", "with file and line");
                ok(e && e->code == KILN_E_JSON, "as a JSON error");
                e = kiln_error_free(e);
        }
        {
                kiln_autoptr(config) c = NULL;
                write_config(
                        dir,
                        "{\"DefaultRegion\":\"west\",\"DefaultAccount\":\"111111111111\","
                        "\"Regions\":[{\"Name\":\"local\",\"Uri\":\"u\",\"Pool\":\"p\","
                        "\"PoolPath\":\"/x\"}],\"Accounts\":[{\"AccountId\":\"111111111111\"}]}");

                is_int(config_load_or_create(dir, &c, &e), -1,
                       "a default region that is not configured");
                like(e ? e->msg : NULL, "$.DefaultRegion", "is named");
                e = kiln_error_free(e);
        }
        {
                kiln_autoptr(config) c = NULL;
                write_config(
                        dir,
                        "{\"DefaultRegion\":\"local\",\"DefaultAccount\":\"111111111111\","
                        "\"Regions\":[{\"Name\":\"local\",\"Uri\":\"u\",\"Pool\":\"p\","
                        "\"PoolPath\":\"/x\"}],\"Accounts\":[{\"AccountId\":\"111111111111\"}],"
                        "\"Organizations\":[{\"Id\":\"o-abcdefghij\",\"MasterAccount\":"
                        "\"111111111111\",\"Accounts\":[\"222222222222\"]}]}");

                is_int(config_load_or_create(dir, &c, &e), 0, "organizations parse");
                ok(c && config_org_find(
                                c, "arn:aws:organizations::111111111111:organization/o-abcdefghij"),
                   "found by ARN");
                ok(c && config_org_has_member(config_org_find(c, "o-abcdefghij"), "222222222222"),
                   "members belong");
                ok(c && !config_org_has_member(config_org_find(c, "o-abcdefghij"), "333333333333"),
                   "others do not");
        }
        {
                static const struct {
                        const char *region, *what, *msg;
                } bad[] = {
                        {"\"ListenAddress\":\"host.example\"", "a listen address that is a name",
                         "$.Regions[0].ListenAddress: must be an IPv4 or IPv6 address"},
                        {"\"ListenAddress\":\"10.0.0.1\",\"PortRange\":\"500-600\"",
                         "a port range below 1024", "$.Regions[0].PortRange: must be FIRST-LAST"},
                        {"\"PortRange\":\"42000-41000\"", "a range that ends before it starts",
                         "$.Regions[0].PortRange"},
                        {"\"PortRange\":\"42000-43000x\"", "a range with more after it",
                         "$.Regions[0].PortRange"},
                };

                for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                        kiln_autoptr(config) c = NULL;
                        kiln_autofree char *text = kiln_xasprintf(
                                "{\"DefaultRegion\":\"local\",\"DefaultAccount\":\"111111111111\","
                                "\"Regions\":[{\"Name\":\"local\",\"Uri\":\"u\",\"Pool\":\"p\","
                                "\"PoolPath\":\"/x\",%s}],\"Accounts\":[{\"AccountId\":"
                                "\"111111111111\"}]}",
                                bad[i].region);

                        write_config(dir, text);
                        is_int(config_load_or_create(dir, &c, &e), -1, "refused: %s", bad[i].what);
                        like(e ? e->msg : NULL, bad[i].msg, "  named by its path");
                        e = kiln_error_free(e);
                }
        }
        {
                kiln_autoptr(config) c = NULL;
                write_config(dir,
                             "{\"DefaultRegion\":\"far\",\"DefaultAccount\":\"111111111111\","
                             "\"Regions\":[{\"Name\":\"far\",\"Uri\":"
                             "\"qemu+tcp://10.0.0.2/system\",\"Pool\":\"p\",\"PoolPath\":\"/x\","
                             "\"ListenAddress\":\"10.0.0.2\",\"PortRange\":\"41000-41009\"},"
                             "{\"Name\":\"near\",\"Uri\":\"qemu:///system\",\"Pool\":\"q\","
                             "\"PoolPath\":\"/y\"}],"
                             "\"Accounts\":[{\"AccountId\":\"111111111111\"}]}");
                is_int(config_load_or_create(dir, &c, &e), 0, "a region on another host parses");
                ok(c && c->regions[0].listen_address &&
                           strcmp(c->regions[0].listen_address, "10.0.0.2") == 0 &&
                           c->regions[0].first_port == 41000 && c->regions[0].last_port == 41009,
                   "with its ListenAddress and PortRange");
                ok(c && kiln_region_is_remote(&c->regions[0]),
                   "qemu+tcp://10.0.0.2/system is remote");
                ok(c && !kiln_region_is_remote(&c->regions[1]) &&
                           c->regions[1].listen_address == NULL &&
                           c->regions[1].first_port == 40000,
                   "qemu:///system is not; no ListenAddress, the default range");
        }
        {
                static const struct {
                        const char *region, *what, *msg;
                } bad[] = {
                        {"\"Hosts\":[]", "an empty Hosts list",
                         "$.Regions[0].Hosts: must be a list of 1 to 26 hosts"},
                        {"\"Hosts\":[{\"PoolPath\":\"/x\"}]", "a host without its Uri",
                         "$.Regions[0].Hosts[0].Uri: missing"},
                        {"\"Hosts\":[{\"Uri\":\"a\",\"PoolPath\":\"/x\"},{\"Uri\":\"a\","
                         "\"PoolPath\":\"/y\"}]",
                         "a host named twice",
                         "$.Regions[0].Hosts[1]: the region names this Uri twice"},
                        {"\"Hosts\":[{\"Uri\":\"a\",\"PoolPath\":\"/x\",\"ListenAddress\":"
                         "\"far\"}]",
                         "a host's listen address that is a name",
                         "$.Regions[0].Hosts[0].ListenAddress: must be an IPv4 or IPv6"},
                        {"\"Hosts\":[{\"Uri\":\"a\",\"PoolPath\":\"/x\",\"Pool\":\"p\"}]",
                         "an unknown key of a host", "$.Regions[0].Hosts[0].Pool: unknown key"},
                        {"\"Hosts\":[{\"Uri\":\"a\",\"PoolPath\":\"/x\",\"ListenAddress\":"
                         "\"10.0.0.1\",\"ProxyJump\":{\"User\":\"u\",\"Host\":\"h\","
                         "\"IdentityFile\":\"/k\",\"HostKey\":\"ssh-ed25519 AAAA\"}}]",
                         "both ListenAddress and ProxyJump",
                         "$.Regions[0].Hosts[0]: give either ListenAddress or ProxyJump"},
                        {"\"Hosts\":[{\"Uri\":\"a\",\"PoolPath\":\"/x\",\"ProxyJump\":{"
                         "\"User\":\"u\",\"Host\":\"h\",\"IdentityFile\":\"/k\"}}]",
                         "a jump host without its host key",
                         "$.Regions[0].Hosts[0].ProxyJump.HostKey: missing"},
                        {"\"Hosts\":[{\"Uri\":\"a\",\"PoolPath\":\"/x\",\"ProxyJump\":{"
                         "\"User\":\"u\",\"Host\":\"h\",\"Port\":70000,\"IdentityFile\":"
                         "\"/k\",\"HostKey\":\"ssh-ed25519 AAAA\"}}]",
                         "a jump host's port out of range",
                         "$.Regions[0].Hosts[0].ProxyJump.Port: must be a number from 1 to 65535"},
                        {"\"Hosts\":[{\"Uri\":\"a\",\"PoolPath\":\"/x\",\"ProxyJump\":{"
                         "\"User\":\"u\",\"Host\":\"-oProxyCommand=x\",\"IdentityFile\":\"/k\","
                         "\"HostKey\":\"ssh-ed25519 AAAA\"}}]",
                         "a jump host that would be an ssh option",
                         "$.Regions[0].Hosts[0].ProxyJump: User and Host must be a plain name"},
                        {"\"Uri\":\"a\",\"Hosts\":[{\"Uri\":\"a\",\"PoolPath\":\"/x\"}]",
                         "both Uri and Hosts",
                         "$.Regions[0]: give either Hosts or Uri, PoolPath and ListenAddress"},
                };

                for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                        kiln_autoptr(config) c = NULL;
                        kiln_autofree char *text = kiln_xasprintf(
                                "{\"DefaultRegion\":\"local\",\"DefaultAccount\":\"111111111111\","
                                "\"Regions\":[{\"Name\":\"local\",\"Pool\":\"p\",%s}],"
                                "\"Accounts\":[{\"AccountId\":\"111111111111\"}]}",
                                bad[i].region);

                        write_config(dir, text);
                        is_int(config_load_or_create(dir, &c, &e), -1, "refused: %s", bad[i].what);
                        like(e ? e->msg : NULL, bad[i].msg, "  named by its path");
                        e = kiln_error_free(e);
                }
        }
        {
                kiln_autoptr(config) c = NULL;
                const kiln_region_info *r;

                write_config(dir, "{\"DefaultRegion\":\"rack\",\"DefaultAccount\":\"111111111111\","
                                  "\"Regions\":[{\"Name\":\"rack\",\"Pool\":\"p\",\"Hosts\":["
                                  "{\"Uri\":\"qemu:///system\",\"PoolPath\":\"/x\"},"
                                  "{\"Uri\":\"qemu+tcp://10.0.0.2/system\",\"PoolPath\":\"/y\","
                                  "\"ListenAddress\":\"10.0.0.2\"},"
                                  "{\"Uri\":\"qemu+tcp://10.0.0.3/system\",\"PoolPath\":\"/z\","
                                  "\"ProxyJump\":{\"User\":\"kiln\",\"Host\":\"10.0.0.3\","
                                  "\"IdentityFile\":\"/k\",\"HostKey\":\"ssh-ed25519 AAAA\"}}]}],"
                                  "\"Accounts\":[{\"AccountId\":\"111111111111\"}]}");
                is_int(config_load_or_create(dir, &c, &e), 0, "a region of three hosts parses");
                r = c ? config_region(c, "rack") : NULL;
                ok(r && r->n_hosts == 3, "with its three hosts");
                ok(r && r->hosts[2].jump && strcmp(r->hosts[2].jump->user, "kiln") == 0 &&
                           strcmp(r->hosts[2].jump->host, "10.0.0.3") == 0 &&
                           r->hosts[2].jump->port == 22 && !r->hosts[1].jump,
                   "the third's ProxyJump, port 22 by default");
                ok(r && strcmp(r->hosts[0].zone, "racka") == 0 &&
                           strcmp(r->hosts[1].zone, "rackb") == 0,
                   "one zone each: racka, rackb");
                ok(r && strlen(r->hosts[1].host_id) == 19 &&
                           strncmp(r->hosts[1].host_id, "h-", 2) == 0 &&
                           strspn(r->hosts[1].host_id + 2, "0123456789abcdef") == 17,
                   "a HostId of EC2's shape: h- and 17 hex digits");
                ok(r && strcmp(r->hosts[0].host_id, r->hosts[1].host_id) != 0, "one per host");
                ok(r && strcmp(r->uri, "qemu:///system") == 0 && strcmp(r->pool_path, "/x") == 0 &&
                           !r->listen_address,
                   "the region's Uri and PoolPath are its first host's");
                ok(r && !kiln_host_is_remote(&r->hosts[0]) && kiln_host_is_remote(&r->hosts[1]),
                   "the second host is remote, the first is not");
                ok(r && kiln_region_host(r, "rackb") == &r->hosts[1] &&
                           kiln_region_host(r, r->hosts[1].host_id) == &r->hosts[1] &&
                           !kiln_region_host(r, "rackd"),
                   "hosts are found by zone or HostId");
        }
        {
                kiln_autoptr(config) c = NULL;

                write_config(dir, "{\"DefaultRegion\":\"one\",\"DefaultAccount\":\"111111111111\","
                                  "\"Regions\":[{\"Name\":\"one\",\"Uri\":\"qemu:///system\","
                                  "\"Pool\":\"p\",\"PoolPath\":\"/x\"}],"
                                  "\"Accounts\":[{\"AccountId\":\"111111111111\"}]}");
                is_int(config_load_or_create(dir, &c, &e), 0, "a region of one host parses");
                ok(c && c->regions[0].n_hosts == 1 &&
                           strcmp(c->regions[0].hosts[0].zone, "onea") == 0 &&
                           strcmp(c->regions[0].hosts[0].uri, "qemu:///system") == 0,
                   "as one host, zone onea");
        }
        {
                kiln_autofree char *p = kiln_xasprintf("%s/config.json", dir);

                unlink(p);
                rmdir(dir);
        }
        return done();
}
