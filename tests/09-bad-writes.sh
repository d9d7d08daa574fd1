# each bad write gets its errno and counts rx_dropped.
. /xtun/tests/lib.sh
setup_xtun
xtun-check bad-writes || fail "xtun-check bad-writes"
