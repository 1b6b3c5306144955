/* JSON of kiln's records: the shapes of <kiln/shape.h> (the aws CLI 2.9.19's members and order,
 * shared with the EC2 endpoint's XML) written through a cli_writer. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* aws CLI v2 prints timestamps as 2024-01-02T03:04:05.123000+00:00. */
char *cli_timestamp(const char *iso)
{
        char *s;

        if (!iso)
                return NULL;
        if (asprintf(&s, "%.19s.%.3s000+00:00", iso, strlen(iso) >= 23 ? iso + 20 : "000") < 0)
                abort();
        return s;
}

/* The writer as a sink of <kiln/shape.h>: JSON names, timestamps as the aws CLI prints them. */
typedef struct writer_sink {
        kiln_sink base;
        cli_writer *w;
} writer_sink;

#define W(s) (((writer_sink *) (s))->w)

static void ws_object(kiln_sink *s, const char *json, const char *xml)
{
        (void) xml;
        cli_w_object(W(s), json);
}

static void ws_end_object(kiln_sink *s)
{
        cli_w_end_object(W(s));
}

static void ws_array(kiln_sink *s, const char *json, const char *xml)
{
        (void) xml;
        cli_w_array(W(s), json);
}

static void ws_end_array(kiln_sink *s)
{
        cli_w_end_array(W(s));
}

static void ws_str(kiln_sink *s, const char *json, const char *xml, const char *v)
{
        (void) xml;
        cli_w_str(W(s), json, v);
}

static void ws_int(kiln_sink *s, const char *json, const char *xml, long long v)
{
        (void) xml;
        cli_w_int(W(s), json, v);
}

static void ws_bool(kiln_sink *s, const char *json, const char *xml, bool v)
{
        (void) xml;
        cli_w_bool(W(s), json, v);
}

static void ws_time(kiln_sink *s, const char *json, const char *xml, const char *iso)
{
        char *t = cli_timestamp(iso);

        (void) xml;
        cli_w_str(W(s), json, t);
        free(t);
}

static writer_sink sink_of(cli_writer *w)
{
        writer_sink ws = {{ws_object, ws_end_object, ws_array, ws_end_array, ws_str, ws_int,
                           ws_bool, ws_time},
                          w};

        return ws;
}

void cli_emit_tags(cli_writer *w, const kiln_tag *tags, size_t n)
{
        writer_sink ws = sink_of(w);

        kiln_shape_tags(&ws.base, tags, n);
}

void cli_emit_image(cli_writer *w, const kiln_image *img)
{
        writer_sink ws = sink_of(w);

        kiln_shape_image(&ws.base, img);
}

void cli_emit_snapshot(cli_writer *w, const kiln_snapshot *s)
{
        writer_sink ws = sink_of(w);

        kiln_shape_snapshot(&ws.base, s);
}

void cli_emit_volume(cli_writer *w, const kiln_volume *v, bool attachments)
{
        writer_sink ws = sink_of(w);

        kiln_shape_volume(&ws.base, v, attachments);
}

void cli_emit_volume_attachment(cli_writer *w, const kiln_volume *v, const char *state)
{
        writer_sink ws = sink_of(w);

        kiln_shape_volume_attachment(&ws.base, v, state);
}

void cli_emit_keypair(cli_writer *w, const kiln_keypair *kp)
{
        writer_sink ws = sink_of(w);

        kiln_shape_keypair(&ws.base, kp);
}

void cli_emit_keypair_made(cli_writer *w, const kiln_keypair *kp, const char *material)
{
        writer_sink ws = sink_of(w);

        kiln_shape_keypair_made(&ws.base, kp, material);
}

void cli_emit_region(cli_writer *w, const kiln_region_info *r)
{
        writer_sink ws = sink_of(w);

        kiln_shape_region(&ws.base, r);
}

void cli_emit_list_begin(cli_writer *w, kiln_list_kind kind)
{
        writer_sink ws = sink_of(w);

        kiln_shape_list_begin(&ws.base, kind);
}

void cli_emit_image_attribute(cli_writer *w, const kiln_image_attribute *a, const char *attribute)
{
        writer_sink ws = sink_of(w);

        kiln_shape_image_attribute(&ws.base, a, attribute);
}

void cli_emit_snapshot_attribute(cli_writer *w, const char *snapshot_id, const kiln_permission *p,
                                 size_t n)
{
        writer_sink ws = sink_of(w);

        kiln_shape_snapshot_attribute(&ws.base, snapshot_id, p, n);
}
