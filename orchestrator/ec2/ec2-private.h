/* What the endpoint's files share: a request's parameters, the XML answer, the actions. */
#ifndef KILN_EC2_PRIVATE_H
#define KILN_EC2_PRIVATE_H

#include <libxml/xmlwriter.h>
#include <stdbool.h>

#include "ec2.h"

/* ---- params.c: the Query API's flattened parameters (Name, List.1, Filter.1.Value.2) ---- */
typedef struct ec2_params {
        kiln_http_header *p;
        size_t n;
        bool *used; /* parallel to p: asked for by the action */
} ec2_params;

void ec2_params_free(ec2_params *ps);
/* Adds the pairs of an application/x-www-form-urlencoded text ('+' is a space, %XX a byte). */
int ec2_params_parse_form(ec2_params *ps, const char *text, size_t len, kiln_error **err);
void ec2_params_add(ec2_params *ps, const char *name, const char *value);
/* The value of name (and marks it used), or NULL. */
const char *ec2_param(ec2_params *ps, const char *name);
/* The name of the first parameter that starts with prefix, or NULL; it is not marked used (for
 * parameters an action refuses by their presence, or a list item with several members). */
const char *ec2_param_prefixed(const ec2_params *ps, const char *prefix);
/* PREFIX.1, PREFIX.2, ... in order (a gap ends the list); *ret is the caller's to free (the
 * strings are the params'). */
size_t ec2_param_list(ec2_params *ps, const char *prefix, const char ***ret);
/* Filter.N.Name and Filter.N.Value.M; free with ec2_filters_free. MissingParameter for a
 * filter without a name. */
int ec2_param_filters(ec2_params *ps, kiln_filter **ret, size_t *ret_n, kiln_error **err);
void ec2_filters_free(kiln_filter *f, size_t n);
/* A Boolean parameter: true/false (InvalidParameterValue otherwise); absent is def. */
int ec2_param_bool(ec2_params *ps, const char *name, bool def, bool *ret, kiln_error **err);
/* UnknownParameter for the first parameter no one asked for. */
int ec2_params_check_used(ec2_params *ps, kiln_error **err);

/* ---- xml.c: the answer ---- */
#define EC2_XML_DEPTH 32

typedef struct ec2_xml {
        kiln_sink sink; /* XML names; <item> for array items */
        xmlBufferPtr buf;
        xmlTextWriterPtr w;
        int depth;                  /* objects and arrays open below the root */
        bool opened[EC2_XML_DEPTH]; /* whether each wrote an element */
} ec2_xml;

/* <ACTIONResponse xmlns=...><requestId>ID</requestId> */
void ec2_xml_begin(ec2_xml *x, const char *action, const char *request_id);
/* Closes the document; returns its text (the caller's) and frees the writer. */
char *ec2_xml_end(ec2_xml *x, size_t *ret_len);
/* EC2's error document: <Response><Errors><Error><Code/><Message/></Error></Errors>
 * <RequestID/></Response>, and its HTTP status. */
char *ec2_xml_error(const char *code, const char *message, const char *request_id, size_t *ret_len);
unsigned ec2_error_status(const kiln_error *e, const char **ret_code);

/* ---- actions.c ---- */
typedef struct ec2_call {
        kiln_ctx *ctx;
        ec2_params *params;
        ec2_xml *out;
        bool writes; /* the action changes something */
        bool dry_run;
} ec2_call;

typedef int (*ec2_action_fn)(ec2_call *c, kiln_error **err);

#define EC2_OUT(c) (&(c)->out->sink)
/* The end of every action's parameter reading: UnknownParameter for anything the action did not
 * ask for, then DryRun: DryRunOperation at once for an action that only describes, the
 * library's dry run (kiln_ctx_set_dry_run) for one that writes. */
int ec2_params_done(ec2_call *c, kiln_error **err);
/* What a writing action's dry run answers, from the action's rc and error: DryRunOperation if
 * every check passed, UnauthorizedOperation for a permission that failed, any other error as
 * it is. Returns rc unchanged outside a dry run. */
int ec2_dry_run_answer(ec2_call *c, int rc, kiln_error **err);
/* MissingParameter unless v is a non-empty string. */
int ec2_need(const char *v, const char *name, kiln_error **err);
/* <return>true</return>, the answer of actions without output. */
void ec2_return_true(ec2_call *c);

/* Paging where EC2 pages: MaxResults (5 to 1000; InvalidParameterCombination with IDs unless
 * allowed_with_ids) and NextToken (the index of the next item). */
typedef struct ec2_page {
        size_t first, end; /* items [first, end) */
        bool more;
} ec2_page;
int ec2_paging(ec2_call *c, bool allowed_with_ids, size_t n_ids, ec2_page *p, kiln_error **err);
/* Clamps the page to n items. */
void ec2_page_fit(ec2_page *p, size_t n);
/* NextToken, after the list, if there is more. */
void ec2_page_token(ec2_call *c, const ec2_page *p);

/* An action: its name, function, and whether it changes something (a DryRun then goes through
 * the library's checks). Tables end with a NULL name. */
typedef struct ec2_action {
        const char *name;
        ec2_action_fn fn;
        bool writes;
} ec2_action;
/* actions-instances.c */
extern const ec2_action ec2_instance_actions[];
/* actions-secgroups.c */
extern const ec2_action ec2_secgroup_actions[];

/* actions-write.c: the actions that make or change resources, and the structures they share:
 * TagSpecification.N (ResourceType, Tag.M.Key/Value) and BlockDeviceMapping.N (DeviceName,
 * NoDevice, Ebs.SnapshotId/VolumeSize/VolumeType/DeleteOnTermination/Encrypted). The specs
 * point into the request's parameters. */
typedef struct ec2_tag_specs {
        kiln_tag_spec *specs;
        size_t n;
} ec2_tag_specs;
int ec2_parse_tag_specs(ec2_call *c, ec2_tag_specs *ret, kiln_error **err);
void ec2_tag_specs_free(ec2_tag_specs *t);
/* *ret is the caller's to free(). */
int ec2_parse_mappings(ec2_call *c, kiln_mapping_spec **ret, size_t *ret_n, kiln_error **err);
int ec2_register_image(ec2_call *c, kiln_error **err);
int ec2_copy_image(ec2_call *c, kiln_error **err);
int ec2_describe_image_attribute(ec2_call *c, kiln_error **err);
int ec2_modify_image_attribute(ec2_call *c, kiln_error **err);
int ec2_reset_image_attribute(ec2_call *c, kiln_error **err);
int ec2_describe_snapshot_attribute(ec2_call *c, kiln_error **err);
int ec2_modify_snapshot_attribute(ec2_call *c, kiln_error **err);
int ec2_reset_snapshot_attribute(ec2_call *c, kiln_error **err);
int ec2_create_snapshot(ec2_call *c, kiln_error **err);
int ec2_create_volume(ec2_call *c, kiln_error **err);
int ec2_create_key_pair(ec2_call *c, kiln_error **err);
int ec2_import_key_pair(ec2_call *c, kiln_error **err);
/* The action's function, or NULL (InvalidAction); *ret_writes: whether it changes something. */
ec2_action_fn ec2_action_find(const char *name, bool *ret_writes);

#endif
