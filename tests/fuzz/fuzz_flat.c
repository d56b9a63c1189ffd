/* libFuzzer target: vg_flatten_json on arbitrary bytes (recorded streams
 * and, later, events from other hosts are parsed with it). Memory safety
 * (the parser reads 16 bytes at a time near the end of its input), the
 * flat's invariants (every value NUL-terminated at its length, inside the
 * arena), the same result on a second parse (the key predictions learned
 * on the first must not change it), and success on every object that
 * jsoncheck accepts within the parser's limits (32 levels, keys with
 * escapes under 512 bytes: inputs under 512 bytes with at most 32
 * brackets). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "event/flat.h"
#include "../unit/jsoncheck.h"

static struct vg_flat a, b;

static void check(const struct vg_flat *fl)
{
	if (fl->n < 0 || fl->n > VG_FLAT_MAX)
		abort();
	for (int i = 0; i < fl->n; i++) {
		const struct vg_flat_field *f = &fl->f[i];
		if (f->val < fl->arena || f->val + f->len >= fl->arena + fl->arena_len || f->val[f->len] != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy: ASan sees any read past the end */
	char *js = malloc(size ? size : 1);
	if (!js)
		return 0;
	memcpy(js, data, size);
	int ra = vg_flatten_json(&a, js, size);
	check(&a);
	int rb = vg_flatten_json(&b, js, size);
	check(&b);
	if (ra != rb || a.n != b.n)
		abort();
	for (int i = 0; i < a.n; i++)
		if (a.f[i].name != b.f[i].name || a.f[i].len != b.f[i].len || memcmp(a.f[i].val, b.f[i].val, a.f[i].len))
			abort();
	size_t at, brackets = 0;
	for (size_t i = 0; i < size; i++)
		brackets += js[i] == '{' || js[i] == '[';
	if (size && size < 512 && brackets <= 32 && js[0] == '{' && !json_check(js, size, &at) && ra != 0)
		abort();
	free(js);
	return 0;
}
