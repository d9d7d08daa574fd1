# a written frame reaches an AF_PACKET capture unchanged.
. /xtun/tests/lib.sh
setup_xtun
xtun-check capture || fail "xtun-check capture"
