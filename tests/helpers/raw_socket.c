/* raw_socket: open the raw sockets sniffers and packet crafters use.
 *
 * usage: raw_socket
 *   socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) and
 *   socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)); both closed at once.
 * stdout: {"pid":P,"icmp":{"fd":FD|-1,"errno":E,"error":..},
 *          "packet":{"fd":FD|-1,"errno":E,"error":..}}
 * exit: 0 if both opened (needs CAP_NET_RAW), 1 otherwise. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "helper.h"

static void report(const char *key, int fd, int err)
{
	printf("\"%s\":{\"fd\":%d,\"errno\":%d,\"error\":\"%s\"}", key, fd,
	       fd < 0 ? err : 0, fd < 0 ? errname(err) : "");
}

int main(void)
{
	alarm(HELPER_TIMEOUT_S);
	int icmp = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	int ierr = errno;
	int pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	int perr = errno;

	printf("{\"pid\":%d,", getpid());
	report("icmp", icmp, ierr);
	fputs(",", stdout);
	report("packet", pkt, perr);
	json_end();

	if (icmp >= 0)
		close(icmp);
	if (pkt >= 0)
		close(pkt);
	return icmp >= 0 && pkt >= 0 ? 0 : 1;
}
