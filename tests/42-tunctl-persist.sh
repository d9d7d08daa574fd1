# tun ioctl ABI on /dev/xtun: after TUNSETPERSIST 1 (TUNGETIFF shows
# IFF_PERSIST) the device outlives its fd, without carrier; TUNSETIFF on a
# new fd attaches to it (carrier on); after TUNSETPERSIST 0 close deletes it.
# Expected behaviour is tun's, checked with `xtun-tunctl --path /dev/net/tun` (test
# 41-tunctl-tun-reference).
. /xtun/tests/lib.sh
load_xtun
xtun-tunctl persist || fail "xtun-tunctl persist"
