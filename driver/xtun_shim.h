/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C shim's interface: what Rust calls (netdev.rs, skb.rs declare the
 * same functions in `extern "C"` blocks) and the layouts both sides share.
 */
#ifndef XTUN_SHIM_H
#define XTUN_SHIM_H

#include <linux/fs.h>
#include <linux/netdevice.h>
#include <linux/poll.h>
#include <linux/skbuff.h>

/* A device's net_device_ops, implemented in Rust: netdev.rs `VTable<T>`
 * builds one per driver type, the same layout. */
struct xtun_netdev_vtable {
	void (*uninit)(struct net_device *dev);
	int (*open)(struct net_device *dev);
	int (*stop)(struct net_device *dev);
	netdev_tx_t (*start_xmit)(struct sk_buff *skb, struct net_device *dev);
	void (*destruct)(struct net_device *dev);
};

/* The Rust side of the module's rtnl_link_ops: netdev.rs `LinkVTable<T>`. */
struct xtun_link_vtable {
	const struct xtun_netdev_vtable *netdev;
	int (*newlink)(struct net_device *dev);
	const struct xtun_dev_config *config;
};

/* What the Rust driver decides about a device: netdev.rs `Config`, the
 * same layout. */
struct xtun_dev_config {
	u32 tx_queue_len;
	u32 min_mtu;
	u32 max_mtu;
	bool sg;		/* NETIF_F_SG */
	bool fraglist;		/* NETIF_F_FRAGLIST */
	bool lltx;
	bool no_queue;		/* IFF_NO_QUEUE */
	bool live_addr_change;	/* IFF_LIVE_ADDR_CHANGE */
	bool tx_skb_sharing;	/* IFF_TX_SKB_SHARING */
	bool random_mac;
};

/* Implemented in xtun_shim.c, called from Rust. */
int xtun_link_register(const struct xtun_link_vtable *vt);
void xtun_link_unregister(void);
struct net_device *xtun_alloc_netdev(struct net *net, const char *name,
				     unsigned char name_assign_type,
				     unsigned int queues);
unsigned int xtun_dev_num_tx_queues(const struct net_device *dev);
unsigned int xtun_dev_num_rx_queues(const struct net_device *dev);
int xtun_set_real_num_queues(struct net_device *dev, unsigned int queues);
u16 xtun_skb_queue_mapping(const struct sk_buff *skb);
__be16 xtun_skb_protocol(const struct sk_buff *skb);
const struct xtun_netdev_vtable *xtun_dev_vtable(struct net_device *dev);
void xtun_unregister(struct net_device *dev);
void xtun_state_change(struct net_device *dev);
int xtun_dev_ifindex(const struct net_device *dev);
const char *xtun_dev_name(const struct net_device *dev);
void xtun_dev_hwaddr(const struct net_device *dev, u8 *out);
int xtun_dev_set_hwaddr(struct net_device *dev, u16 family, const u8 *addr);
struct net *xtun_init_net_get(void);
struct net *xtun_current_net_get(void);
void xtun_net_put(struct net *net);
bool xtun_net_admin_capable(struct net *net);
bool xtun_make_kuid(u32 uid, u32 *kuid);
bool xtun_make_kgid(u32 gid, u32 *kgid);
u32 xtun_current_euid(void);
bool xtun_in_egroup(u32 kgid);
void **xtun_driver_data(struct net_device *dev);
void xtun_dev_hold(struct net_device *dev, void **tracker);
void xtun_dev_put(struct net_device *dev, void **tracker);
void xtun_dev_tx_started(struct net_device *dev, unsigned int queue);
unsigned int xtun_dev_mtu(const struct net_device *dev);
unsigned int xtun_dev_tx_queue_len(const struct net_device *dev);
bool xtun_dev_running(const struct net_device *dev);
void xtun_stats_rx(struct net_device *dev, unsigned int len);
void xtun_stats_rx_dropped(struct net_device *dev);
void xtun_stats_tx(struct net_device *dev, unsigned int len);
void xtun_stats_tx_dropped(struct net_device *dev);
bool xtun_pskb_may_pull(struct sk_buff *skb, unsigned int len);
void xtun_eth_rx_headers(struct sk_buff *skb, struct net_device *dev);
void xtun_local_bh_disable(void);
void xtun_local_bh_enable(void);
unsigned int xtun_skb_max_head(unsigned int headroom);
struct sk_buff *xtun_alloc_skb_linear(struct net_device *dev,
				      unsigned int headroom, unsigned int len,
				      gfp_t gfp);
struct sk_buff *xtun_alloc_skb_paged(unsigned int headroom, unsigned int linear,
				     unsigned int paged, unsigned int order,
				     gfp_t gfp);
struct sk_buff *xtun_skb_share_check(struct sk_buff *skb, gfp_t gfp);
int xtun_skb_orphan_frags_rx(struct sk_buff *skb, gfp_t gfp);
void xtun_skb_tx_timestamp(struct sk_buff *skb);
void xtun_skb_orphan(struct sk_buff *skb);
void xtun_nf_reset_ct(struct sk_buff *skb);
void xtun_kfree_skb(struct sk_buff *skb);
void xtun_consume_skb(struct sk_buff *skb);
bool xtun_skb_is_gso(const struct sk_buff *skb);
struct sk_buff *xtun_skb_gso_segment(struct sk_buff *skb);
struct sk_buff *xtun_skb_list_take(struct sk_buff *skb);
void xtun_kfree_skb_list(struct sk_buff *skb);
void xtun_skb_append_frag(struct sk_buff *head, struct sk_buff *frag);
void xtun_skb_queue_init(struct sk_buff_head *queue);
u32 xtun_skb_queue_len(const struct sk_buff_head *queue);
bool xtun_skb_queue_tail_bounded(struct sk_buff_head *queue,
				 struct sk_buff *skb, u32 limit);
struct sk_buff *xtun_skb_dequeue_bh(struct sk_buff_head *queue);
struct sk_buff *xtun_skb_dequeue_nobh(struct sk_buff_head *queue);

struct xtun_napi;
struct xtun_napi *xtun_napi_add(struct net_device *dev,
				int (*poll)(const void *, struct xtun_napi *, int),
				const void *data);
void xtun_napi_enable(struct xtun_napi *x);
void xtun_napi_disable(struct xtun_napi *x);
void xtun_napi_del(struct xtun_napi *x);
void xtun_napi_free(struct xtun_napi *x);
void xtun_napi_schedule(struct xtun_napi *x);
void xtun_napi_gro_receive(struct xtun_napi *x, struct sk_buff *skb);
void xtun_napi_complete_done(struct xtun_napi *x, int done);
bool xtun_wq_has_sleeper(struct wait_queue_head *head);
bool xtun_wq_is_empty(struct wait_queue_head *head);
void xtun_skb_record_rx_queue(struct sk_buff *skb, u16 queue);

struct net_device *xtun_dev_next(struct net *net, unsigned long *ifindex);
struct net *xtun_dev_net(struct net_device *dev);

/* xtun_udp.c: the tunnel mode's UDP socket, encapsulation, GRO cells. */
struct xtun_udp_sock;
struct dst_cache;
struct gro_cells;
struct xtun_work;
struct xtun_udp_sock *xtun_udp_sock_open(struct net_device *dev, __be32 local,
					 __be16 port,
					 int (*rcv)(const void *, struct sk_buff *),
					 const void *data);
u16 xtun_udp_sock_port(const struct xtun_udp_sock *x);
void xtun_udp_sock_close(struct xtun_udp_sock *x);
void xtun_skb_outer4(const struct sk_buff *skb, __be32 *saddr, __be16 *sport);
const u8 *xtun_skb_data(const struct sk_buff *skb);
unsigned int xtun_skb_headlen(const struct sk_buff *skb);
struct sk_buff *xtun_skb_clone_atomic(struct sk_buff *skb);
int xtun_udp_decap(struct sk_buff *skb, struct net_device *dev,
		   unsigned int hdr_len);
/* Encrypts in place, skb->data at the header (secure mode, aead.rs). */
typedef int (*xtun_seal_fn)(const void *ctx, struct sk_buff *skb);
bool xtun_dev_addr_is(const struct net_device *dev, const u8 *mac);
int xtun_udp_xmit(struct xtun_udp_sock *x, struct net_device *dev,
		  struct sk_buff *skb, struct dst_cache *cache, __be32 daddr,
		  __be16 sport, __be16 dport, const u8 *hdr, unsigned int hdr_len,
		  unsigned int overhead, xtun_seal_fn seal, const void *seal_ctx);
int xtun_udp_send_raw(struct xtun_udp_sock *x, struct net_device *dev,
		      struct dst_cache *cache, __be32 daddr, __be16 sport,
		      __be16 dport, const u8 *hdr, unsigned int hdr_len,
		      xtun_seal_fn seal, const void *seal_ctx);
void xtun_dst_cache_reset(struct dst_cache *cache);
struct dst_cache *xtun_dst_cache_new(void);
void xtun_dst_cache_free(struct dst_cache *cache);
struct gro_cells *xtun_gro_cells_new(struct net_device *dev);
void xtun_gro_cells_free(struct gro_cells *cells);
void xtun_gro_cells_receive(struct gro_cells *cells, struct sk_buff *skb);
void xtun_dev_set_tunnel_features(struct net_device *dev, unsigned int headroom,
				  unsigned int tailroom, bool secure);
int xtun_dev_set_mtu(struct net_device *dev, unsigned int mtu);
struct xtun_work *xtun_work_new(void (*fn)(const void *), const void *data);
void xtun_work_schedule(struct xtun_work *x, unsigned long delay_ms);
void xtun_work_cancel(struct xtun_work *x);
void xtun_work_free(struct xtun_work *x);
u64 xtun_jiffies_ms(void);

/* xtun_aead.c: secure mode's AEAD through the kernel crypto API. */
struct xtun_aead;
int xtun_aead_init(void);
void xtun_aead_exit(void);
struct xtun_aead *xtun_aead_new(const char *alg, const u8 *key,
				unsigned int key_len);
void xtun_aead_free(struct xtun_aead *x);
const char *xtun_aead_driver_name(struct xtun_aead *x);
int xtun_aead_seal(struct xtun_aead *x, struct sk_buff *skb,
		   unsigned int ad_len, const u8 *nonce);
int xtun_aead_open(struct xtun_aead *x, struct sk_buff *skb,
		   unsigned int offset, unsigned int ad_len, const u8 *nonce);
struct genl_info;
void xtun_genl_wipe_keys(struct genl_info *info);
u32 xtun_random_u32(void);
u32 xtun_jhash_3words(u32 a, u32 b, u32 c, u32 initval);
struct net *xtun_maybe_get_net(struct net *net);

/* xtun_genl.c: the generic netlink family's glue. */
struct genl_info;
struct netlink_callback;
struct nlattr;
int xtun_genl_register(void);
void xtun_genl_unregister(void);
struct net *xtun_genl_info_net_get(const struct genl_info *info);
const struct nlattr *xtun_genl_info_attr(const struct genl_info *info, int type);
void xtun_genl_set_err_msg(struct genl_info *info, const char *msg);
void xtun_genl_set_bad_attr(struct genl_info *info, const struct nlattr *attr);
struct sk_buff *xtun_genl_msg_new(void);
void *xtun_genl_put_reply(struct sk_buff *skb, struct genl_info *info, u8 cmd);
void *xtun_genl_put_dump(struct sk_buff *skb, struct netlink_callback *cb, u8 cmd);
void *xtun_genl_put_notify(struct sk_buff *skb, u8 cmd);
void xtun_genl_end(struct sk_buff *skb, void *hdr);
void xtun_genl_cancel(struct sk_buff *skb, void *hdr);
int xtun_genl_reply(struct sk_buff *skb, struct genl_info *info);
bool xtun_genl_has_listeners(struct net *net);
void xtun_genl_notify(struct net *net, struct sk_buff *skb);
void xtun_genl_free(struct sk_buff *skb);
struct nlattr *xtun_nla_nest_start(struct sk_buff *skb, int type);
void xtun_nla_nest_end(struct sk_buff *skb, struct nlattr *start);
void xtun_nla_nest_cancel(struct sk_buff *skb, struct nlattr *start);
long *xtun_dump_args(struct netlink_callback *cb);
const struct nlattr *xtun_dump_attr(struct netlink_callback *cb, int type);
struct net *xtun_dump_net_get(struct netlink_callback *cb);

#endif /* XTUN_SHIM_H */
