# tun's packet information on /dev/xtun: on a tap made without IFF_NO_PI
# a frame the stack sends is read as a 4-byte struct tun_pi {flags 0,
# proto 0x0800} and the Ethernet frame; a buffer too short for both gets
# TUN_PKT_STRIP and the read returns the buffer's length (as tun); a
# written [tun_pi][frame] reaches a local UDP socket and the write returns
# its full length, whatever the header says; a 3-byte write is EINVAL;
# TUNGETIFF and TUNGETFEATURES read as for IFF_NO_PI (xtun-tunctl
# packet-info). Expected behaviour is tun's, checked with
# `xtun-tunctl --path /dev/net/tun` (test 41-tunctl-tun-reference).
. /xtun/tests/lib.sh
load_xtun
xtun-tunctl packet-info || fail "xtun-tunctl packet-info"
