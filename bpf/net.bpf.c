// SPDX-License-Identifier: GPL-2.0
/* Network: connect, accept, bind, listen (IPv4/IPv6 sockets only: unix
 * sockets are far too noisy), DNS queries sent over UDP to port 53, and
 * raw/packet socket creation.
 *
 * sendto/sendmsg are among the hottest syscalls of a host: their programs
 * return after a few reads unless the datagram is a UDP packet to port 53,
 * and never touch a map or the ring buffer before that. */
#include "common.bpf.h"

#define VG_SOCK_RAW 3
#define VG_IPPROTO_UDP 17
#define VG_DNS_PORT 53
#define VG_DNS_HDR 12

static __always_inline bool inet_family(__u16 fam)
{
	return fam == AF_INET || fam == AF_INET6;
}

/* The socket and fill_sock below read through BTF pointers: plain loads the
 * JIT guards against faults, several times cheaper than the
 * bpf_probe_read_kernel calls of BPF_CORE_READ (the same walk with the
 * common helpers cost ~0.9 us per connect here). Pointers read with a
 * probe read get their type back with bpf_rdonly_cast. */

static __always_inline struct sock *fd_sock(int fd)
{
	struct task_struct *t = vg_task();
	struct fdtable *fdt = t->files->fdt;
	if (fd < 0 || (unsigned int)fd >= fdt->max_fds)
		return 0;
	struct file **fds = fdt->fd;
	struct file *fp = 0;
	bpf_probe_read_kernel(&fp, sizeof(fp), &fds[fd]);
	if (!fp)
		return 0;
	struct file *f = bpf_rdonly_cast(fp, bpf_core_type_id_kernel(struct file));
	if ((f->f_inode->i_mode & S_IFMT) != S_IFSOCK)
		return 0;
	struct socket *so = bpf_rdonly_cast(f->private_data, bpf_core_type_id_kernel(struct socket));
	return so->sk;
}

/* vg_fill_sock through BTF loads, plus the source port of a socket whose
 * bind was undone: a refused TCP connect unhashes its autobound port
 * (skc_num becomes 0) and resets its source address, but inet_sport, what
 * getsockname reports, survives. A local side that is still all zero (a
 * UDP socket before its first send) is left out (family 0) instead of
 * reported as 0.0.0.0:0. */
static __always_inline void fill_sock(struct vg_sock *o, struct sock *sk)
{
	if (!sk)
		return;
	struct sock_common *c = &sk->__sk_common;
	o->family = c->skc_family;
	o->type = sk->sk_type;
	o->protocol = sk->sk_protocol;
	o->state = c->skc_state;
	o->local.family = o->family;
	o->remote.family = o->family;
	o->local.port = c->skc_num;
	o->remote.port = bpf_ntohs(c->skc_dport);
	if (o->family == AF_INET) {
		__u32 a = c->skc_rcv_saddr;
		__builtin_memcpy(o->local.addr, &a, 4);
		a = c->skc_daddr;
		__builtin_memcpy(o->remote.addr, &a, 4);
	} else if (o->family == AF_INET6) {
		bpf_probe_read_kernel(o->local.addr, 16, &c->skc_v6_rcv_saddr);
		bpf_probe_read_kernel(o->remote.addr, 16, &c->skc_v6_daddr);
	}
	if (o->local.port == 0) {
		struct inet_sock *inet = bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct inet_sock));
		o->local.port = bpf_ntohs(inet->inet_sport);
	}
	if (o->local.port == 0) {
		__u64 a0 = 0, a1 = 0;
		__builtin_memcpy(&a0, o->local.addr, 8);
		__builtin_memcpy(&a1, o->local.addr + 8, 8);
		if ((a0 | a1) == 0)
			o->local.family = 0;
	}
}

/* sys_enter for connect/bind: keeps INET/INET6 calls only, with the
 * address parsed now (the kernel copies it at entry too) into a[3..5]:
 * a[3] = family | port << 16, a[4..5] = the 16 address bytes. A sockaddr
 * that cannot be read yet (page not faulted in) is kept with family 0 and
 * read at exit, when the kernel has touched it. */
static __always_inline void save_inet_call(__u32 hook, struct trace_event_raw_sys_enter *ctx)
{
	const void *uaddr = (const void *)ctx->args[1];
	int len = (int)ctx->args[2];
	if (!uaddr || len < 2)
		return;
	union {
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} u = {};
	struct vg_args a = {};
	/* constant sizes: the verifier loses a computed min() */
	long err = len >= (int)sizeof(u.in6) ? bpf_probe_read_user(&u, sizeof(u.in6), uaddr)
		   : len >= (int)sizeof(u.in) ? bpf_probe_read_user(&u, sizeof(u.in), uaddr)
		   : bpf_probe_read_user(&u, 2, uaddr);
	if (err == 0) {
		__u16 fam = u.in.sin_family;
		if (fam == AF_INET && len >= 8) {
			a.a[3] = fam | (__u64)bpf_ntohs(u.in.sin_port) << 16;
			a.a[4] = u.in.sin_addr.s_addr;
		} else if (fam == AF_INET6 && len >= 24) {
			a.a[3] = fam | (__u64)bpf_ntohs(u.in6.sin6_port) << 16;
			__builtin_memcpy(&a.a[4], &u.in6.sin6_addr, 16);
		} else {
			return;
		}
	}
	a.a[0] = ctx->args[0];
	a.a[1] = (__u64)uaddr;
	a.a[2] = len;
	__u64 key = vg_inflight_key(hook);
	bpf_map_update_elem(&vg_inflight, &key, &a, BPF_ANY);
}

/* connect/bind exit: the address argument plus the socket as it is now. */
static __always_inline int emit_addr_call(__u32 hook, __u16 type, long ret)
{
	struct vg_args a;
	if (!vg_take_args(hook, &a))
		return 0;
	struct vg_sockaddr addr = {};
	if (a.a[3]) {
		addr.family = a.a[3];
		addr.port = a.a[3] >> 16;
		__builtin_memcpy(addr.addr, &a.a[4], 16);
	} else {
		vg_read_sockaddr(&addr, (const void *)a.a[1], (int)a.a[2]);
	}
	if (!inet_family(addr.family))
		return 0;
	if (vg_skip(hook))
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_net *e = VG_REC(s, struct vg_net, type, hook);
	e->h.ret = ret;
	e->fd = a.a[0];
	e->addr = addr;
	fill_sock(&e->sock, fd_sock((int)a.a[0]));
	/* bind(port 0): report the port the kernel picked */
	if (hook == VG_HOOK_BIND && ret == 0 && addr.port == 0)
		e->addr.port = e->sock.local.port;
	vg_emit(s, sizeof(*e), hook);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int vg_connect_enter(struct trace_event_raw_sys_enter *ctx)
{
	save_inet_call(VG_HOOK_CONNECT, ctx);
	return 0;
}

VG_SYS_EXIT(vg_connect_exit)
{
	return emit_addr_call(VG_HOOK_CONNECT, VG_EV_NET_CONNECT, ret);
}

SEC("tracepoint/syscalls/sys_enter_bind")
int vg_bind_enter(struct trace_event_raw_sys_enter *ctx)
{
	save_inet_call(VG_HOOK_BIND, ctx);
	return 0;
}

VG_SYS_EXIT(vg_bind_exit)
{
	return emit_addr_call(VG_HOOK_BIND, VG_EV_NET_BIND, ret);
}

/* accept/accept4: the new fd's socket (local = listener's address, remote =
 * the peer). Failed accepts (EAGAIN of non-blocking loops) are not news. */
static __always_inline int accept_exit(long fd)
{
	if (fd < 0)
		return 0;
	struct sock *sk = fd_sock((int)fd);
	if (!sk || !inet_family(sk->__sk_common.skc_family))
		return 0;
	if (vg_skip(VG_HOOK_ACCEPT))
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_net *e = VG_REC(s, struct vg_net, VG_EV_NET_ACCEPT, VG_HOOK_ACCEPT);
	e->h.ret = fd;
	e->fd = fd;
	fill_sock(&e->sock, sk);
	vg_emit(s, sizeof(*e), VG_HOOK_ACCEPT);
	return 0;
}

VG_SYS_EXIT(vg_accept_exit)
{
	return accept_exit(ret);
}

VG_SYS_EXIT(vg_accept4_exit)
{
	return accept_exit(ret);
}

SEC("tracepoint/syscalls/sys_enter_listen")
int vg_listen_enter(struct trace_event_raw_sys_enter *ctx)
{
	vg_save_args(VG_HOOK_LISTEN, ctx, 2);
	return 0;
}

VG_SYS_EXIT(vg_listen_exit)
{
	struct vg_args a;
	if (!vg_take_args(VG_HOOK_LISTEN, &a))
		return 0;
	struct sock *sk = fd_sock((int)a.a[0]);
	if (!sk || !inet_family(sk->__sk_common.skc_family))
		return 0;
	if (vg_skip(VG_HOOK_LISTEN))
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_net *e = VG_REC(s, struct vg_net, VG_EV_NET_LISTEN, VG_HOOK_LISTEN);
	e->h.ret = ret;
	e->fd = a.a[0];
	e->backlog = a.a[1];
	fill_sock(&e->sock, sk);
	vg_emit(s, sizeof(*e), VG_HOOK_LISTEN);
	return 0;
}

/* ---- DNS ---- */

struct vg_sa_head {
	__u16 family;
	__u16 port; /* network order */
};

/* Destination given as an argument: 1 if it is INET/INET6 port 53 (dst
 * filled), 0 if not. */
static __always_inline int dns_dest(const void *uaddr, int len, struct vg_sockaddr *dst)
{
	struct vg_sa_head h = {};
	if (len < (int)sizeof(h) || bpf_probe_read_user(&h, sizeof(h), uaddr))
		return 0;
	if (h.port != bpf_htons(VG_DNS_PORT) || !inet_family(h.family))
		return 0;
	vg_read_sockaddr(dst, uaddr, len);
	return 1;
}

/* The UDP socket behind fd, or NULL. */
static __always_inline struct sock *udp_sock(int fd)
{
	struct sock *sk = fd_sock(fd);
	if (!sk || sk->sk_protocol != VG_IPPROTO_UDP)
		return 0;
	return sk;
}

static __always_inline bool connected_to_dns(struct sock *sk)
{
	return sk->__sk_common.skc_dport == bpf_htons(VG_DNS_PORT) &&
	       inet_family(sk->__sk_common.skc_family);
}

/* Emits one query; dst is used when the socket is not connected. */
static __always_inline void dns_emit(struct sock *sk, const struct vg_sockaddr *dst,
				     const void *buf, __u64 len)
{
	if (vg_skip(VG_HOOK_DNS))
		return;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return;
	struct vg_dns *e = VG_REC(s, struct vg_dns, VG_EV_NET_DNS, VG_HOOK_DNS);
	fill_sock(&e->sock, sk);
	if (dst && dst->family)
		e->sock.remote = *dst;
	__u32 n = len > VG_DNS_PAYLOAD ? VG_DNS_PAYLOAD : (__u32)len;
	if (bpf_probe_read_user(e->payload, n, buf) == 0)
		e->len = n;
	vg_emit(s, sizeof(*e), VG_HOOK_DNS);
}

/* sendto(fd, buf, len, flags, addr, addrlen); send() arrives here with a
 * NULL addr. */
SEC("tracepoint/syscalls/sys_enter_sendto")
int vg_sendto_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 len = ctx->args[2];
	if (len < VG_DNS_HDR)
		return 0;
	const void *uaddr = (const void *)ctx->args[4];
	struct vg_sockaddr dst = {};
	if (uaddr && !dns_dest(uaddr, (int)ctx->args[5], &dst))
		return 0;
	struct sock *sk = udp_sock((int)ctx->args[0]);
	if (!sk)
		return 0;
	if (!uaddr && !connected_to_dns(sk))
		return 0;
	dns_emit(sk, &dst, (const void *)ctx->args[1], len);
	return 0;
}

/* One struct user_msghdr: emits it when it carries a DNS query. */
static __always_inline void dns_msg(struct sock *sk, const struct user_msghdr *m)
{
	struct vg_sockaddr dst = {};
	if (m->msg_name) {
		if (!dns_dest(m->msg_name, m->msg_namelen, &dst))
			return;
	} else if (!connected_to_dns(sk)) {
		return;
	}
	if (!m->msg_iov || m->msg_iovlen == 0)
		return;
	struct iovec iov = {};
	if (bpf_probe_read_user(&iov, sizeof(iov), m->msg_iov) || iov.iov_len < VG_DNS_HDR)
		return;
	dns_emit(sk, &dst, iov.iov_base, iov.iov_len);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int vg_sendmsg_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct sock *sk = udp_sock((int)ctx->args[0]);
	if (!sk)
		return 0;
	struct user_msghdr m = {};
	if (bpf_probe_read_user(&m, sizeof(m), (const void *)ctx->args[1]))
		return 0;
	dns_msg(sk, &m);
	return 0;
}

/* sendmmsg: glibc's resolver sends its A and AAAA queries as one call with
 * two messages; the first two are looked at. */
SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int vg_sendmmsg_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct sock *sk = udp_sock((int)ctx->args[0]);
	if (!sk)
		return 0;
	const struct mmsghdr *mm = (const struct mmsghdr *)ctx->args[1];
	__u32 vlen = ctx->args[2];
	struct user_msghdr m = {};
	if (vlen == 0 || bpf_probe_read_user(&m, sizeof(m), &mm[0].msg_hdr))
		return 0;
	dns_msg(sk, &m);
	if (vlen < 2 || bpf_probe_read_user(&m, sizeof(m), &mm[1].msg_hdr))
		return 0;
	dns_msg(sk, &m);
	return 0;
}

/* ---- raw and packet sockets ---- */

static __always_inline bool raw_socket(__u64 family, __u64 type)
{
	return (type & 0xf) == VG_SOCK_RAW || family == AF_PACKET;
}

SEC("tracepoint/syscalls/sys_enter_socket")
int vg_socket_enter(struct trace_event_raw_sys_enter *ctx)
{
	if (raw_socket(ctx->args[0], ctx->args[1]))
		vg_save_args(VG_HOOK_SOCKET, ctx, 3);
	return 0;
}

VG_SYS_EXIT(vg_socket_exit)
{
	struct vg_args a;
	if (!vg_take_args(VG_HOOK_SOCKET, &a) || vg_skip(VG_HOOK_SOCKET))
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_socket *e = VG_REC(s, struct vg_socket, VG_EV_NET_SOCKET, VG_HOOK_SOCKET);
	e->h.ret = ret;
	e->family = a.a[0];
	e->type = a.a[1];
	e->protocol = a.a[2];
	vg_emit(s, sizeof(*e), VG_HOOK_SOCKET);
	return 0;
}

VG_EXIT_PROGRAMS(vg_net_exit_raw, vg_net_exit, VG_NET_EXITS)
