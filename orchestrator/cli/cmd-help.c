/* `kiln help [VERB]`: the verbs by group, or one verb's usage, options and example; with
 * --man the manual page (help-man.c), with --completion bash the completion script
 * (help-completion.c), both made from the same command table. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void print_opts(FILE *f, const cli_opt *opts)
{
        for (const cli_opt *o = opts; o && o->name; o++) {
                char left[128];

                snprintf(left, sizeof(left), "--%s%s%s", o->name, o->metavar ? " " : "",
                         o->metavar ? o->metavar : "");
                if (strlen(left) > 30) /* the help on a line of its own, in its column */
                        fprintf(f, "  %s\n  %-30s %s\n", left, "", o->help);
                else
                        fprintf(f, "  %-30s %s\n", left, o->help);
        }
}

void cli_help_verb(FILE *f, const cli_verb *v)
{
        fprintf(f, "usage: kiln %s %s\n\n%s\n", v->name, v->usage, v->summary);
        if (v->opts && v->opts->name) {
                fputs("\noptions:\n", f);
                print_opts(f, v->opts);
        }
        fputs("\nglobal options:\n", f);
        print_opts(f, cli_global_opts);
        if (v->example)
                fprintf(f, "\nexample:\n  %s\n", v->example);
}

void cli_help_all(FILE *f)
{

        fprintf(f, "usage: kiln [GLOBAL OPTIONS] VERB [OPTIONS]\n\n"
                   "kiln bakes and launches virtual machine images on this machine's hypervisor,\n"
                   "with the model of AWS AMIs.\n");
        for (size_t g = 0; g < cli_n_groups; g++) {
                fprintf(f, "\n%s:\n", cli_groups[g].name);
                for (size_t i = 0; i < *cli_groups[g].n; i++)
                        fprintf(f, "  %-28s %s\n", cli_groups[g].verbs[i].name,
                                cli_groups[g].verbs[i].summary);
        }
        fputs("\nglobal options:\n", f);
        print_opts(f, cli_global_opts);
        fputs("\n'kiln help VERB' shows a verb's options, 'kiln help --man' the manual page;\n"
              "'kiln --version' the version and where kiln's data comes from.\n",
              f);
}

int cmd_help(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        const char *shell = cli_arg_get(args, "completion");
        bool man = cli_arg_has(args, "man");
        const cli_verb *v;

        (void) verb;
        (void) g;
        if ((man || shell) && args->n_positional > 0)
                return cli_usage_error("'help %s' takes no verb", man ? "--man" : "--completion");
        if (man && shell)
                return cli_usage_error("'help --man' and 'help --completion': one at a time");
        if (man) {
                cli_help_man(stdout);
                return CLI_EXIT_OK;
        }
        if (shell) {
                if (strcmp(shell, "bash") != 0)
                        return cli_usage_error("no completion for '%s': only bash", shell);
                cli_help_completion_bash(stdout);
                return CLI_EXIT_OK;
        }
        if (args->n_positional == 0) {
                cli_help_all(stdout);
                return CLI_EXIT_OK;
        }
        v = cli_verb_find(args->positional[0]);
        if (!v)
                return cli_usage_error("unknown verb '%s' (see 'kiln help')", args->positional[0]);
        cli_help_verb(stdout, v);
        return CLI_EXIT_OK;
}
