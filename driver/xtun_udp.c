// SPDX-License-Identifier: GPL-2.0
/*
 * Glue for the tunnel mode (tunnel.rs decides, udp_tunnel.rs calls): the
 * kernel's UDP tunnel API (include/net/udp_tunnel.h), gro_cells and a
 * self-rearming delayed work, which Rust cannot reach because they are
 * inline, use bitfields or need a C callback. The sequences are vxlan's
 * (drivers/net/vxlan/vxlan_core.c), named where they come from.
 */
#include <linux/etherdevice.h>
#include <linux/if_ether.h>
#include <linux/jhash.h>
#include <linux/workqueue.h>
#include <net/dst_cache.h>
#include <net/inet_ecn.h>
#include <net/gro_cells.h>
#include <net/ip_tunnels.h>
#include <net/udp.h>
#include <net/udp_tunnel.h>

#include "xtun_shim.h"

/* The AEAD tag a sealed keepalive gains (secure mode). */
#define XTUN_TAG_ROOM 16

/* One kernel UDP socket and the Rust receiver its datagrams go to;
 * sk_user_data points here while the socket is open. */
struct xtun_udp_sock {
	struct socket *sock;
	int (*rcv)(const void *data, struct sk_buff *skb);
	const void *data;
};

static int xtun_encap_rcv(struct sock *sk, struct sk_buff *skb)
{
	struct xtun_udp_sock *x = rcu_dereference_sk_user_data(sk);

	/* Closing: as vxlan_rcv without a vxlan_sock, drop. */
	if (!x) {
		kfree_skb(skb);
		return 0;
	}
	return x->rcv(x->data, skb);
}

/* udp_sock_create (inline; udp_port_cfg has bitfields) + vxlan's
 * vxlan_create_sock/vxlan_socket_create settings. */
struct xtun_udp_sock *xtun_udp_sock_open(struct net_device *dev, __be32 local,
					 __be16 port,
					 int (*rcv)(const void *, struct sk_buff *),
					 const void *data)
{
	struct udp_tunnel_sock_cfg tunnel_cfg = {};
	struct udp_port_cfg cfg = {};
	struct xtun_udp_sock *x;
	struct socket *sock;
	int err;

	x = kzalloc(sizeof(*x), GFP_KERNEL);
	if (!x)
		return ERR_PTR(-ENOMEM);
	cfg.family = AF_INET;
	cfg.local_ip.s_addr = local;
	cfg.local_udp_port = port;
	cfg.use_udp_checksums = true;
	err = udp_sock_create(dev_net(dev), &cfg, &sock);
	if (err) {
		kfree(x);
		return ERR_PTR(err);
	}
	udp_allow_gso(sock->sk);
	x->sock = sock;
	x->rcv = rcv;
	x->data = data;
	tunnel_cfg.sk_user_data = x;
	tunnel_cfg.encap_type = 1;
	tunnel_cfg.encap_rcv = xtun_encap_rcv;
	setup_udp_tunnel_sock(dev_net(dev), sock->sk, &tunnel_cfg);
	return x;
}

u16 xtun_udp_sock_port(const struct xtun_udp_sock *x)
{
	return ntohs(inet_sk(x->sock->sk)->inet_sport);
}

/* As vxlan_sock_release: unpublish, wait for receivers, release. */
void xtun_udp_sock_close(struct xtun_udp_sock *x)
{
	rcu_assign_sk_user_data(x->sock->sk, NULL);
	synchronize_net();
	udp_tunnel_sock_release(x->sock->sk);
	kfree(x);
}

/* The outer IPv4 source address and UDP source port of a datagram that
 * encap_rcv got (skb->data at the UDP header). */
void xtun_skb_outer4(const struct sk_buff *skb, __be32 *saddr, __be16 *sport)
{
	*saddr = ip_hdr(skb)->saddr;
	*sport = udp_hdr(skb)->source;
}

const u8 *xtun_skb_data(const struct sk_buff *skb)
{
	return skb->data;
}

unsigned int xtun_skb_headlen(const struct sk_buff *skb)
{
	return skb_headlen(skb);
}

/* vxlan_rcv's decapsulation once the header is accepted: drop the UDP
 * header and the @hdr_len-byte one after it, vxlan_set_mac's Ethernet part (without learning: Rust
 * does that), pskb_inet_may_pull, then the outer ECN onto the inner
 * packet (vxlan_ecn_decapsulate). Fails (the caller drops and counts) on
 * a short inner frame or an ECN the inner packet cannot carry. */
int xtun_udp_decap(struct sk_buff *skb, struct net_device *dev,
		   unsigned int hdr_len)
{
	unsigned int nh;

	/* The socket is always in the device's namespace (opened there at
	 * ndo_open, closed before a move): nothing to scrub (xnet false). */
	if (__iptunnel_pull_header(skb, sizeof(struct udphdr) + hdr_len,
				   htons(ETH_P_TEB), false, false))
		return -EINVAL;
	if (!pskb_may_pull(skb, ETH_HLEN))
		return -EINVAL;
	skb_reset_mac_header(skb);
	skb->protocol = eth_type_trans(skb, dev);
	skb_postpull_rcsum(skb, eth_hdr(skb), ETH_HLEN);
	nh = skb_network_header(skb) - skb->head;
	skb_reset_network_header(skb);
	if (!pskb_inet_may_pull(skb))
		return -EINVAL;
	if (IP_ECN_decapsulate((const struct iphdr *)(skb->head + nh), skb) > 1)
		return -EINVAL;
	return 0;
}

/* Whether @mac is @dev's own address (vxlan_set_mac: a frame from
 * ourselves is a loop). Read without RTNL, as vxlan does. */
bool xtun_dev_addr_is(const struct net_device *dev, const u8 *mac)
{
	return ether_addr_equal(dev->dev_addr, mac);
}

/* vxlan_encap_bypass: the ICMP reply skb_tunnel_check_pmtu built in @skb
 * goes back up our own device. */
static void xtun_encap_bypass(struct sk_buff *skb, struct net_device *dev)
{
	unsigned int len = skb->len;

	skb->pkt_type = PACKET_HOST;
	skb->encapsulation = 0;
	skb->dev = dev;
	__skb_pull(skb, skb_network_offset(skb));
	if (unlikely(!(dev->flags & IFF_UP))) {
		kfree_skb_reason(skb, SKB_DROP_REASON_DEV_READY);
		dev_dstats_rx_dropped(dev);
		return;
	}
	dev_dstats_tx_add(dev, len);
	if (__netif_rx(skb) == NET_RX_SUCCESS)
		dev_dstats_rx_add(dev, len);
	else
		dev_dstats_rx_dropped(dev);
}

/* vxlan_xmit_one for one IPv4 remote, without its options: route through
 * the per-peer cache, PMTU as vxlan's (@overhead: what encapsulation adds
 * to the frame, its Ethernet header included), vxlan_build_skb with the
 * @hdr_len-byte header Rust wrote in @hdr, udp_tunnel_xmit_skb. With
 * @seal (secure mode), the frame's checksum is completed and @seal called
 * with skb->data at the header once it is pushed: it encrypts in place.
 * Consumes @skb. Returns 0 (sent), 1 (too big: the ICMP error went back up
 * the device), or a negative errno with the skb freed (the caller
 * counts). */
int xtun_udp_xmit(struct xtun_udp_sock *x, struct net_device *dev,
		  struct sk_buff *skb, struct dst_cache *cache, __be32 daddr, __be16 sport,
		  __be16 dport, const u8 *hdr, unsigned int hdr_len,
		  unsigned int overhead, xtun_seal_fn seal, const void *seal_ctx)
{
	struct ip_tunnel_key key = {};
	struct sock *sk = x->sock->sk;
	bool double_encap;
	struct rtable *rt;
	__be32 saddr;
	u8 tos, ttl;
	int err;

	/* As vxlan_xmit: the inner network header must be readable. */
	if (skb_vlan_inet_prepare(skb, false)) {
		kfree_skb(skb);
		return -EINVAL;
	}
	key.u.ipv4.dst = daddr;
	key.u.ipv4.src = inet_sk(sk)->inet_saddr;
	rt = udp_tunnel_dst_lookup(skb, dev, sock_net(sk), sk->sk_bound_dev_if,
				   &saddr, &key, sport, dport, 0, cache);
	if (IS_ERR(rt)) {
		kfree_skb_reason(skb, SKB_DROP_REASON_IP_OUTNOROUTES);
		return PTR_ERR(rt);
	}
	err = skb_tunnel_check_pmtu(skb, &rt->dst, overhead,
				    netif_is_any_bridge_port(dev));
	if (err < 0)
		goto drop;
	if (err) {
		dst_release(&rt->dst);
		xtun_encap_bypass(skb, dev);
		return 1;
	}
	tos = ip_tunnel_ecn_encap(0, ip_hdr(skb), skb);
	ttl = ip4_dst_hoplimit(&rt->dst);
	err = skb_cow_head(skb, LL_RESERVED_SPACE(rt->dst.dev) + rt->dst.header_len +
				sizeof(struct udphdr) + hdr_len + sizeof(struct iphdr));
	if (err)
		goto drop;
	if (seal) {
		/* As ovpn: encryption wants the whole frame, checksummed;
		 * tunnel.rs cut GSO frames before (a GSO frame here is a bug). */
		err = -EINVAL;
		if (WARN_ON_ONCE(skb_is_gso(skb)))
			goto drop;
		if (skb->ip_summed == CHECKSUM_PARTIAL) {
			err = skb_checksum_help(skb);
			if (err)
				goto drop;
		}
		memcpy(__skb_push(skb, hdr_len), hdr, hdr_len);
		err = seal(seal_ctx, skb);
		if (err)
			goto drop;
		skb->ip_summed = CHECKSUM_NONE;
		__skb_pull(skb, hdr_len);
	}
	double_encap = udp_tunnel_handle_partial(skb);
	err = iptunnel_handle_offloads(skb, SKB_GSO_UDP_TUNNEL_CSUM);
	if (err)
		goto drop;
	if (seal)
		__skb_push(skb, hdr_len);
	else
		memcpy(__skb_push(skb, hdr_len), hdr, hdr_len);
	udp_tunnel_set_inner_protocol(skb, double_encap, htons(ETH_P_TEB));
	udp_tunnel_xmit_skb(rt, sk, skb, saddr, daddr, tos, ttl, 0, sport, dport,
			    false, false, 0);
	return 0;
drop:
	dst_release(&rt->dst);
	kfree_skb(skb);
	return err;
}

/* A datagram of only the @hdr_len-byte @hdr (the keepalive) from the
 * socket to @daddr; with @seal, sealed first (secure mode: the tag). */
int xtun_udp_send_raw(struct xtun_udp_sock *x, struct net_device *dev,
		      struct dst_cache *cache,
		      __be32 daddr, __be16 sport, __be16 dport, const u8 *hdr,
		      unsigned int hdr_len, xtun_seal_fn seal, const void *seal_ctx)
{
	struct sk_buff *skb;
	struct ip_tunnel_key key = {};
	struct sock *sk = x->sock->sk;
	struct rtable *rt;
	__be32 saddr;

	/* Room for the header and a tag after it. */
	skb = alloc_skb(LL_MAX_HEADER + sizeof(struct iphdr) + sizeof(struct udphdr) +
			hdr_len + XTUN_TAG_ROOM, GFP_ATOMIC);
	if (!skb)
		return -ENOMEM;
	skb_reserve(skb, LL_MAX_HEADER + sizeof(struct iphdr) + sizeof(struct udphdr));
	skb_put_data(skb, hdr, hdr_len);
	if (seal) {
		int err = seal(seal_ctx, skb);

		if (err) {
			kfree_skb(skb);
			return err;
		}
	}
	skb_reset_network_header(skb);
	skb_reset_inner_headers(skb);
	/* iptunnel_xmit counts the datagram on skb->dev: the keepalive is an
	 * 8-byte tx packet of the device. */
	skb->dev = dev;
	key.u.ipv4.dst = daddr;
	key.u.ipv4.src = inet_sk(sk)->inet_saddr;
	rt = udp_tunnel_dst_lookup(skb, dev, sock_net(sk), sk->sk_bound_dev_if,
				   &saddr, &key, sport, dport, 0, cache);
	if (IS_ERR(rt)) {
		kfree_skb(skb);
		return PTR_ERR(rt);
	}
	udp_tunnel_xmit_skb(rt, sk, skb, saddr, daddr, 0, ip4_dst_hoplimit(&rt->dst),
			    0, sport, dport, false, false, 0);
	return 0;
}

struct dst_cache *xtun_dst_cache_new(void)
{
	struct dst_cache *cache = kzalloc(sizeof(*cache), GFP_KERNEL);

	if (cache && dst_cache_init(cache, GFP_KERNEL)) {
		kfree(cache);
		return NULL;
	}
	return cache;
}

/* The peer moved (secure mode's roaming): routes to the old address go. */
void xtun_dst_cache_reset(struct dst_cache *cache)
{
	dst_cache_reset(cache);
}

void xtun_dst_cache_free(struct dst_cache *cache)
{
	dst_cache_destroy(cache);
	kfree(cache);
}

struct gro_cells *xtun_gro_cells_new(struct net_device *dev)
{
	struct gro_cells *cells = kzalloc(sizeof(*cells), GFP_KERNEL);

	if (cells && gro_cells_init(cells, dev)) {
		kfree(cells);
		return NULL;
	}
	return cells;
}

void xtun_gro_cells_free(struct gro_cells *cells)
{
	gro_cells_destroy(cells);
	kfree(cells);
}

/* As vxlan_rcv's tail: count, then GRO through the cells. */
void xtun_gro_cells_receive(struct gro_cells *cells, struct sk_buff *skb)
{
	dev_dstats_rx_add(skb->dev, skb->len);
	gro_cells_receive(cells, skb);
}

/* The features of a tunnel device: vxlan_setup's; with @secure,
 * WireGuard's (no frag lists: the core linearizes them, so a sealed frame
 * fits the scatterlist). Secure mode cuts GSO frames and completes
 * checksums in xmit, before it seals each wire frame. */
void xtun_dev_set_tunnel_features(struct net_device *dev, unsigned int headroom,
				  unsigned int tailroom, bool secure)
{
	netdev_features_t all = NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_FRAGLIST |
				NETIF_F_RXCSUM | NETIF_F_GSO_SOFTWARE;
	netdev_features_t f = secure ? all & ~NETIF_F_FRAGLIST : all;

	/* Offered and wanted: netdev_update_features turns them on (or off)
	 * and tells the stack (uppers, RTM_NEWLINK). */
	dev->features &= ~(all & ~f);
	dev->hw_features = (dev->hw_features & ~all) | f;
	dev->wanted_features = (dev->wanted_features & ~all) | f;
	dev->vlan_features = (dev->vlan_features & ~all) | f;
	dev->hw_enc_features = (dev->hw_enc_features & ~all) | f;
	dev->needed_headroom = headroom;
	dev->needed_tailroom = tailroom;
	/* Keep the inner route, so skb_tunnel_check_pmtu can lower its PMTU
	 * (vxlan_setup, wireguard, ovpn). */
	netif_keep_dst(dev);
	netdev_update_features(dev);
}

int xtun_dev_set_mtu(struct net_device *dev, unsigned int mtu)
{
	return dev_set_mtu(dev, mtu);
}

/* A delayed work that calls @fn(@data) and is rearmed from Rust. */
struct xtun_work {
	struct delayed_work work;
	void (*fn)(const void *data);
	const void *data;
};

static void xtun_work_run(struct work_struct *work)
{
	struct xtun_work *x = container_of(to_delayed_work(work), struct xtun_work, work);

	x->fn(x->data);
}

struct xtun_work *xtun_work_new(void (*fn)(const void *), const void *data)
{
	struct xtun_work *x = kzalloc(sizeof(*x), GFP_KERNEL);

	if (!x)
		return NULL;
	INIT_DELAYED_WORK(&x->work, xtun_work_run);
	x->fn = fn;
	x->data = data;
	return x;
}

void xtun_work_schedule(struct xtun_work *x, unsigned long delay_ms)
{
	queue_delayed_work(system_power_efficient_wq, &x->work, msecs_to_jiffies(delay_ms));
}

/* Waits for a running call; a call that rearms itself is not run again. */
void xtun_work_cancel(struct xtun_work *x)
{
	cancel_delayed_work_sync(&x->work);
}

void xtun_work_free(struct xtun_work *x)
{
	kfree(x);
}

u64 xtun_jiffies_ms(void)
{
	return jiffies64_to_msecs(get_jiffies_64());
}

u32 xtun_random_u32(void)
{
	return get_random_u32();
}

u32 xtun_jhash_3words(u32 a, u32 b, u32 c, u32 initval)
{
	return jhash_3words(a, b, c, initval);
}

struct sk_buff *xtun_skb_clone_atomic(struct sk_buff *skb)
{
	return skb_clone(skb, GFP_ATOMIC);
}
