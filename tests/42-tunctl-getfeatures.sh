# tun ioctl ABI on /dev/xtun: TUNGETFEATURES, attached or not, offers
# IFF_TAP and IFF_NO_PI (tun: 0x7173; multiqueue has its own test).
# Expected behaviour is tun's, checked with `xtun-tunctl --path /dev/net/tun` (test
# 41-tunctl-tun-reference).
. /xtun/tests/lib.sh
load_xtun
xtun-tunctl getfeatures || fail "xtun-tunctl getfeatures"
