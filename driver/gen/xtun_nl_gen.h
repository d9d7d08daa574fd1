/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	netlink/specs/xtun.yaml */
/* YNL-GEN kernel header */
/* To regenerate run: tools/net/ynl/ynl-regen.sh */

#ifndef _LINUX_XTUN_GEN_H
#define _LINUX_XTUN_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/xtun_nl.h>

/* Common nested types */
extern const struct nla_policy xtun_keyconf_input_nl_policy[XTUN_A_KEYCONF_SEND_COUNTER + 1];
extern const struct nla_policy xtun_peer_del_input_nl_policy[XTUN_A_PEER_REMOTE_PORT + 1];
extern const struct nla_policy xtun_peer_key_input_nl_policy[XTUN_A_PEER_KEYCONF + 1];
extern const struct nla_policy xtun_peer_new_input_nl_policy[XTUN_A_PEER_MAC + 1];

int xtun_nl_dev_get_doit(struct sk_buff *skb, struct genl_info *info);
int xtun_nl_dev_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb);
int xtun_nl_dev_set_doit(struct sk_buff *skb, struct genl_info *info);
int xtun_nl_peer_new_doit(struct sk_buff *skb, struct genl_info *info);
int xtun_nl_peer_del_doit(struct sk_buff *skb, struct genl_info *info);
int xtun_nl_peer_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb);
int xtun_nl_key_new_doit(struct sk_buff *skb, struct genl_info *info);
int xtun_nl_key_swap_doit(struct sk_buff *skb, struct genl_info *info);
int xtun_nl_key_del_doit(struct sk_buff *skb, struct genl_info *info);

enum {
	XTUN_NLGRP_PEERS,
};

extern struct genl_family xtun_nl_family;

#endif /* _LINUX_XTUN_GEN_H */
