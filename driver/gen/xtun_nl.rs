// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
// Do not edit: `cargo xtask gen-netlink` writes it from uapi/xtun_nl.h.

//! The xtun family's numbers.

#![allow(dead_code)] // a table: not every number is used

pub(crate) const XTUN_MODE_TAP: u32 = 0;
pub(crate) const XTUN_MODE_TUNNEL: u32 = 1;
pub(crate) const XTUN_DEL_REASON_USERSPACE: u32 = 0;
pub(crate) const XTUN_DEL_REASON_EXPIRED: u32 = 1;
pub(crate) const XTUN_DEL_REASON_DEVICE_DOWN: u32 = 2;
pub(crate) const XTUN_CIPHER_AES_256_GCM: u32 = 0;
pub(crate) const XTUN_CIPHER_CHACHA20_POLY1305: u32 = 1;
pub(crate) const XTUN_KEY_SLOT_PRIMARY: u32 = 0;
pub(crate) const XTUN_KEY_SLOT_SECONDARY: u32 = 1;
pub(crate) const XTUN_A_PEER_ID: u16 = 1;
pub(crate) const XTUN_A_PEER_REMOTE_IPV4: u16 = 2;
pub(crate) const XTUN_A_PEER_REMOTE_PORT: u16 = 3;
pub(crate) const XTUN_A_PEER_STATIC: u16 = 4;
pub(crate) const XTUN_A_PEER_KEEPALIVE: u16 = 5;
pub(crate) const XTUN_A_PEER_MAC: u16 = 6;
pub(crate) const XTUN_A_PEER_LAST_SEEN_MS: u16 = 7;
pub(crate) const XTUN_A_PEER_EXPIRES_MS: u16 = 8;
pub(crate) const XTUN_A_PEER_RX_PACKETS: u16 = 9;
pub(crate) const XTUN_A_PEER_RX_BYTES: u16 = 10;
pub(crate) const XTUN_A_PEER_TX_PACKETS: u16 = 11;
pub(crate) const XTUN_A_PEER_TX_BYTES: u16 = 12;
pub(crate) const XTUN_A_PEER_DEL_REASON: u16 = 13;
pub(crate) const XTUN_A_PEER_RX_AUTH_FAIL: u16 = 14;
pub(crate) const XTUN_A_PEER_RX_REPLAY: u16 = 15;
pub(crate) const XTUN_A_PEER_KEYCONF: u16 = 16;
pub(crate) const XTUN_A_PEER_MAX: u16 = 16;
pub(crate) const XTUN_A_KEYCONF_SLOT: u16 = 1;
pub(crate) const XTUN_A_KEYCONF_KEY_ID: u16 = 2;
pub(crate) const XTUN_A_KEYCONF_CIPHER: u16 = 3;
pub(crate) const XTUN_A_KEYCONF_SEND_KEY: u16 = 4;
pub(crate) const XTUN_A_KEYCONF_RECV_KEY: u16 = 5;
pub(crate) const XTUN_A_KEYCONF_SEND_COUNTER: u16 = 6;
pub(crate) const XTUN_A_KEYCONF_DRIVER: u16 = 7;
pub(crate) const XTUN_A_KEYCONF_MAX: u16 = 7;
pub(crate) const XTUN_A_IFINDEX: u16 = 1;
pub(crate) const XTUN_A_IFNAME: u16 = 2;
pub(crate) const XTUN_A_MODE: u16 = 3;
pub(crate) const XTUN_A_LISTEN_PORT: u16 = 4;
pub(crate) const XTUN_A_LOCAL_IPV4: u16 = 5;
pub(crate) const XTUN_A_VNI: u16 = 6;
pub(crate) const XTUN_A_LEARN: u16 = 7;
pub(crate) const XTUN_A_PEER_TIMEOUT: u16 = 8;
pub(crate) const XTUN_A_MAX_PEERS: u16 = 9;
pub(crate) const XTUN_A_MAX_MACS: u16 = 10;
pub(crate) const XTUN_A_PEERS: u16 = 11;
pub(crate) const XTUN_A_RX_UNKNOWN_SRC: u16 = 12;
pub(crate) const XTUN_A_RX_BAD: u16 = 13;
pub(crate) const XTUN_A_RX_WRONG_VNI: u16 = 14;
pub(crate) const XTUN_A_TX_NO_PEER: u16 = 15;
pub(crate) const XTUN_A_PEER: u16 = 16;
pub(crate) const XTUN_A_SECURE: u16 = 17;
pub(crate) const XTUN_A_RX_AUTH_FAIL: u16 = 18;
pub(crate) const XTUN_A_RX_REPLAY: u16 = 19;
pub(crate) const XTUN_A_TX_NO_KEY: u16 = 20;
pub(crate) const XTUN_A_MAX: u16 = 20;
pub(crate) const XTUN_CMD_DEV_GET: u8 = 1;
pub(crate) const XTUN_CMD_DEV_SET: u8 = 2;
pub(crate) const XTUN_CMD_PEER_NEW: u8 = 3;
pub(crate) const XTUN_CMD_PEER_DEL: u8 = 4;
pub(crate) const XTUN_CMD_PEER_GET: u8 = 5;
pub(crate) const XTUN_CMD_PEER_LEARNED_NTF: u8 = 6;
pub(crate) const XTUN_CMD_PEER_DEL_NTF: u8 = 7;
pub(crate) const XTUN_CMD_KEY_NEW: u8 = 8;
pub(crate) const XTUN_CMD_KEY_SWAP: u8 = 9;
pub(crate) const XTUN_CMD_KEY_DEL: u8 = 10;
pub(crate) const XTUN_CMD_KEY_EXHAUSTED_NTF: u8 = 11;
pub(crate) const XTUN_CMD_MAX: u8 = 11;
