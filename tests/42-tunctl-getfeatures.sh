# tun ioctl ABI on /dev/xtun: TUNGETFEATURES, attached or not, offers
# IFF_TAP, IFF_NO_PI and IFF_MULTI_QUEUE (tun: 0x7173).
# Expected behaviour is tun's, checked with `xtun-tunctl --path /dev/net/tun` (test
# 41-tunctl-tun-reference); this test fails until xtun implements tun's ioctls.
. /xtun/tests/lib.sh
load_xtun
xtun-tunctl getfeatures || fail "xtun-tunctl getfeatures"
