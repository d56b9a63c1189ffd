/* libFuzzer target: arbitrary bytes as one sensor record. vg_record_check
 * decides; a record it accepts is encoded by vg_event_json (no process
 * image, as for a process vigild knows nothing about), and the output
 * must be one valid JSON object. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "event/event.h"
#include "sensor/blob.h"
#include "../unit/jsoncheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* records sit 8-aligned in the ring buffer: decode an aligned copy */
	struct vg_event *ev = vg_event_new(data, size);
	if (!ev)
		return 0;
	if (vg_record_check(ev->rec.raw, size)) {
		vg_event_free(ev);
		return 0;
	}
	ev->wall_ns = ev->rec.hdr.ts;
	static const struct vg_host host = {.name = "fuzzhost", .id = "fuzz"};
	struct strbuf sb;
	sb_init(&sb);
	vg_event_json(&sb, ev, &host);
	if (sb.oom || !sb.buf)
		abort();
	size_t at = 0;
	const char *why = json_check(sb.buf, sb.len, &at);
	if (why) {
		fprintf(stderr, "invalid JSON (%s) at %zu: %s\n", why, at, sb.buf);
		abort();
	}
	sb_free(&sb);
	vg_event_free(ev);
	return 0;
}
