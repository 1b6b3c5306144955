/* The aws CLI's shorthand syntax (kiln_shorthand_to_json): the forms the EC2 verbs use, and
 * malformed input refused with its position. */
#include <kiln/text.h>

#include "tap.h"
#include "util/util.h"

static void is_json(const char *in, const char *want)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_autofree char *out = NULL;

        if (kiln_shorthand_to_json(in, &out, &e) < 0) {
                ok(0, "%s: %s", in, e->msg);
                return;
        }
        is_str(out, want, "%s", in);
}

static void refused(const char *in, const char *needle)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_autofree char *out = NULL;

        is_int(kiln_shorthand_to_json(in, &out, &e), -1, "refused: %s", in);
        like(e ? e->msg : NULL, needle, "  saying %s", needle);
        ok(e && e->api_code && strcmp(e->api_code, "InvalidParameterValue") == 0,
           "  as InvalidParameterValue");
}

int main(void)
{
        is_json("Key=Name,Value=web", "{\"Key\":\"Name\",\"Value\":\"web\"}");
        is_json("DeviceName=/dev/sdf,Ebs={VolumeSize=8,DeleteOnTermination=false}",
                "{\"DeviceName\":\"/dev/sdf\",\"Ebs\":{\"VolumeSize\":\"8\","
                "\"DeleteOnTermination\":\"false\"}}");
        is_json("DeviceName=/dev/sdg,NoDevice=\"\"",
                "{\"DeviceName\":\"/dev/sdg\",\"NoDevice\":\"\"}");
        is_json("ResourceType=instance,Tags=[{Key=Name,Value=web},{Key=env,Value=test}]",
                "{\"ResourceType\":\"instance\",\"Tags\":[{\"Key\":\"Name\",\"Value\":\"web\"},"
                "{\"Key\":\"env\",\"Value\":\"test\"}]}");
        is_json("Name=tag:Name,Values=web,db",
                "{\"Name\":\"tag:Name\",\"Values\":[\"web\",\"db\"]}");
        is_json("Values=a,b,Name=x", "{\"Values\":[\"a\",\"b\"],\"Name\":\"x\"}");
        is_json("Values=[a,b]", "{\"Values\":[\"a\",\"b\"]}");
        is_json("Values=[]", "{\"Values\":[]}");
        is_json("Key='a, b',Value=\"c \\\"d\\\"\"", "{\"Key\":\"a, b\",\"Value\":\"c \\\"d\\\"\"}");
        is_json("Key=a\\,b", "{\"Key\":\"a,b\"}");
        is_json("Key=Name,Value=x=y", "{\"Key\":\"Name\",\"Value\":\"x=y\"}");
        is_json("Key=caf\xc3\xa9", "{\"Key\":\"caf\xc3\xa9\"}");
        refused("", "empty");
        refused("Key", "expected '=' after the key");
        refused("=x", "expected a key");
        refused("Key=a,Key=b", "a key is given twice");
        refused("Ebs={VolumeSize=8", "expected ',' or '}'");
        refused("Tags=[{Key=a}", "expected ',' or ']'");
        refused("Key='open", "a quoted value is not closed");
        refused("Key=\xff", "not UTF-8");
        {
                kiln_buf b = {0};
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *out = NULL;

                kiln_buf_appendf(&b, "A=");
                for (int i = 0; i < 40; i++)
                        kiln_buf_appendf(&b, "{B=");
                kiln_buf_appendf(&b, "x");
                for (int i = 0; i < 40; i++)
                        kiln_buf_appendf(&b, "}");
                is_int(kiln_shorthand_to_json(b.data, &out, &e), -1, "deep nesting is refused");
                like(e ? e->msg : NULL, "nested too deeply", "  as too deep");
                kiln_buf_clear(&b);
        }
        return done();
}
