// SPDX-License-Identifier: GPL-2.0
/*
 * Glue between the kernel's C netdev API and the Rust driver.
 *
 * Nothing here decides anything: the net_device_ops and ethtool_ops tables
 * (opaque to Rust) call through the Rust vtable each device carries,
 * xtun_dev_configure() applies the Config that Rust chose, and every other
 * function is a callable wrapper for an inline helper or a field that the
 * Rust bindings cannot see.
 */
#include <linux/cred.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/module.h>
#include <linux/nsproxy.h>
#include <net/gso.h>
#include <net/net_namespace.h>
#include <net/rtnetlink.h>

#include "xtun_shim.h"


/* The private area: the Rust callbacks for this device and its data. */
struct xtun_priv {
	const struct xtun_netdev_vtable *vt;
	void *data;
};

static const struct xtun_netdev_vtable *xtun_vt(struct net_device *dev)
{
	return ((struct xtun_priv *)netdev_priv(dev))->vt;
}

/* net_device_ops is opaque to Rust: one C table, whose entries call the
 * device's Rust vtable (netdev.rs `VTable<T>`). */
static void xtun_ndo_uninit(struct net_device *dev)
{
	xtun_vt(dev)->uninit(dev);
}

static int xtun_ndo_open(struct net_device *dev)
{
	return xtun_vt(dev)->open(dev);
}

static int xtun_ndo_stop(struct net_device *dev)
{
	return xtun_vt(dev)->stop(dev);
}

static netdev_tx_t xtun_ndo_start_xmit(struct sk_buff *skb,
				       struct net_device *dev)
{
	return xtun_vt(dev)->start_xmit(skb, dev);
}

/* Called by the core once the device is unregistered and unreferenced, or
 * on register_netdevice()'s error path: Rust takes its data back. */
static void xtun_priv_destructor(struct net_device *dev)
{
	xtun_vt(dev)->destruct(dev);
}

static const struct net_device_ops xtun_netdev_ops = {
	.ndo_uninit = xtun_ndo_uninit,
	.ndo_open = xtun_ndo_open,
	.ndo_stop = xtun_ndo_stop,
	.ndo_start_xmit = xtun_ndo_start_xmit,
	.ndo_set_mac_address = eth_mac_addr,
	.ndo_validate_addr = eth_validate_addr,
};

static void xtun_get_drvinfo(struct net_device *dev,
			     struct ethtool_drvinfo *info)
{
	strscpy(info->driver, KBUILD_MODNAME, sizeof(info->driver));
	/* No driver version (upstream rejects them): the ethtool core has
	 * already filled in the kernel release. */
	strscpy(info->bus_info, "xtun", sizeof(info->bus_info));
}

static const struct ethtool_ops xtun_ethtool_ops = {
	.get_drvinfo = xtun_get_drvinfo,
	.get_link = ethtool_op_get_link,
};

/* An Ethernet device with our ops; everything else comes from Rust's
 * Config through xtun_dev_configure(). */
static void xtun_dev_configure(struct net_device *dev,
			       const struct xtun_dev_config *cfg);
static const struct xtun_link_vtable *xtun_link_vt;

/* Every device of our kind, from rtnl_create_link() or xtun_alloc_netdev():
 * attributes `ip link add` gives (address, mtu, txqueuelen) are applied
 * after this, so they win over the Config's defaults. */
static void xtun_setup(struct net_device *dev)
{
	ether_setup(dev);
	dev->netdev_ops = &xtun_netdev_ops;
	dev->ethtool_ops = &xtun_ethtool_ops;
	dev->pcpu_stat_type = NETDEV_PCPU_STAT_DSTATS; /* the xtun_stats_* helpers */
	/* Part of netdev.rs's xmit contract (context::BhOff: bottom halves off,
	 * never hard interrupt), which netpoll breaks; as veth. */
	dev->priv_flags |= IFF_DISABLE_NETPOLL;
	/* The core frees every device (ip link del, netns exit, module exit). */
	dev->needs_free_netdev = true;
	dev->priv_destructor = xtun_priv_destructor;
	xtun_dev_configure(dev, xtun_link_vt->config);
}

/* rtnl_link_ops is opaque to Rust: one kind per module, whose newlink calls
 * the Rust link vtable registered with it (netdev.rs `LinkVTable<T>`). */

/* An Ethernet address from `ip link add ... address`, checked as dummy and
 * veth check theirs. */
static int xtun_validate(struct nlattr *tb[], struct nlattr *data[],
			 struct netlink_ext_ack *extack)
{
	if (tb[IFLA_ADDRESS]) {
		if (nla_len(tb[IFLA_ADDRESS]) != ETH_ALEN)
			return -EINVAL;
		if (!is_valid_ether_addr(nla_data(tb[IFLA_ADDRESS])))
			return -EADDRNOTAVAIL;
	}
	return 0;
}

static int xtun_newlink(struct net_device *dev,
			struct rtnl_newlink_params *params,
			struct netlink_ext_ack *extack)
{
	((struct xtun_priv *)netdev_priv(dev))->vt = xtun_link_vt->netdev;
	return xtun_link_vt->newlink(dev);
}

static struct rtnl_link_ops xtun_link_ops = {
	.kind = KBUILD_MODNAME,
	.priv_size = sizeof(struct xtun_priv),
	.setup = xtun_setup,
	.validate = xtun_validate,
	.newlink = xtun_newlink,
};

int xtun_link_register(const struct xtun_link_vtable *vt)
{
	xtun_link_vt = vt;
	return rtnl_link_register(&xtun_link_ops);
}

void xtun_link_unregister(void)
{
	rtnl_link_unregister(&xtun_link_ops);
}

static void xtun_set_priv_flag(struct net_device *dev, u32 flag, bool on)
{
	if (on)
		dev->priv_flags |= flag;
	else
		dev->priv_flags &= ~flag;
}

static void xtun_dev_configure(struct net_device *dev,
			       const struct xtun_dev_config *cfg)
{
	netdev_features_t features = 0;

	if (cfg->sg)
		features |= NETIF_F_SG;
	if (cfg->fraglist)
		features |= NETIF_F_FRAGLIST;
	dev->hw_features = features;
	dev->features = features;
	dev->vlan_features = features;
	dev->lltx = cfg->lltx;
	xtun_set_priv_flag(dev, IFF_NO_QUEUE, cfg->no_queue);
	xtun_set_priv_flag(dev, IFF_LIVE_ADDR_CHANGE, cfg->live_addr_change);
	xtun_set_priv_flag(dev, IFF_TX_SKB_SHARING, cfg->tx_skb_sharing);
	dev->tx_queue_len = cfg->tx_queue_len;
	dev->min_mtu = cfg->min_mtu;
	dev->max_mtu = cfg->max_mtu;
	if (cfg->random_mac)
		eth_hw_addr_random(dev);
}

/* A device of our kind in @net, as rtnl_create_link() makes one. */
struct net_device *xtun_alloc_netdev(struct net *net, const char *name,
				     unsigned char name_assign_type,
				     unsigned int queues)
{
	struct net_device *dev;

	dev = alloc_netdev_mqs(sizeof(struct xtun_priv), name, name_assign_type,
			       xtun_setup, queues, queues);
	if (!dev)
		return NULL;
	((struct xtun_priv *)netdev_priv(dev))->vt = xtun_link_vt->netdev;
	dev_net_set(dev, net);
	dev->rtnl_link_ops = &xtun_link_ops;
	return dev;
}

/* As tun's __tun_detach: only a device still registered (RTNL held). */
void xtun_unregister(struct net_device *dev)
{
	if (dev->reg_state == NETREG_REGISTERED)
		unregister_netdevice(dev);
}

void xtun_state_change(struct net_device *dev)
{
	netdev_state_change(dev);
}

/* The Rust vtable of @dev if it is a device of our kind, else NULL. */
const struct xtun_netdev_vtable *xtun_dev_vtable(struct net_device *dev)
{
	return dev->rtnl_link_ops == &xtun_link_ops ? xtun_vt(dev) : NULL;
}

int xtun_dev_ifindex(const struct net_device *dev)
{
	return dev->ifindex;
}

const char *xtun_dev_name(const struct net_device *dev)
{
	return dev->name;
}

/* Callers hold RTNL, which orders address changes. */
void xtun_dev_hwaddr(const struct net_device *dev, u8 *out)
{
	memcpy(out, dev->dev_addr, ETH_ALEN);
}

/* As tun's SIOCSIFHWADDR: the core checks @family against dev->type. */
int xtun_dev_set_hwaddr(struct net_device *dev, u16 family, const u8 *addr)
{
	struct sockaddr_storage ss = { .ss_family = family };

	memcpy(ss.__data, addr, ETH_ALEN);
	return dev_set_mac_address_user(dev, &ss, NULL);
}

/* Credentials and namespaces (for tun's attach and create rules). */
struct net *xtun_init_net_get(void)
{
	return get_net(&init_net);
}

struct net *xtun_current_net_get(void)
{
	return get_net(current->nsproxy->net_ns);
}

void xtun_net_put(struct net *net)
{
	put_net(net);
}

bool xtun_net_admin_capable(struct net *net)
{
	return ns_capable(net->user_ns, CAP_NET_ADMIN);
}

bool xtun_make_kuid(u32 uid, u32 *kuid)
{
	kuid_t k = make_kuid(current_user_ns(), uid);

	*kuid = __kuid_val(k);
	return uid_valid(k);
}

bool xtun_make_kgid(u32 gid, u32 *kgid)
{
	kgid_t k = make_kgid(current_user_ns(), gid);

	*kgid = __kgid_val(k);
	return gid_valid(k);
}

u32 xtun_current_euid(void)
{
	return __kuid_val(current_euid());
}

bool xtun_in_egroup(u32 kgid)
{
	return in_egroup_p(KGIDT_INIT(kgid));
}

void **xtun_driver_data(struct net_device *dev)
{
	return &((struct xtun_priv *)netdev_priv(dev))->data;
}

/* A tracked reference (CONFIG_NET_DEV_REFCNT_TRACKER names its holder in
 * leak reports); Rust keeps the tracker in a pointer-sized slot. */
void xtun_dev_hold(struct net_device *dev, void **tracker)
{
	BUILD_BUG_ON(sizeof(netdevice_tracker) > sizeof(*tracker));
	netdev_hold(dev, (netdevice_tracker *)tracker, GFP_ATOMIC);
}

void xtun_dev_put(struct net_device *dev, void **tracker)
{
	netdev_put(dev, (netdevice_tracker *)tracker);
}

/* With lltx the driver stamps trans_start itself (for bonding's ARP monitor). */
void xtun_dev_tx_started(struct net_device *dev, unsigned int queue)
{
	if (queue < dev->num_tx_queues)
		txq_trans_cond_update(netdev_get_tx_queue(dev, queue));
}

unsigned int xtun_dev_num_tx_queues(const struct net_device *dev)
{
	return dev->num_tx_queues;
}

unsigned int xtun_dev_num_rx_queues(const struct net_device *dev)
{
	return dev->num_rx_queues;
}

/* netif_set_real_num_queues(): RTNL held once registered. */
int xtun_set_real_num_queues(struct net_device *dev, unsigned int queues)
{
	return netif_set_real_num_queues(dev, queues, queues);
}

/* skb->protocol as stored: big-endian. */
__be16 xtun_skb_protocol(const struct sk_buff *skb)
{
	return skb->protocol;
}

u16 xtun_skb_queue_mapping(const struct sk_buff *skb)
{
	return skb_get_queue_mapping(skb);
}

unsigned int xtun_dev_mtu(const struct net_device *dev)
{
	return READ_ONCE(dev->mtu);
}

unsigned int xtun_dev_tx_queue_len(const struct net_device *dev)
{
	return READ_ONCE(dev->tx_queue_len);
}

bool xtun_dev_running(const struct net_device *dev)
{
	return netif_running(dev);
}

/* The dstats helpers use this_cpu_ptr(): callers may be preemptible. */
void xtun_stats_rx(struct net_device *dev, unsigned int len)
{
	preempt_disable();
	dev_dstats_rx_add(dev, len);
	preempt_enable();
}

void xtun_stats_rx_dropped(struct net_device *dev)
{
	preempt_disable();
	dev_dstats_rx_dropped(dev);
	preempt_enable();
}

void xtun_stats_tx(struct net_device *dev, unsigned int len)
{
	preempt_disable();
	dev_dstats_tx_add(dev, len);
	preempt_enable();
}

/* As tun: xmit (softirq) and release (process) both drop; the core's
 * per-CPU counter takes increments from any context, unlike dstats'
 * u64_stats, whose writers must not interrupt each other. */
void xtun_stats_tx_dropped(struct net_device *dev)
{
	dev_core_stats_tx_dropped_inc(dev);
}

bool xtun_pskb_may_pull(struct sk_buff *skb, unsigned int len)
{
	return pskb_may_pull(skb, len);
}

/* The headers of a received Ethernet frame, as tun sets them; the caller
 * has made sure the Ethernet header is in the linear part. */
void xtun_eth_rx_headers(struct sk_buff *skb, struct net_device *dev)
{
	skb->protocol = eth_type_trans(skb, dev);
	skb_reset_network_header(skb);
	skb_probe_transport_header(skb);
}

void xtun_local_bh_disable(void)
{
	local_bh_disable();
}

void xtun_local_bh_enable(void)
{
	local_bh_enable();
}

/* SKB_MAX_HEAD: the largest linear part after `headroom` in one page. */
unsigned int xtun_skb_max_head(unsigned int headroom)
{
	return SKB_MAX_HEAD(headroom);
}

/* A linear skb holding `len` (uninitialised) bytes after `headroom`. */
struct sk_buff *xtun_alloc_skb_linear(struct net_device *dev,
				      unsigned int headroom, unsigned int len,
				      gfp_t gfp)
{
	struct sk_buff *skb = __netdev_alloc_skb(dev, headroom + len, gfp);

	if (skb) {
		skb_reserve(skb, headroom);
		skb_put(skb, len);
	}
	return skb;
}

/* `linear` bytes in the head after `headroom`, `paged` in page fragments
 * of at most `order` (alloc_skb_with_frags, as tun_alloc_skb). */
struct sk_buff *xtun_alloc_skb_paged(unsigned int headroom, unsigned int linear,
				     unsigned int paged, unsigned int order,
				     gfp_t gfp)
{
	struct sk_buff *skb;
	int err;

	skb = alloc_skb_with_frags(headroom + linear, paged, order, &err, gfp);
	if (!skb)
		return NULL;
	skb_reserve(skb, headroom);
	skb_put(skb, linear);
	skb->data_len = paged;
	skb->len += paged;
	return skb;
}

/* Frees the caller's reference and returns a clone if someone else holds one. */
struct sk_buff *xtun_skb_share_check(struct sk_buff *skb, gfp_t gfp)
{
	return skb_share_check(skb, gfp);
}

int xtun_skb_orphan_frags_rx(struct sk_buff *skb, gfp_t gfp)
{
	return skb_orphan_frags_rx(skb, gfp);
}

void xtun_skb_tx_timestamp(struct sk_buff *skb)
{
	skb_tx_timestamp(skb);
}

void xtun_skb_orphan(struct sk_buff *skb)
{
	skb_orphan(skb);
}

void xtun_nf_reset_ct(struct sk_buff *skb)
{
	nf_reset_ct(skb);
}

void xtun_kfree_skb(struct sk_buff *skb)
{
	kfree_skb(skb);
}

void xtun_consume_skb(struct sk_buff *skb)
{
	consume_skb(skb);
}

bool xtun_skb_is_gso(const struct sk_buff *skb)
{
	return skb_is_gso(skb);
}

/* Software segmentation (features 0), as wg_xmit and ovpn_net_xmit: the
 * list of segments, with @skb freed; an ERR_PTR leaves @skb to the caller,
 * as does NULL (a GSO skb the stack would send whole), made an error. */
struct sk_buff *xtun_skb_gso_segment(struct sk_buff *skb)
{
	struct sk_buff *segs = skb_gso_segment(skb, 0);

	if (IS_ERR_OR_NULL(segs))
		return segs ?: ERR_PTR(-EINVAL);
	consume_skb(skb);
	return segs;
}

/* The skb after @skb on its list, with @skb taken off it. */
struct sk_buff *xtun_skb_list_take(struct sk_buff *skb)
{
	struct sk_buff *next = skb->next;

	skb_mark_not_on_list(skb);
	return next;
}

void xtun_kfree_skb_list(struct sk_buff *skb)
{
	kfree_skb_list(skb);
}

/* KUnit: @frag goes last on @head's frag list (a GRO'd frame's layout). */
void xtun_skb_append_frag(struct sk_buff *head, struct sk_buff *frag)
{
	struct sk_buff **last = &skb_shinfo(head)->frag_list;

	while (*last)
		last = &(*last)->next;
	*last = frag;
	head->len += frag->len;
	head->data_len += frag->len;
	head->truesize += frag->truesize;
}

void xtun_skb_queue_init(struct sk_buff_head *queue)
{
	skb_queue_head_init(queue);
}

u32 xtun_skb_queue_len(const struct sk_buff_head *queue)
{
	return skb_queue_len_lockless(queue);
}

/* Appends `skb` unless the queue already holds `limit` skbs; the check and
 * the append are one step under the queue's lock. */
bool xtun_skb_queue_tail_bounded(struct sk_buff_head *queue,
				 struct sk_buff *skb, u32 limit)
{
	bool room;

	/* Bottom halves are off in xmit: the lock needs no more. */
	lockdep_assert_in_softirq();
	spin_lock(&queue->lock);
	room = skb_queue_len(queue) < limit;
	if (room)
		__skb_queue_tail(queue, skb);
	spin_unlock(&queue->lock);
	return room;
}

struct sk_buff *xtun_skb_dequeue_bh(struct sk_buff_head *queue)
{
	struct sk_buff *skb;

	spin_lock_bh(&queue->lock);
	skb = __skb_dequeue(queue);
	spin_unlock_bh(&queue->lock);
	return skb;
}

/* From a NAPI poll (softirq): bottom halves are off already. */
struct sk_buff *xtun_skb_dequeue_nobh(struct sk_buff_head *queue)
{
	struct sk_buff *skb;

	lockdep_assert_in_softirq();
	spin_lock(&queue->lock);
	skb = __skb_dequeue(queue);
	spin_unlock(&queue->lock);
	return skb;
}

/* NAPI (IFF_NAPI, as tun's per-file napi): napi_struct is opaque to Rust;
 * its poll calls back into Rust with the owner's data. */
struct xtun_napi {
	struct napi_struct napi;
	int (*poll)(const void *data, struct xtun_napi *napi, int budget);
	const void *data;
};

static int xtun_napi_poll(struct napi_struct *napi, int budget)
{
	struct xtun_napi *x = container_of(napi, struct xtun_napi, napi);

	return x->poll(x->data, x, budget);
}

/* Added disabled, as tun_napi_init() before its napi_enable(); RTNL held. */
struct xtun_napi *xtun_napi_add(struct net_device *dev,
				int (*poll)(const void *, struct xtun_napi *, int),
				const void *data)
{
	struct xtun_napi *x = kzalloc(sizeof(*x), GFP_KERNEL);

	if (!x)
		return NULL;
	x->poll = poll;
	x->data = data;
	netif_napi_add_tx(dev, &x->napi, xtun_napi_poll);
	return x;
}

void xtun_napi_enable(struct xtun_napi *x)
{
	napi_enable(&x->napi);
}

void xtun_napi_disable(struct xtun_napi *x)
{
	napi_disable(&x->napi);
}

/* netif_napi_del() waits a grace period: no poll runs after it. */
void xtun_napi_del(struct xtun_napi *x)
{
	netif_napi_del(&x->napi);
}

void xtun_napi_free(struct xtun_napi *x)
{
	kfree(x);
}

void xtun_napi_schedule(struct xtun_napi *x)
{
	napi_schedule(&x->napi);
}

void xtun_napi_gro_receive(struct xtun_napi *x, struct sk_buff *skb)
{
	napi_gro_receive(&x->napi, skb);
}

void xtun_napi_complete_done(struct xtun_napi *x, int done)
{
	napi_complete_done(&x->napi, done);
}

/* Under the lock: a remover that unlinked its entry has also let go. */
bool xtun_wq_is_empty(struct wait_queue_head *head)
{
	unsigned long flags;
	bool empty;

	spin_lock_irqsave(&head->lock, flags);
	empty = list_empty(&head->head);
	spin_unlock_irqrestore(&head->lock, flags);
	return empty;
}

void xtun_skb_record_rx_queue(struct sk_buff *skb, u16 queue)
{
	skb_record_rx_queue(skb, queue);
}

bool xtun_wq_has_sleeper(struct wait_queue_head *head)
{
	return wq_has_sleeper(head);
}

MODULE_ALIAS_RTNL_LINK(KBUILD_MODNAME); /* ip link add ... type xtun loads us */

/* The first device of our kind in @net whose ifindex is at least *@ifindex
 * (which is updated), for dumps; RTNL held. */
struct net_device *xtun_dev_next(struct net *net, unsigned long *ifindex)
{
	unsigned long index = *ifindex;
	struct net_device *dev;

	ASSERT_RTNL();
	for_each_netdev_dump(net, dev, index) {
		if (dev->rtnl_link_ops == &xtun_link_ops) {
			*ifindex = index;
			return dev;
		}
	}
	return NULL;
}

struct net *xtun_dev_net(struct net_device *dev)
{
	return dev_net(dev);
}

struct net *xtun_maybe_get_net(struct net *net)
{
	return maybe_get_net(net);
}
