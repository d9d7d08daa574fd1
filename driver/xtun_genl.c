// SPDX-License-Identifier: GPL-2.0
/*
 * Glue for the xtun generic netlink family (genl.rs): the family and its
 * policies are generated from netlink/xtun.yaml (gen/xtun_nl_gen.c); the
 * handlers it names are Rust (genl.rs). Here: callable versions of the
 * inline genetlink/netlink helpers, nothing that decides.
 */
#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "gen/xtun_nl_gen.h"
#include "xtun_shim.h"

int xtun_genl_register(void)
{
	return genl_register_family(&xtun_nl_family);
}

void xtun_genl_unregister(void)
{
	genl_unregister_family(&xtun_nl_family);
}

struct net *xtun_genl_info_net_get(const struct genl_info *info)
{
	return get_net(genl_info_net(info));
}

const struct nlattr *xtun_genl_info_attr(const struct genl_info *info, int type)
{
	return info->attrs[type];
}

/* NL_SET_ERR_MSG wants a literal; @msg is a static string from Rust. */
void xtun_genl_set_err_msg(struct genl_info *info, const char *msg)
{
	if (info->extack)
		info->extack->_msg = msg;
}

void xtun_genl_set_bad_attr(struct genl_info *info, const struct nlattr *attr)
{
	NL_SET_BAD_ATTR(info->extack, attr);
}

struct sk_buff *xtun_genl_msg_new(void)
{
	return genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
}

void *xtun_genl_put_reply(struct sk_buff *skb, struct genl_info *info, u8 cmd)
{
	return genlmsg_put_reply(skb, info, &xtun_nl_family, 0, cmd);
}

void *xtun_genl_put_dump(struct sk_buff *skb, struct netlink_callback *cb, u8 cmd)
{
	return genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			   &xtun_nl_family, NLM_F_MULTI, cmd);
}

void *xtun_genl_put_notify(struct sk_buff *skb, u8 cmd)
{
	return genlmsg_put(skb, 0, 0, &xtun_nl_family, 0, cmd);
}

void xtun_genl_end(struct sk_buff *skb, void *hdr)
{
	genlmsg_end(skb, hdr);
}

void xtun_genl_cancel(struct sk_buff *skb, void *hdr)
{
	genlmsg_cancel(skb, hdr);
}

int xtun_genl_reply(struct sk_buff *skb, struct genl_info *info)
{
	return genlmsg_reply(skb, info);
}

bool xtun_genl_has_listeners(struct net *net)
{
	return genl_has_listeners(&xtun_nl_family, net, XTUN_NLGRP_PEERS);
}

void xtun_genl_notify(struct net *net, struct sk_buff *skb)
{
	genlmsg_multicast_netns(&xtun_nl_family, net, skb, 0, XTUN_NLGRP_PEERS,
				GFP_KERNEL);
}

void xtun_genl_free(struct sk_buff *skb)
{
	nlmsg_free(skb);
}

struct nlattr *xtun_nla_nest_start(struct sk_buff *skb, int type)
{
	return nla_nest_start(skb, type);
}

void xtun_nla_nest_end(struct sk_buff *skb, struct nlattr *start)
{
	nla_nest_end(skb, start);
}

void xtun_nla_nest_cancel(struct sk_buff *skb, struct nlattr *start)
{
	nla_nest_cancel(skb, start);
}

long *xtun_dump_args(struct netlink_callback *cb)
{
	return cb->args;
}

const struct nlattr *xtun_dump_attr(struct netlink_callback *cb, int type)
{
	const struct genl_info *info = genl_info_dump(cb);

	return info->attrs ? info->attrs[type] : NULL;
}

struct net *xtun_dump_net_get(struct netlink_callback *cb)
{
	return get_net(sock_net(cb->skb->sk));
}

/* Zeroes every key the request carries (peer > keyconf > send-key,
 * recv-key), as WireGuard's memzero_explicit(nla_data(...)) in
 * wg_set_device: the request is freed unwiped, and an error reply echoes
 * it back. */
void xtun_genl_wipe_keys(struct genl_info *info)
{
	const struct nlattr *conf, *a;
	int rem, rem2;

	if (!info->attrs[XTUN_A_PEER])
		return;
	nla_for_each_nested_type(conf, XTUN_A_PEER_KEYCONF, info->attrs[XTUN_A_PEER], rem)
		nla_for_each_nested(a, conf, rem2)
			if (nla_type(a) == XTUN_A_KEYCONF_SEND_KEY ||
			    nla_type(a) == XTUN_A_KEYCONF_RECV_KEY)
				memzero_explicit(nla_data(a), nla_len(a));
}
