# The multiqueue data path on /dev/xtun: with 4 queues the stack's UDP
# flows (256 destination ports) spread over every queue, all of a flow's
# datagrams on one queue, none lost, tx_dropped 0 (mq-flows); a detached
# queue gets nothing while the others get everything, and its share again
# once attached (mq-detach); with every queue detached the frames are
# dropped and counted in tx_dropped, no fd reads any, and one queue
# attached again gets them all (mq-detach-all); a frame written on any
# queue's fd reaches the stack (mq-write).
# Expected behaviour is tun's, checked with `xtun-tunctl --path /dev/net/tun` (test
# 41-tunctl-tun-reference); skipped while xtun does not offer IFF_MULTI_QUEUE.
. /xtun/tests/lib.sh
load_xtun
needs_feature IFF_MULTI_QUEUE
for scenario in mq-flows mq-detach mq-detach-all mq-write; do
	xtun-tunctl "$scenario" || fail "xtun-tunctl $scenario"
done
