// SPDX-License-Identifier: GPL-2.0
/* Network isolation (vigil isolate): cgroup programs that let a cgroup (a
 * process moved into its own, a container's, or the root = the whole host)
 * reach only loopback and the management addresses of the allow lists.
 *
 * connect4/6 and sendmsg4/6 refuse a connect or an unconnected datagram
 * before anything leaves (the caller sees EPERM); the skb programs drop
 * every other packet in either direction, which also cuts connections that
 * were open before the isolation began and inbound connections.
 *
 * This object shares nothing with the sensor's (no common.bpf.h: its ring
 * buffer and counters would be created for nothing). Its maps are pinned by
 * name so that every link, across vigild restarts, reads one allow list. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define LOOPBACK_IFINDEX 1
#define VG_IPPROTO_ICMPV6 58

/* Keys of the LPM tries: prefix length in bits, then the address in network
 * order (src/respond/isolate.h has the same layout). */
struct vgiso_key4 {
	__u32 prefixlen;
	__u8 addr[4];
};
struct vgiso_key6 {
	__u32 prefixlen;
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vgiso_key4);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vgiso_allow4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vgiso_key6);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vgiso_allow6 SEC(".maps");

/* Denials per program, indexed as VGISO_* below (read by `vigil isolations`). */
enum { VGISO_CONNECT4, VGISO_CONNECT6, VGISO_SENDMSG4, VGISO_SENDMSG6, VGISO_EGRESS, VGISO_INGRESS, VGISO_NCOUNT };
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VGISO_NCOUNT);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vgiso_denied SEC(".maps");

static __always_inline int deny(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&vgiso_denied, &which);
	if (c)
		__sync_fetch_and_add(c, 1);
	return 0;
}

/* a: IPv4 address in network order, as the kernel hands it over */
static __always_inline bool allowed4(__u32 a)
{
	__u8 *b = (__u8 *)&a;
	if (b[0] == 127)
		return true;
	struct vgiso_key4 k = {.prefixlen = 32};
	__builtin_memcpy(k.addr, &a, 4);
	return bpf_map_lookup_elem(&vgiso_allow4, &k) != 0;
}

static __always_inline bool allowed6(const __u32 a[4])
{
	/* ::1 */
	if (a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == bpf_htonl(1))
		return true;
	/* ::ffff:a.b.c.d: a dual-stack socket talking IPv4 */
	if (a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff))
		return allowed4(a[3]);
	struct vgiso_key6 k = {.prefixlen = 128};
	__builtin_memcpy(k.addr, a, 16);
	return bpf_map_lookup_elem(&vgiso_allow6, &k) != 0;
}

SEC("cgroup/connect4")
int vgiso_connect4(struct bpf_sock_addr *ctx)
{
	return allowed4(ctx->user_ip4) ? 1 : deny(VGISO_CONNECT4);
}

SEC("cgroup/connect6")
int vgiso_connect6(struct bpf_sock_addr *ctx)
{
	__u32 a[4] = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]};
	return allowed6(a) ? 1 : deny(VGISO_CONNECT6);
}

SEC("cgroup/sendmsg4")
int vgiso_sendmsg4(struct bpf_sock_addr *ctx)
{
	return allowed4(ctx->user_ip4) ? 1 : deny(VGISO_SENDMSG4);
}

SEC("cgroup/sendmsg6")
int vgiso_sendmsg6(struct bpf_sock_addr *ctx)
{
	__u32 a[4] = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]};
	return allowed6(a) ? 1 : deny(VGISO_SENDMSG6);
}

/* ICMPv6 router/neighbour solicitations and advertisements and redirects
 * (types 133-137): without them no IPv6 address on the link, management
 * addresses included, can be resolved; their solicitations go to multicast
 * addresses no allow list names. They never leave the link. */
static __always_inline bool neighbour_discovery(struct __sk_buff *skb)
{
	__u8 nexthdr, type;
	if (bpf_skb_load_bytes(skb, 6, &nexthdr, 1) || nexthdr != VG_IPPROTO_ICMPV6)
		return false;
	if (bpf_skb_load_bytes(skb, 40, &type, 1))
		return false;
	return type >= 133 && type <= 137;
}

/* The peer of a packet: the destination going out, the source coming in.
 * skb data starts at the network header in cgroup skb programs. A packet
 * on lo never leaves the host (e.g. to the host's own address); anything
 * that is not IP is not ours to judge. */
static __always_inline int skb_verdict(struct __sk_buff *skb, bool egress)
{
	if (skb->ifindex == LOOPBACK_IFINDEX)
		return 1;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		__u32 addr[2]; /* saddr, daddr at offset 12 */
		if (bpf_skb_load_bytes(skb, 12, addr, sizeof(addr)))
			return deny(egress ? VGISO_EGRESS : VGISO_INGRESS);
		if (allowed4(egress ? addr[1] : addr[0]))
			return 1;
		return deny(egress ? VGISO_EGRESS : VGISO_INGRESS);
	}
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		__u32 addr[8]; /* saddr, daddr at offset 8 */
		if (bpf_skb_load_bytes(skb, 8, addr, sizeof(addr)))
			return deny(egress ? VGISO_EGRESS : VGISO_INGRESS);
		if (allowed6(egress ? &addr[4] : &addr[0]) || neighbour_discovery(skb))
			return 1;
		return deny(egress ? VGISO_EGRESS : VGISO_INGRESS);
	}
	return 1;
}

SEC("cgroup_skb/egress")
int vgiso_egress(struct __sk_buff *skb)
{
	return skb_verdict(skb, true);
}

SEC("cgroup_skb/ingress")
int vgiso_ingress(struct __sk_buff *skb)
{
	return skb_verdict(skb, false);
}
