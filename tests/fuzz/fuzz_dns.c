/* libFuzzer target: vg_dns_parse on arbitrary bytes. On success the name
 * must be printable ASCII (odd bytes escaped), never hold an empty label,
 * and fit its buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "event/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vg_dns_question q;
	if (vg_dns_parse(data, size, &q) != 0)
		return 0;
	size_t n = strnlen(q.name, sizeof(q.name));
	if (n >= sizeof(q.name))
		abort();
	for (size_t i = 0; i < n; i++)
		if (q.name[i] <= 0x20 || q.name[i] >= 0x7f)
			abort();
	if (n && (q.name[0] == '.' || q.name[n - 1] == '.' || strstr(q.name, "..")))
		abort();
	if (size < 12 || q.qdcount == 0)
		abort();
	(void)vg_dns_type_name(q.qtype);
	return 0;
}
