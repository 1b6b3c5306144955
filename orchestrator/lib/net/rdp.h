/* RDP: whether a server answers, and how a client is pointed at it. */
#ifndef KILN_RDP_H
#define KILN_RDP_H

#include <stdint.h>

#include <kiln/error.h>

/* Sends an X.224 Connection Request (ITU-T X.224 in a TPKT, RFC 1006, with an RDP
 * negotiation request for TLS and CredSSP, MS-RDPBCGR 2.2.1.1) to host:port and reads the
 * answer until deadline. 1: an X.224 Connection Confirm (an RDP server is listening); 0: no
 * such answer yet (*ret_why, a new string, says what happened instead). */
int rdp_probe(const char *host, int port, uint64_t deadline, char **ret_why);

/* An .rdp file (the format mstsc and Remmina read) for host:port and user. */
char *rdp_file_render(const char *host, int port, const char *user);

#endif
