# tun ioctl ABI on /dev/xtun: TUNSETOWNER and TUNSETGROUP on a persistent
# device decide who may attach without CAP_NET_ADMIN: the owner uid, a
# member of the group (primary or supplementary), both if both are set;
# anyone else gets EPERM, and creating a device needs CAP_NET_ADMIN.
# Expected behaviour is tun's, checked with `xtun-tunctl --path /dev/net/tun` (test
# 41-tunctl-tun-reference).
. /xtun/tests/lib.sh
load_xtun
xtun-tunctl owner || fail "xtun-tunctl owner"
