/* Instance verbs. */
#include "cli.h"

const cli_verb cli_instance_verbs[1];
const size_t cli_n_instance_verbs = 0;
