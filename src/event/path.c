#include <stdbool.h>
#include <string.h>
#include "event.h"

size_t vg_path_resolve(const char *base, const char *path, char *out, size_t cap)
{
	/* component stack as offsets into out */
	size_t marks[256];
	int depth = 0;
	size_t len = 0;
	if (cap < 2) {
		if (cap)
			out[0] = 0;
		return 0;
	}
	/* The sensor writes a path deeper than its walk as ".../" and the
	 * last components: such a path (with no base) or base stays cut, the
	 * result starts with "..." where the root would be. A relative path
	 * with a base of its own is the user's and is joined as usual. */
	bool relative = path && path[0] != '/';
	bool no_base = !base || !base[0];
	bool cut = (no_base && vg_path_is_cut(path)) || (relative && !no_base && vg_path_is_cut(base));
	if (cut && cap > VG_PATH_CUT_LEN) {
		/* the marker without its slash stands where the root would */
		len = VG_PATH_CUT_LEN - 1;
		memcpy(out, VG_PATH_CUT, len);
		if (no_base)
			path += VG_PATH_CUT_LEN;
		else
			base += VG_PATH_CUT_LEN;
	} else {
		out[len++] = '/';
	}
	const char *parts[2] = {path && path[0] == '/' ? NULL : base, path};
	for (int p = 0; p < 2; p++) {
		const char *s = parts[p];
		if (!s)
			continue;
		while (*s) {
			while (*s == '/')
				s++;
			if (!*s)
				break;
			const char *e = strchr(s, '/');
			size_t n = e ? (size_t)(e - s) : strlen(s);
			if (n == 1 && s[0] == '.') {
				/* nothing */
			} else if (n == 2 && s[0] == '.' && s[1] == '.') {
				if (depth > 0 && --depth < 256) {
					len = marks[depth];
				} else if (depth >= 256) {
					/* deeper than the mark stack: cut the last component */
					while (len > 1 && out[len - 1] != '/')
						len--;
					if (len > 1)
						len--;
				}
			} else {
				if (depth < 256)
					marks[depth] = len;
				depth++;
				if (len > 1 && len < cap - 1)
					out[len++] = '/';
				size_t room = cap - 1 - len;
				size_t c = n < room ? n : room;
				memcpy(out + len, s, c);
				len += c;
			}
			s += n;
		}
	}
	out[len] = 0;
	return len;
}
