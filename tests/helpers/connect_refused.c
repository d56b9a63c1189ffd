/* connect_refused: outbound network behaviours for the net hooks.
 *
 * usage:
 *   connect_refused PORT [HOST]
 *     TCP connect() to HOST:PORT (HOST default 127.0.0.1, IPv4 or IPv6
 *     literal) where nothing listens; the connect is bounded to 3 s.
 *     stdout: {"pid":P,"proto":"tcp","host":..,"port":N,"rc":R,"errno":E,
 *              "error":"ECONNREFUSED","sport":LOCAL_PORT}
 *     exit: 0 if refused, 3 if it connected (something listens), 1 other error.
 *   connect_refused --udp-dns HOST PORT NAME [--type T]
 *   connect_refused --udp-dns-connected HOST PORT NAME [--type T]
 *     Sends one real DNS query (RD set, class IN, type T: A (default), AAAA,
 *     TXT, MX, NS, CNAME, SOA, PTR, SRV, ANY or a number) for NAME to
 *     HOST:PORT over UDP: with sendto() on an unconnected socket, or, with
 *     -connected, connect() then send() as glibc's resolver does. Waits up to
 *     2 s for a reply.
 *     stdout: {"pid":P,"proto":"udp","mode":"sendto"|"send","host":..,
 *              "port":N,"name":..,"qtype":N,"id":ID,"sport":LOCAL_PORT,
 *              "sent":BYTES,"send_errno":E,"reply_bytes":BYTES,"recv_errno":E,
 *              "reply_id_match":true|false,"rcode":N|-1}
 *     exit: 0 if the whole query was sent (a reply is optional), 1 otherwise.
 *   exit 2: usage error (bad host, port, name or type). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include "helper.h"

static int usage(void)
{
	fprintf(stderr,
		"usage: connect_refused PORT [HOST]\n"
		"       connect_refused --udp-dns HOST PORT NAME [--type T]\n"
		"       connect_refused --udp-dns-connected HOST PORT NAME [--type T]\n");
	return 2;
}

/* Parse a numeric host and port (no DNS: a lookup here would pollute DNS
 * tests); returns the port number or -1. */
static int parse_addr(const char *host, const char *port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	char *end;
	unsigned long p = strtoul(port, &end, 10);
	if (!*port || *end || p > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)p);
		*len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*in6);
	} else {
		return -1;
	}
	return (int)p;
}

static int local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int tcp_connect(const char *host, const char *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int pnum = parse_addr(host, port, &ss, &len);
	if (pnum < 0)
		return usage();

	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	/* SO_SNDTIMEO also bounds connect() on Linux (EINPROGRESS on expiry). */
	struct timeval tv = { .tv_sec = 3 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int rc = connect(fd, (struct sockaddr *)&ss, len);
	int err = rc < 0 ? errno : 0;

	printf("{\"pid\":%d,\"proto\":\"tcp\",\"host\":", getpid());
	json_str(host);
	printf(",\"port\":%d,\"rc\":%d,\"errno\":%d,\"error\":\"%s\",\"sport\":%d",
	       pnum, rc, err, errname(err), local_port(fd));
	json_end();
	close(fd);
	if (rc == 0)
		return 3;
	return err == ECONNREFUSED ? 0 : 1;
}

static int parse_qtype(const char *t)
{
	static const struct { const char *name; int type; } types[] = {
		{ "A", 1 }, { "NS", 2 }, { "CNAME", 5 }, { "SOA", 6 }, { "PTR", 12 },
		{ "MX", 15 }, { "TXT", 16 }, { "AAAA", 28 }, { "SRV", 33 }, { "ANY", 255 },
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(t, types[i].name) == 0)
			return types[i].type;
	char *end;
	unsigned long n = strtoul(t, &end, 10);
	return *t && !*end && n > 0 && n <= 65535 ? (int)n : -1;
}

/* RFC 1035 query: 12-byte header, QNAME as length-prefixed labels, QTYPE,
 * QCLASS=IN. Returns the packet length or -1 for an unencodable name. */
static int build_query(uint8_t *pkt, size_t cap, uint16_t id, const char *name, int qtype)
{
	size_t off = 12;
	memset(pkt, 0, 12);
	pkt[0] = (uint8_t)(id >> 8);
	pkt[1] = (uint8_t)id;
	pkt[2] = 0x01; /* RD */
	pkt[5] = 1;    /* QDCOUNT */

	const char *p = name;
	if (strcmp(p, ".") == 0)
		p++;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		if (l == 0 || l > 63 || off + 1 + l + 1 > 12 + 255)
			return -1;
		pkt[off++] = (uint8_t)l;
		memcpy(pkt + off, p, l);
		off += l;
		p += l;
		if (*p == '.')
			p++;
	}
	if (off + 5 > cap)
		return -1;
	pkt[off++] = 0;
	pkt[off++] = (uint8_t)(qtype >> 8);
	pkt[off++] = (uint8_t)qtype;
	pkt[off++] = 0;
	pkt[off++] = 1; /* IN */
	return (int)off;
}

static int udp_dns(int connected, int argc, char **argv)
{
	const char *host = argv[0], *port = argv[1], *name = argv[2];
	int qtype = 1;
	if (argc == 5 && strcmp(argv[3], "--type") == 0)
		qtype = parse_qtype(argv[4]);
	else if (argc != 3)
		return usage();

	struct sockaddr_storage ss;
	socklen_t len;
	uint8_t pkt[512], reply[4096];
	uint16_t id = (uint16_t)getpid();
	int qlen = qtype < 0 ? -1 : build_query(pkt, sizeof(pkt), id, name, qtype);
	int pnum = parse_addr(host, port, &ss, &len);
	if (qlen < 0 || pnum < 0)
		return usage();

	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	ssize_t sent;
	if (connected) {
		sent = connect(fd, (struct sockaddr *)&ss, len);
		if (sent == 0)
			sent = send(fd, pkt, (size_t)qlen, 0);
	} else {
		sent = sendto(fd, pkt, (size_t)qlen, 0, (struct sockaddr *)&ss, len);
	}
	int serr = sent < 0 ? errno : 0;

	ssize_t got = 0;
	int rerr = 0;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	if (sent == qlen) {
		int pr = poll(&pfd, 1, 2000);
		if (pr > 0) {
			got = recv(fd, reply, sizeof(reply), MSG_DONTWAIT);
			if (got < 0) {
				rerr = errno; /* ECONNREFUSED: ICMP port unreachable */
				got = 0;
			}
		} else if (pr == 0) {
			rerr = ETIMEDOUT;
		} else {
			rerr = errno;
		}
	}
	int id_match = got >= 12 && reply[0] == pkt[0] && reply[1] == pkt[1];

	printf("{\"pid\":%d,\"proto\":\"udp\",\"mode\":\"%s\",\"host\":", getpid(),
	       connected ? "send" : "sendto");
	json_str(host);
	printf(",\"port\":%d,\"name\":", pnum);
	json_str(name);
	printf(",\"qtype\":%d,\"id\":%u,\"sport\":%d,\"sent\":%zd,\"send_errno\":%d,"
	       "\"reply_bytes\":%zd,\"recv_errno\":%d,\"recv_error\":\"%s\","
	       "\"reply_id_match\":%s,\"rcode\":%d",
	       qtype, id, local_port(fd), sent, serr, got, rerr, errname(rerr),
	       id_match ? "true" : "false", id_match ? (reply[3] & 0x0f) : -1);
	json_end();
	close(fd);
	return sent == qlen ? 0 : 1;
}

int main(int argc, char **argv)
{
	alarm(HELPER_TIMEOUT_S);
	if (argc >= 2 && strcmp(argv[1], "--udp-dns") == 0 && argc >= 5)
		return udp_dns(0, argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "--udp-dns-connected") == 0 && argc >= 5)
		return udp_dns(1, argc - 2, argv + 2);
	if ((argc == 2 || argc == 3) && argv[1][0] != '-')
		return tcp_connect(argc == 3 ? argv[2] : "127.0.0.1", argv[1]);
	return usage();
}
