/* `kiln help --completion bash`: a bash completion script made from the command table. It
 * completes the verbs, each verb's options and the global options, and the values the table
 * knows:
 *
 *   - a metavar made of literal words ("json|table|text", "auto|kvm|tcg", "bash") lists the
 *     fixed values; a word is literal if it starts with a lower-case letter and holds only
 *     letters, digits, '_' and '-' ("i-..." and "file://PATH" are not);
 *   - FILE completes a file name, DIR a directory, any other placeholder nothing;
 *   - a verb's arguments follow the first word of its usage: VERB completes verbs, literal
 *     words themselves ("instance-running|..."), NAME.ext a file name.
 *
 * `make install` writes it to PREFIX/share/bash-completion/completions/kiln. The script needs
 * bash 4 and nothing else (bash-completion only loads it), and works under `set -u`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* A word of a literal list. */
static bool literal_word(const char *s, size_t n)
{
        if (n == 0 || s[0] < 'a' || s[0] > 'z')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
                            s[i]))
                        return false;
        return true;
}

/* Whether spec (up to its first space) is a list of literal words separated by '|'. */
static bool literal_list(const char *spec)
{
        size_t end = strcspn(spec, " ");

        for (size_t at = 0; at < end;) {
                size_t n = strcspn(spec + at, "| ");

                if (!literal_word(spec + at, n))
                        return false;
                at += n + (spec[at + n] == '|');
        }
        return end > 0;
}

/* The words of a literal list, separated by spaces. */
static void print_words(FILE *f, const char *spec)
{
        size_t end = strcspn(spec, " ");

        for (size_t i = 0; i < end; i++)
                fputc(spec[i] == '|' ? ' ' : spec[i], f);
}

/* A placeholder that names a file: FILE, or NAME.ext ("TEMPLATE.json..."). */
static bool file_placeholder(const char *s)
{
        size_t upper = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");

        if (strcmp(s, "FILE") == 0)
                return true;
        return upper > 0 && s[upper] == '.' && s[upper + 1] >= 'a' && s[upper + 1] <= 'z';
}

/* The value of `values` in the script for a metavar: quoted words, @file, @dir, or - (free
 * text: complete nothing). */
static void print_values(FILE *f, const char *metavar)
{
        if (literal_list(metavar)) {
                fputc('\'', f);
                print_words(f, metavar);
                fputc('\'', f);
        } else if (file_placeholder(metavar)) {
                fputs("@file", f);
        } else if (strcmp(metavar, "DIR") == 0) {
                fputs("@dir", f);
        } else {
                fputc('-', f);
        }
}

static void print_names(FILE *f, const cli_opt *opts)
{
        for (const cli_opt *o = opts; o && o->name; o++)
                fprintf(f, "%s--%s", o == opts ? "" : " ", o->name);
}

/* The case arms giving `values` for each option of opts that takes a value. */
static void print_value_arms(FILE *f, const cli_opt *opts, const char *indent)
{
        for (const cli_opt *o = opts; o && o->name; o++) {
                if (o->kind == CLI_ARG_NONE)
                        continue;
                fprintf(f, "%s--%s) values=", indent, o->name);
                print_values(f, o->metavar ? o->metavar : "VALUE");
                fputs(" ;;\n", f);
        }
}

/* The case arm completing a verb's arguments, if the first word of its usage says how. */
static void print_argument_arm(FILE *f, const cli_verb *v)
{
        char first[512];
        size_t n;
        const char *s = v->usage ? v->usage : "";

        if (v->max_positional == 0)
                return;
        s += strspn(s, "[");
        n = strcspn(s, " ]");
        if (n == 0 || n >= sizeof(first))
                return;
        memcpy(first, s, n);
        first[n] = '\0';
        if (strcmp(first, "VERB") != 0 && !literal_list(first) && !file_placeholder(first))
                return;
        fprintf(f, "        %s) words=", v->name);
        if (strcmp(first, "VERB") == 0)
                fputs("$verbs", f);
        else
                print_values(f, first);
        fputs(" ;;\n", f);
}

static const char script_head[] =
        "# bash completion for kiln(1), made by 'kiln help --completion bash' from kiln's\n"
        "# command table: edit the table, not this file. Needs bash 4, not bash-completion.\n"
        "\n"
        "_kiln()\n"
        "{\n"
        "        local cur=${2-} prev=${3-} verb='' opts='' values='' words='' i\n";

/* After the verbs and global options: find the verb, then what the option before the cursor
 * takes. */
static const char script_find_verb[] =
        "\n"
        "        COMPREPLY=()\n"
        "        # \"--opt=VALUE\" reaches us as \"--opt\" \"=\" \"VALUE\".\n"
        "        if [[ $prev == = ]] && ((COMP_CWORD >= 2)); then\n"
        "                prev=${COMP_WORDS[COMP_CWORD - 2]}\n"
        "        fi\n"
        "        # The verb: the first word that is neither an option nor a global option's "
        "value.\n"
        "        for ((i = 1; i < COMP_CWORD; i++)); do\n"
        "                case ${COMP_WORDS[i]} in\n";

static const char script_values[] =
        "                -*) ;;\n"
        "                *)\n"
        "                        verb=${COMP_WORDS[i]}\n"
        "                        break\n"
        "                        ;;\n"
        "                esac\n"
        "        done\n"
        "\n"
        "        # A verb's options, and the values of the option before the cursor: words,\n"
        "        # @file, @dir, or - for free text.\n"
        "        case $verb in\n";

static const char script_tail[] =
        "        case $values in\n"
        "        '') ;;\n"
        "        -) return 0 ;;\n"
        "        @file | @dir)\n"
        "                compopt -o filenames 2>/dev/null\n"
        "                mapfile -t COMPREPLY < <(compgen \"-${values:1:1}\" -- \"$cur\")\n"
        "                return 0\n"
        "                ;;\n"
        "        *)\n"
        "                mapfile -t COMPREPLY < <(compgen -W \"$values\" -- \"$cur\")\n"
        "                return 0\n"
        "                ;;\n"
        "        esac\n"
        "\n"
        "        # Before the verb: global options or a verb. After it: its arguments if it takes\n"
        "        # some and the word does not start with -, else its options and the global ones.\n"
        "        if [[ -z $verb && $cur == -* ]]; then\n"
        "                words=\"$global --version\"\n"
        "        elif [[ -z $verb ]]; then\n"
        "                words=$verbs\n"
        "        elif [[ $cur == -* || -z $words ]]; then\n"
        "                words=\"$opts $global\"\n"
        "        elif [[ $words == @file ]]; then\n"
        "                compopt -o filenames 2>/dev/null\n"
        "                mapfile -t COMPREPLY < <(compgen -f -- \"$cur\")\n"
        "                return 0\n"
        "        fi\n"
        "        mapfile -t COMPREPLY < <(compgen -W \"$words\" -- \"$cur\")\n"
        "        return 0\n"
        "}\n"
        "complete -F _kiln kiln\n";

void cli_help_completion_bash(FILE *f)
{
        bool any = false;

        fputs(script_head, f);
        fputs("        local verbs='", f);
        for (size_t g = 0; g < cli_n_groups; g++)
                for (size_t i = 0; i < *cli_groups[g].n; i++)
                        fprintf(f, "%s%s", g + i == 0 ? "" : " ", cli_groups[g].verbs[i].name);
        fputs("'\n        local global='", f);
        print_names(f, cli_global_opts);
        fputs("'\n", f);

        fputs(script_find_verb, f);
        fputs("                ", f);
        for (const cli_opt *o = cli_global_opts; o->name; o++) {
                if (o->kind == CLI_ARG_NONE)
                        continue;
                fprintf(f, "%s--%s", any ? " | " : "", o->name);
                any = true;
        }
        fputs(")\n"
              "                        [[ ${COMP_WORDS[i + 1]-} == = ]] && i=$((i + 1))\n"
              "                        i=$((i + 1))\n"
              "                        ;;\n",
              f);

        fputs(script_values, f);
        for (size_t g = 0; g < cli_n_groups; g++) {
                for (size_t i = 0; i < *cli_groups[g].n; i++) {
                        const cli_verb *v = &cli_groups[g].verbs[i];

                        if (!v->opts || !v->opts->name)
                                continue;
                        fprintf(f, "        %s)\n                opts='", v->name);
                        print_names(f, v->opts);
                        fputs("'\n                case $prev in\n", f);
                        print_value_arms(f, v->opts, "                ");
                        fputs("                esac\n                ;;\n", f);
                }
        }
        fputs("        esac\n"
              "        if [[ -z $values ]]; then\n"
              "                case $prev in\n",
              f);
        print_value_arms(f, cli_global_opts, "                ");
        fputs("                esac\n"
              "        fi\n"
              "        # What the verb's arguments are.\n"
              "        case $verb in\n",
              f);
        for (size_t g = 0; g < cli_n_groups; g++)
                for (size_t i = 0; i < *cli_groups[g].n; i++)
                        print_argument_arm(f, &cli_groups[g].verbs[i]);
        fputs("        esac\n\n", f);
        fputs(script_tail, f);
}
