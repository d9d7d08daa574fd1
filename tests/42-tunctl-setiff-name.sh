# tun ioctl ABI on /dev/xtun: TUNSETIFF IFF_TAP|IFF_NO_PI with a name makes
# that device (SIOCGIFINDEX finds it, type Ethernet), TUNGETIFF returns the
# name and flags 0x1002 (IFF_TAP|IFF_NO_PI, that bit also IFF_NOFILTER), and
# closing the fd of a device that is not persistent deletes it.
# Expected behaviour is tun's, checked with `xtun-tunctl --path /dev/net/tun` (test
# 41-tunctl-tun-reference).
. /xtun/tests/lib.sh
load_xtun
xtun-tunctl setiff-name || fail "xtun-tunctl setiff-name"
