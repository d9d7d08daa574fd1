# tun ioctl ABI on /dev/xtun: 1000 devices created (TUNSETIFF) and deleted
# (close) one after another; each is gone once its fd is closed and none is
# left. tun under TCG: about 50-80 ms each.
# Expected behaviour is tun's, checked with `xtun-tunctl --path /dev/net/tun` (test
# 41-tunctl-tun-reference).
. /xtun/tests/lib.sh
load_xtun
xtun-tunctl --count "$(many_count)" many || fail "xtun-tunctl many"
