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

#endif /* XTUN_SHIM_H */
