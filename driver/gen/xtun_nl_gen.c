// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	netlink/specs/xtun.yaml */
/* YNL-GEN kernel source */
/* To regenerate run: tools/net/ynl/ynl-regen.sh */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "xtun_nl_gen.h"

#include <uapi/xtun_nl.h>

/* Integer value ranges */
static const struct netlink_range_validation xtun_a_peer_keepalive_range = {
	.max	= 86400ULL,
};

static const struct netlink_range_validation xtun_a_vni_range = {
	.max	= 16777215ULL,
};

static const struct netlink_range_validation xtun_a_peer_timeout_range = {
	.min	= 1ULL,
	.max	= 86400ULL,
};

static const struct netlink_range_validation xtun_a_max_peers_range = {
	.min	= 1ULL,
	.max	= 1048576ULL,
};

static const struct netlink_range_validation xtun_a_max_macs_range = {
	.min	= 1ULL,
	.max	= 1048576ULL,
};

/* Common nested types */
const struct nla_policy xtun_keyconf_input_nl_policy[XTUN_A_KEYCONF_SEND_COUNTER + 1] = {
	[XTUN_A_KEYCONF_SLOT] = NLA_POLICY_MAX(NLA_U32, 1),
	[XTUN_A_KEYCONF_KEY_ID] = NLA_POLICY_MAX(NLA_U32, 255),
	[XTUN_A_KEYCONF_CIPHER] = NLA_POLICY_MAX(NLA_U32, 1),
	[XTUN_A_KEYCONF_SEND_KEY] = NLA_POLICY_EXACT_LEN(32),
	[XTUN_A_KEYCONF_RECV_KEY] = NLA_POLICY_EXACT_LEN(32),
	[XTUN_A_KEYCONF_SEND_COUNTER] = { .type = NLA_UINT, },
};

const struct nla_policy xtun_peer_del_input_nl_policy[XTUN_A_PEER_REMOTE_PORT + 1] = {
	[XTUN_A_PEER_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[XTUN_A_PEER_REMOTE_IPV4] = { .type = NLA_BE32, },
	[XTUN_A_PEER_REMOTE_PORT] = NLA_POLICY_MIN(NLA_BE16, 1),
};

const struct nla_policy xtun_peer_key_input_nl_policy[XTUN_A_PEER_KEYCONF + 1] = {
	[XTUN_A_PEER_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[XTUN_A_PEER_KEYCONF] = NLA_POLICY_NESTED(xtun_keyconf_input_nl_policy),
};

const struct nla_policy xtun_peer_new_input_nl_policy[XTUN_A_PEER_MAC + 1] = {
	[XTUN_A_PEER_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[XTUN_A_PEER_REMOTE_IPV4] = { .type = NLA_BE32, },
	[XTUN_A_PEER_REMOTE_PORT] = NLA_POLICY_MIN(NLA_BE16, 1),
	[XTUN_A_PEER_KEEPALIVE] = NLA_POLICY_FULL_RANGE(NLA_U32, &xtun_a_peer_keepalive_range),
	[XTUN_A_PEER_MAC] = NLA_POLICY_EXACT_LEN(6),
};

/* XTUN_CMD_DEV_GET - do */
static const struct nla_policy xtun_dev_get_nl_policy[XTUN_A_IFINDEX + 1] = {
	[XTUN_A_IFINDEX] = { .type = NLA_U32, },
};

/* XTUN_CMD_DEV_SET - do */
static const struct nla_policy xtun_dev_set_nl_policy[XTUN_A_SECURE + 1] = {
	[XTUN_A_IFINDEX] = { .type = NLA_U32, },
	[XTUN_A_LISTEN_PORT] = { .type = NLA_U16, },
	[XTUN_A_LOCAL_IPV4] = { .type = NLA_BE32, },
	[XTUN_A_VNI] = NLA_POLICY_FULL_RANGE(NLA_U32, &xtun_a_vni_range),
	[XTUN_A_LEARN] = NLA_POLICY_MAX(NLA_U8, 1),
	[XTUN_A_PEER_TIMEOUT] = NLA_POLICY_FULL_RANGE(NLA_U32, &xtun_a_peer_timeout_range),
	[XTUN_A_MAX_PEERS] = NLA_POLICY_FULL_RANGE(NLA_U32, &xtun_a_max_peers_range),
	[XTUN_A_MAX_MACS] = NLA_POLICY_FULL_RANGE(NLA_U32, &xtun_a_max_macs_range),
	[XTUN_A_SECURE] = NLA_POLICY_MAX(NLA_U8, 1),
};

/* XTUN_CMD_PEER_NEW - do */
static const struct nla_policy xtun_peer_new_nl_policy[XTUN_A_PEER + 1] = {
	[XTUN_A_IFINDEX] = { .type = NLA_U32, },
	[XTUN_A_PEER] = NLA_POLICY_NESTED(xtun_peer_new_input_nl_policy),
};

/* XTUN_CMD_PEER_DEL - do */
static const struct nla_policy xtun_peer_del_nl_policy[XTUN_A_PEER + 1] = {
	[XTUN_A_IFINDEX] = { .type = NLA_U32, },
	[XTUN_A_PEER] = NLA_POLICY_NESTED(xtun_peer_del_input_nl_policy),
};

/* XTUN_CMD_PEER_GET - dump */
static const struct nla_policy xtun_peer_get_nl_policy[XTUN_A_IFINDEX + 1] = {
	[XTUN_A_IFINDEX] = { .type = NLA_U32, },
};

/* XTUN_CMD_KEY_NEW - do */
static const struct nla_policy xtun_key_new_nl_policy[XTUN_A_PEER + 1] = {
	[XTUN_A_IFINDEX] = { .type = NLA_U32, },
	[XTUN_A_PEER] = NLA_POLICY_NESTED(xtun_peer_key_input_nl_policy),
};

/* XTUN_CMD_KEY_SWAP - do */
static const struct nla_policy xtun_key_swap_nl_policy[XTUN_A_PEER + 1] = {
	[XTUN_A_IFINDEX] = { .type = NLA_U32, },
	[XTUN_A_PEER] = NLA_POLICY_NESTED(xtun_peer_key_input_nl_policy),
};

/* XTUN_CMD_KEY_DEL - do */
static const struct nla_policy xtun_key_del_nl_policy[XTUN_A_PEER + 1] = {
	[XTUN_A_IFINDEX] = { .type = NLA_U32, },
	[XTUN_A_PEER] = NLA_POLICY_NESTED(xtun_peer_key_input_nl_policy),
};

/* Ops table for xtun */
static const struct genl_split_ops xtun_nl_ops[] = {
	{
		.cmd		= XTUN_CMD_DEV_GET,
		.doit		= xtun_nl_dev_get_doit,
		.policy		= xtun_dev_get_nl_policy,
		.maxattr	= XTUN_A_IFINDEX,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd	= XTUN_CMD_DEV_GET,
		.dumpit	= xtun_nl_dev_get_dumpit,
		.flags	= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= XTUN_CMD_DEV_SET,
		.doit		= xtun_nl_dev_set_doit,
		.policy		= xtun_dev_set_nl_policy,
		.maxattr	= XTUN_A_SECURE,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= XTUN_CMD_PEER_NEW,
		.doit		= xtun_nl_peer_new_doit,
		.policy		= xtun_peer_new_nl_policy,
		.maxattr	= XTUN_A_PEER,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= XTUN_CMD_PEER_DEL,
		.doit		= xtun_nl_peer_del_doit,
		.policy		= xtun_peer_del_nl_policy,
		.maxattr	= XTUN_A_PEER,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= XTUN_CMD_PEER_GET,
		.dumpit		= xtun_nl_peer_get_dumpit,
		.policy		= xtun_peer_get_nl_policy,
		.maxattr	= XTUN_A_IFINDEX,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= XTUN_CMD_KEY_NEW,
		.doit		= xtun_nl_key_new_doit,
		.policy		= xtun_key_new_nl_policy,
		.maxattr	= XTUN_A_PEER,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= XTUN_CMD_KEY_SWAP,
		.doit		= xtun_nl_key_swap_doit,
		.policy		= xtun_key_swap_nl_policy,
		.maxattr	= XTUN_A_PEER,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= XTUN_CMD_KEY_DEL,
		.doit		= xtun_nl_key_del_doit,
		.policy		= xtun_key_del_nl_policy,
		.maxattr	= XTUN_A_PEER,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
};

static const struct genl_multicast_group xtun_nl_mcgrps[] = {
	[XTUN_NLGRP_PEERS] = { "peers", },
};

struct genl_family xtun_nl_family __ro_after_init = {
	.name		= XTUN_FAMILY_NAME,
	.version	= XTUN_FAMILY_VERSION,
	.netnsok	= true,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.split_ops	= xtun_nl_ops,
	.n_split_ops	= ARRAY_SIZE(xtun_nl_ops),
	.mcgrps		= xtun_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(xtun_nl_mcgrps),
};
