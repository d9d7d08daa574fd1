# IFF_NAPI on /dev/xtun: frames written on either queue of a 2-queue
# IFF_NAPI device reach a local UDP socket through the queue's NAPI
# context, rx_packets by the number written, TUNGETIFF reports IFF_NAPI; a
# write on a detached queue fails with EBUSY and counts nothing (as tun),
# the other queue's writes still work, and the queue's work again once it
# is attached; on a single-queue IFF_NAPI device 200 frames written back to
# back all arrive (xtun-tunctl napi-write).
# Expected behaviour is tun's, checked with `xtun-tunctl --path /dev/net/tun`
# (test 41-tunctl-tun-reference); skipped while xtun does not offer IFF_NAPI.
. /xtun/tests/lib.sh
load_xtun
needs_feature IFF_NAPI
xtun-tunctl napi-write || fail "xtun-tunctl napi-write"
