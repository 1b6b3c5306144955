/* `kiln help --man`: the manual page kiln(1), in roff, from the command table. Every verb with
 * its synopsis, summary, options and example, by group; the global options; the exit statuses
 * (cli_exit_statuses, the list that maps errors to statuses); the environment and the files.
 * `make install` writes it to PREFIX/share/man/man1/kiln.1, so the page cannot drift from the
 * verbs: change the table, not the page.
 *
 * Text is escaped for roff: a backslash prints as itself, "-" is "\-" (so that options copied
 * from the rendered page are ASCII), a line never starts with a control character, and a span
 * in `backquotes` is set in bold. No hyphenation: verb and option names never break; a long
 * word such as a permission spec may break after a comma, '|' or '/'. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Variables kiln reads, as the page lists them. */
static const struct {
        const char *name;
        const char *meaning;
} environment[] = {
        {"KILN_HOME", "the kiln home, as `--home`"},
        {"KILN_ACCOUNT", "the account to act as, as `--account`"},
        {"KILN_DEBUG", "`1` logs what kiln does to stderr, as `--verbose`"},
        {"KILN_DATA_DIR",
         "the directory to read kiln's data from, instead of the one found as FILES describes"},
        {"KILN_TEMPLATES", "a directory used instead of the data directory's templates/"},
        {"KILN_CATALOG", "the image catalog file, instead of templates/catalog.json"},
        {"KILN_DOWNLOAD_MAX", "the most bytes `import-image` downloads (exit 8 beyond)"},
        {"XDG_DATA_HOME", "the default kiln home of a user other than root is XDG_DATA_HOME/kiln"},
        {"LIBVIRT_DEFAULT_URI", "the libvirt URI `doctor` checks without `--uri`"},
        {"https_proxy, http_proxy, no_proxy", "proxies for downloads, as for curl"},
        {"LIBVIRT_DEBUG, LIBVIRT_LOG_OUTPUTS", "trace libvirt itself"},
};

/* s, escaped for roff, inside a line. */
static void man_text(FILE *f, const char *s)
{
        bool bold = false;

        for (; *s; s++) {
                switch (*s) {
                case '\\':
                        fputs("\\e", f);
                        break;
                case '-':
                        fputs("\\-", f);
                        break;
                case '`':
                        fputs(bold ? "\\fR" : "\\fB", f);
                        bold = !bold;
                        break;
                case ',':
                case '|':
                case '/':
                        /* a line may break after it in a long word such as a spec */
                        fputc(*s, f);
                        if (s[1] && s[1] != ' ')
                                fputs("\\:", f);
                        break;
                default:
                        fputc(*s, f);
                        break;
                }
        }
        if (bold)
                fputs("\\fR", f);
}

/* s as a line of text of its own. */
static void man_line(FILE *f, const char *s)
{
        if (*s == '.' || *s == '\'')
                fputs("\\&", f);
        man_text(f, s);
        fputc('\n', f);
}

/* s in a font (B or I) and back to roman, inside a line. */
static void man_font(FILE *f, char font, const char *s)
{
        fprintf(f, "\\f%c", font);
        man_text(f, s);
        fputs("\\fR", f);
}

static void man_opts(FILE *f, const cli_opt *opts)
{
        for (const cli_opt *o = opts; o && o->name; o++) {
                fputs(".TP\n\\fB\\-\\-", f);
                man_text(f, o->name);
                fputs("\\fR", f);
                if (o->metavar) {
                        fputc(' ', f);
                        man_font(f, 'I', o->metavar);
                }
                fputc('\n', f);
                man_line(f, o->help);
        }
}

static void man_verb(FILE *f, const cli_verb *v)
{
        fputs(".TP\n", f);
        man_font(f, 'B', "kiln ");
        man_font(f, 'B', v->name);
        if (v->usage && *v->usage) {
                fputc(' ', f);
                man_text(f, v->usage);
        }
        fputc('\n', f);
        man_line(f, v->summary);
        if (v->opts && v->opts->name) {
                fputs(".RS\n", f);
                man_opts(f, v->opts);
                fputs(".RE\n", f);
        }
        if (v->example) {
                fputs(".IP\nExample: ", f);
                man_font(f, 'B', v->example);
                fputc('\n', f);
        }
}

static void man_header(FILE *f)
{
        fputs(".\\\" kiln(1), made by 'kiln help --man' from kiln's command table: edit the "
              "table, not this file.\n",
              f);
        fprintf(f, ".TH KILN 1 \"\" \"kiln %s\" \"User Commands\"\n", kiln_version());
        fputs(".nh\n.ad l\n", f);
        fputs(".SH NAME\nkiln \\- bake and launch virtual machine images on this machine's "
              "hypervisor, with the AWS AMI model\n",
              f);
        fputs(".SH SYNOPSIS\n"
              "\\fBkiln\\fR [\\fIGLOBAL OPTIONS\\fR] \\fIVERB\\fR [\\fIOPTIONS\\fR]\n.br\n"
              "\\fBkiln help\\fR [\\fIVERB\\fR]\n.br\n"
              "\\fBkiln \\-\\-version\\fR\n",
              f);
        fputs(".SH DESCRIPTION\n", f);
        man_line(f, "kiln bakes and launches virtual machine images on this machine's own "
                    "hypervisor (KVM, or QEMU's TCG where KVM cannot run, through libvirt) with "
                    "the model of AWS AMIs: launch an instance from an image, configure it, and "
                    "bake it into a new immutable image with its own ID that can be launched, "
                    "shared, copied to another region or deregistered.");
        fputs(".PP\n", f);
        man_line(f, "The verbs and their options mirror `aws ec2`, and so do the results: JSON in "
                    "the aws CLI's shapes on stdout (or a table, or text, with `--output`), "
                    "progress and logs on stderr, and errors once on stderr as "
                    "\"kiln: CODE: message\" with the EC2 error code where one applies. An "
                    "option that takes a list takes the values that follow it, up to the next "
                    "option (`--image-ids ID1 ID2`); `--name=VALUE` works as well as "
                    "`--name VALUE`.");
}

static void man_global(FILE *f)
{
        fputs(".SH GLOBAL OPTIONS\n", f);
        man_line(f, "Accepted before or after the verb.");
        man_opts(f, cli_global_opts);
        fputs(".TP\n\\fB\\-\\-version\\fR\n", f);
        man_line(f, "print \"kiln X.Y.Z\" on the first line, then the data directory in use and "
                    "why (before any verb)");
}

static void man_verbs(FILE *f)
{
        fputs(".SH VERBS\n", f);
        man_line(f, "\"kiln help VERB\" and \"kiln VERB --help\" print the same for one verb.");
        for (size_t g = 0; g < cli_n_groups; g++) {
                const char *name = cli_groups[g].name;

                fprintf(f, ".SS \"%c", toupper((unsigned char) name[0]));
                man_text(f, name + 1);
                fputs("\"\n", f);
                for (size_t i = 0; i < *cli_groups[g].n; i++)
                        man_verb(f, &cli_groups[g].verbs[i]);
        }
}

static void man_trailer(FILE *f)
{
        fputs(".SH EXIT STATUS\n", f);
        for (size_t i = 0; i < cli_n_exit_statuses; i++) {
                fprintf(f, ".TP\n.B %d\n", cli_exit_statuses[i].status);
                man_line(f, cli_exit_statuses[i].meaning);
        }

        fputs(".SH ENVIRONMENT\n", f);
        for (size_t i = 0; i < KILN_ARRAY_SIZE(environment); i++) {
                fputs(".TP\n", f);
                man_font(f, 'B', environment[i].name);
                fputc('\n', f);
                man_line(f, environment[i].meaning);
        }

        fputs(".SH FILES\n.TP\n\\fI/var/lib/kiln\\fR, \\fI~/.local/share/kiln\\fR\n", f);
        man_line(f, "The kiln home, of root and of other users (else `--home`, `KILN_HOME` or "
                    "XDG_DATA_HOME/kiln): config.json (regions, accounts, organizations, the "
                    "storage price), the registry registry.db, the region pools under pools/, "
                    "and one directory per instance under instances/.");
        fputs(".TP\n\\fIPREFIX\\fB/share/kiln\\fR\n", f);
        man_line(f, "kiln's data: templates/ (instance types, domain skeletons, the image "
                    "catalog, the schema of build templates) and cloud-init/ (the "
                    "generalization script, the MOTD user data and scripts). An installed kiln, "
                    "PREFIX/bin/kiln, reads PREFIX/share/kiln; a kiln run from its source tree "
                    "reads the tree; `KILN_DATA_DIR` names another directory. The second line "
                    "of \"kiln --version\" names the directory in use.");

        fputs(".SH SEE ALSO\n"
              ".BR virsh (1),\n.BR qemu\\-img (1),\n.BR ssh (1),\n.BR cloud\\-init (1);\n",
              f);
        man_line(f, "README.md of the source tree (PREFIX/share/doc/kiln/README.md when "
                    "installed) and the examples beside it.");
}

void cli_help_man(FILE *f)
{
        man_header(f);
        man_global(f);
        man_verbs(f);
        man_trailer(f);
}
