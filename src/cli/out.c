/* Terminal output and argument helpers for the investigation commands. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"

static bool use_color;

void cli_color_init(void)
{
	use_color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
}

const char *cc(enum cli_color c)
{
	static const char *const esc[] = {
		[CC_RESET] = "\033[0m", [CC_DIM] = "\033[2m",     [CC_BOLD] = "\033[1m",
		[CC_RED] = "\033[31m",  [CC_GREEN] = "\033[32m",  [CC_YELLOW] = "\033[33m",
		[CC_BLUE] = "\033[34m", [CC_MAGENTA] = "\033[35m", [CC_CYAN] = "\033[36m",
		[CC_BOLDRED] = "\033[1;31m",
	};
	return use_color ? esc[c] : "";
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int cli_parse_time(const char *s, uint64_t *ns)
{
	if (!s || !*s)
		return -1;
	if (!strcmp(s, "now")) {
		*ns = now_ns();
		return 0;
	}
	if (s[0] == '@') {
		char *e;
		errno = 0;
		double v = strtod(s + 1, &e);
		if (errno || *e || v < 0)
			return -1;
		*ns = (uint64_t)(v * 1e9);
		return 0;
	}
	/* relative: a number and a unit, that long ago */
	char *e;
	errno = 0;
	double v = strtod(s, &e);
	if (e != s && !errno && v >= 0 && e[0] && !e[1] && !strchr(s, '-')) {
		double mul;
		switch (e[0]) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		case 'w': mul = 7 * 86400; break;
		default: return -1;
		}
		uint64_t ago = (uint64_t)(v * mul * 1e9), now = now_ns();
		*ns = ago < now ? now - ago : 1;
		return 0;
	}
	if (vg_parse_rfc3339(s, ns) == 0) {
		/* without a zone, a date and time are local */
		size_t l = strlen(s);
		bool zoned = l > 10 && (strchr(s + 10, 'Z') || strchr(s + 10, 'z') || strchr(s + 10, '+') ||
					strchr(s + 11, '-'));
		if (!zoned) {
			struct tm tm = {0};
			const char *p = strptime(s, "%Y-%m-%d", &tm);
			if (p && (*p == 'T' || *p == ' '))
				p = strptime(p + 1, "%H:%M", &tm);
			if (p && *p == ':')
				p = strptime(p + 1, "%S", &tm);
			uint64_t frac = *ns % 1000000000ULL;
			tm.tm_isdst = -1;
			time_t t = mktime(&tm);
			if (t == (time_t)-1 || t < 0)
				return -1;
			*ns = (uint64_t)t * 1000000000ULL + frac;
		}
		return 0;
	}
	return -1;
}

void cli_fmt_time(uint64_t ns, char *buf, size_t cap)
{
	time_t secs = (time_t)(ns / 1000000000ULL);
	struct tm tm;
	localtime_r(&secs, &tm);
	size_t n = strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm);
	if (n && n < cap)
		snprintf(buf + n, cap - n, ".%03u", (unsigned)((ns / 1000000ULL) % 1000));
}

int cli_parse_i64(const char *s, int64_t *out)
{
	if (!s || !*s)
		return -1;
	char *e;
	errno = 0;
	long long v = strtoll(s, &e, 10);
	if (errno || *e || v < 0)
		return -1;
	*out = v;
	return 0;
}

const char *cli_store_dir(const char *arg)
{
	if (arg && *arg)
		return arg;
	const char *env = getenv("VIGIL_STORE");
	return env && *env ? env : VIGIL_STORE_DEFAULT;
}

void cli_query_init(struct store_query *q)
{
	memset(q, 0, sizeof(*q));
	q->sid = -1;
	q->pid = -1;
}

long cli_query(const char *dir, const struct store_query *q, store_row_fn fn, void *ctx)
{
	struct stat st;
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "vigil: no event store at %s (vigild --store DIR; or vigil ... --store DIR)\n", dir);
		return -1;
	}
	struct strbuf warn;
	sb_init(&warn);
	long n = store_query(dir, q, fn, ctx, &warn);
	if (warn.len) {
		fflush(stdout);
		fprintf(stderr, "%s%s", warn.buf, warn.buf[warn.len - 1] == '\n' ? "" : "\n");
	}
	sb_free(&warn);
	if (n < 0)
		fprintf(stderr, "vigil: cannot read the event store at %s\n", dir);
	return n;
}

struct state *cli_state_open(const char *dir, bool quiet)
{
	struct state *s;
	char err[512];
	if (state_open(&s, dir, true, err, sizeof(err)) == 0)
		return s;
	if (!quiet)
		fprintf(stderr, "vigil: %s\n", err);
	return NULL;
}

/* control characters (a newline in a command line) as escapes: one
 * event, one line */
static void clean(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\n')
			sb_puts(sb, "\\n");
		else if (c == '\t')
			sb_puts(sb, "\\t");
		else if (c == '\r')
			sb_puts(sb, "\\r");
		else if (c < 0x20 || c == 0x7f)
			sb_printf(sb, "\\x%02x", c);
		else
			sb_putc(sb, (char)c);
	}
}

void cli_put_cut(FILE *f, const char *str, int width, bool pad)
{
	struct strbuf sb;
	sb_init(&sb);
	clean(&sb, str ? str : "");
	const char *s = sb.buf ? sb.buf : "";
	if (width <= 0) {
		fputs(s, f);
		sb_free(&sb);
		return;
	}
	int cols = 0;
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *cut = NULL;
	while (*p) {
		if ((*p & 0xc0) != 0x80) {
			if (cols == width - 1 && !cut)
				cut = p;
			if (cols == width)
				break;
			cols++;
		}
		p++;
	}
	if (*p && cut) {
		/* too long: end with an ellipsis in the last column */
		fwrite(s, 1, (size_t)(cut - (const unsigned char *)s), f);
		fputs("\xe2\x80\xa6", f);
		cols = width;
	} else {
		fwrite(s, 1, (size_t)(p - (const unsigned char *)s), f);
	}
	for (; pad && cols < width; cols++)
		fputc(' ', f);
	sb_free(&sb);
}

void cli_put_json_line(const char *json, size_t len)
{
	fwrite(json, 1, len, stdout);
	fputc('\n', stdout);
}

int cli_term_cols(void)
{
	struct winsize ws;
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 40)
		return ws.ws_col;
	return 0;
}
