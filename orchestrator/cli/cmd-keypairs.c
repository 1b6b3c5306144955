/* Key pair verbs. */
#include "cli.h"

const cli_verb cli_keypair_verbs[1];
const size_t cli_n_keypair_verbs = 0;
