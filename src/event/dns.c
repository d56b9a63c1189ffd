#include <string.h>
#include "event.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

int vg_dns_parse(const uint8_t *msg, size_t len, struct vg_dns_question *q)
{
	memset(q, 0, sizeof(*q));
	if (len < 12)
		return -1;
	q->id = rd16(msg);
	q->response = (msg[2] & 0x80) != 0;
	q->qdcount = rd16(msg + 4);
	if (q->qdcount == 0)
		return -1;
	size_t i = 12, o = 0;
	for (int labels = 0;; labels++) {
		if (i >= len || labels >= 128)
			return -1; /* no root label within 128 labels: not a name */
		uint8_t l = msg[i++];
		if (l == 0)
			break;
		if (l & 0xC0)
			return -1; /* compression is not used in questions we send */
		if (i + l > len || o + l + 2 > sizeof(q->name))
			return -1;
		if (o)
			q->name[o++] = '.';
		for (uint8_t k = 0; k < l; k++) {
			uint8_t c = msg[i + k];
			/* keep names printable; odd bytes are escaped as in zone files */
			bool plain = c > 0x20 && c < 0x7f && c != '.' && c != '\\';
			/* escapes make the name longer than the label check above
			 * allowed for: bound every write, keeping room for the NUL */
			if (o + (plain ? 1 : 4) >= sizeof(q->name))
				return -1;
			if (plain) {
				q->name[o++] = (char)c;
			} else {
				q->name[o++] = '\\';
				q->name[o++] = (char)('0' + c / 100);
				q->name[o++] = (char)('0' + (c / 10) % 10);
				q->name[o++] = (char)('0' + c % 10);
			}
		}
		i += l;
	}
	q->name[o] = 0;
	if (i + 4 > len)
		return -1;
	q->qtype = rd16(msg + i);
	return 0;
}

const char *vg_dns_type_name(uint16_t t)
{
	switch (t) {
	case 1: return "A";
	case 2: return "NS";
	case 5: return "CNAME";
	case 6: return "SOA";
	case 12: return "PTR";
	case 15: return "MX";
	case 16: return "TXT";
	case 28: return "AAAA";
	case 33: return "SRV";
	case 64: return "SVCB";
	case 65: return "HTTPS";
	case 255: return "ANY";
	default: return NULL;
	}
}
