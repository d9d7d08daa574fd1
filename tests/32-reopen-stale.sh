# Close waits out in-flight xmits before it purges the queue (as tun's
# synchronize_net): under a flood, no frame sent before an open is read
# after it.
. /xtun/tests/lib.sh
setup_xtun
xtun-review reopen-stale || fail "xtun-review reopen-stale"
