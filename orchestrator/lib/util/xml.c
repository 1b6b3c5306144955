/* XML escaping for the values kiln puts into libvirt's XML (domain and storage). */
#include "util/util.h"

char *kiln_xml_escape(const char *s)
{
        kiln_buf b = {0};

        for (; s && *s; s++) {
                switch (*s) {
                case '&':
                        kiln_buf_append(&b, "&amp;", 5);
                        break;
                case '<':
                        kiln_buf_append(&b, "&lt;", 4);
                        break;
                case '>':
                        kiln_buf_append(&b, "&gt;", 4);
                        break;
                case '\'':
                        kiln_buf_append(&b, "&apos;", 6);
                        break;
                case '"':
                        kiln_buf_append(&b, "&quot;", 6);
                        break;
                default:
                        kiln_buf_append(&b, s, 1);
                        break;
                }
        }
        return kiln_buf_steal(&b);
}
