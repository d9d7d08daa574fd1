# A MSG_ZEROCOPY send completes while its frame waits unread in the queue
# (xmit copies the sender's pages: skb_orphan_frags_rx, as tun).
. /xtun/tests/lib.sh
setup_xtun
xtun-review zerocopy || fail "xtun-review zerocopy"
