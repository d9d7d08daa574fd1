# tun ioctl ABI on /dev/xtun: TUNSETIFF with "tct%d" gives the lowest free
# number (tct0, then tct1), and an empty name gives the driver's template
# with the lowest free number (xtun0; tun says tap0).
# Expected behaviour is tun's, checked with `xtun-tunctl --path /dev/net/tun` (test
# 41-tunctl-tun-reference).
. /xtun/tests/lib.sh
load_xtun
xtun-tunctl setiff-template || fail "xtun-tunctl setiff-template"
