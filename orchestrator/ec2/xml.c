/* EC2's XML answers, written with libxml2's text writer: the shapes of <kiln/shape.h> under
 * their XML names (array items as <item>), the error document, and each error's HTTP status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec2-private.h"

#define XMLNS "http://ec2.amazonaws.com/doc/2016-11-15/"
#define X(s)  (((ec2_xml *) (s))->w)

static const xmlChar *u(const char *s)
{
        return (const xmlChar *) s;
}

/* An unnamed object directly in the answer (CreateVolume's Volume) is the answer itself: its
 * members go under the root element, as EC2 writes them. */
static void x_object(kiln_sink *s, const char *json, const char *xml)
{
        ec2_xml *x = (ec2_xml *) s;
        bool open = xml || x->depth > 0;

        (void) json;
        if (x->depth < EC2_XML_DEPTH)
                x->opened[x->depth] = open;
        x->depth++;
        if (open)
                xmlTextWriterStartElement(X(s), u(xml ? xml : "item"));
}

static void x_end(kiln_sink *s)
{
        ec2_xml *x = (ec2_xml *) s;

        if (x->depth > 0)
                x->depth--;
        if (x->depth >= EC2_XML_DEPTH || x->opened[x->depth])
                xmlTextWriterEndElement(X(s));
}

static void x_str(kiln_sink *s, const char *json, const char *xml, const char *v)
{
        (void) json;
        if (v)
                xmlTextWriterWriteElement(X(s), u(xml ? xml : "item"), u(v));
}

static void x_int(kiln_sink *s, const char *json, const char *xml, long long v)
{
        (void) json;
        xmlTextWriterWriteFormatElement(X(s), u(xml), "%lld", v);
}

static void x_bool(kiln_sink *s, const char *json, const char *xml, bool v)
{
        (void) json;
        xmlTextWriterWriteElement(X(s), u(xml), u(v ? "true" : "false"));
}

/* kiln's timestamps are already EC2's form: 2024-01-02T03:04:05.678Z. */
static void x_time(kiln_sink *s, const char *json, const char *xml, const char *iso)
{
        x_str(s, json, xml, iso);
}

void ec2_xml_begin(ec2_xml *x, const char *action, const char *request_id)
{
        char root[128];

        x->sink = (kiln_sink){x_object, x_end, x_object, x_end, x_str, x_int, x_bool, x_time};
        x->buf = xmlBufferCreate();
        x->w = x->buf ? xmlNewTextWriterMemory(x->buf, 0) : NULL;
        if (!x->w)
                abort();
        snprintf(root, sizeof(root), "%sResponse", action);
        xmlTextWriterStartDocument(x->w, NULL, "UTF-8", NULL);
        xmlTextWriterStartElement(x->w, u(root));
        xmlTextWriterWriteAttribute(x->w, u("xmlns"), u(XMLNS));
        xmlTextWriterWriteElement(x->w, u("requestId"), u(request_id));
}

char *ec2_xml_end(ec2_xml *x, size_t *ret_len)
{
        char *text;

        xmlTextWriterEndDocument(x->w);
        xmlFreeTextWriter(x->w);
        x->w = NULL;
        *ret_len = (size_t) xmlBufferLength(x->buf);
        /* The buffer's own memory, not a copy (an answer may be megabytes); libxml2 allocates
         * with malloc, as kiln never calls xmlMemSetup. */
        text = (char *) xmlBufferDetach(x->buf);
        if (!text)
                abort();
        xmlBufferFree(x->buf);
        x->buf = NULL;
        return text;
}

char *ec2_xml_error(const char *code, const char *message, const char *request_id, size_t *ret_len)
{
        ec2_xml x = {0};

        x.buf = xmlBufferCreate();
        x.w = x.buf ? xmlNewTextWriterMemory(x.buf, 0) : NULL;
        if (!x.w)
                abort();
        xmlTextWriterStartDocument(x.w, NULL, "UTF-8", NULL);
        xmlTextWriterStartElement(x.w, u("Response"));
        xmlTextWriterStartElement(x.w, u("Errors"));
        xmlTextWriterStartElement(x.w, u("Error"));
        xmlTextWriterWriteElement(x.w, u("Code"), u(code));
        xmlTextWriterWriteElement(x.w, u("Message"), u(message ? message : ""));
        xmlTextWriterEndElement(x.w);
        xmlTextWriterEndElement(x.w);
        xmlTextWriterWriteElement(x.w, u("RequestID"), u(request_id));
        return ec2_xml_end(&x, ret_len);
}

/* The code of an error the library gave none. */
static const char *fallback_code(int code)
{
        switch (code) {
        case KILN_E_INVALID:
        case KILN_E_NOT_FOUND:
        case KILN_E_EXISTS:
                return "InvalidParameterValue";
        case KILN_E_PERMISSION:
                return "UnauthorizedOperation";
        case KILN_E_STATE:
                return "IncorrectState";
        case KILN_E_LIMIT:
                return "ResourceLimitExceeded";
        default:
                return "InternalError";
        }
}

/* 400 for the client's errors, except AuthFailure (401), SignatureDoesNotMatch and
 * UnauthorizedOperation (403), DryRunOperation (412) and RequestEntityTooLarge (413); 5xx only for
 * kiln's own faults (the aws CLI retries those). */
unsigned ec2_error_status(const kiln_error *e, const char **ret_code)
{
        static const struct {
                const char *code;
                unsigned status;
        } special[] = {
                {"AuthFailure", 401},           {"SignatureDoesNotMatch", 403},
                {"UnauthorizedOperation", 403}, {"DryRunOperation", 412},
                {"RequestEntityTooLarge", 413},
        };
        const char *code = e->api_code ? e->api_code : fallback_code(e->code);

        *ret_code = code;
        for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
                if (strcmp(special[i].code, code) == 0)
                        return special[i].status;
        switch (e->code) {
        case KILN_E_INTERNAL:
        case KILN_E_IO:
        case KILN_E_LIBVIRT:
        case KILN_E_SSH:
        case KILN_E_TIMEOUT:
                return 500;
        default:
                return 400;
        }
}
