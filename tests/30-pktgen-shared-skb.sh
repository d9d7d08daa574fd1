# pktgen cannot hand xtun one skb several times (clone_skb, burst): the
# queue links skbs through their own list pointers, so a shared skb queued
# twice is a use-after-free once the reader frees it. xtun clears
# IFF_TX_SKB_SHARING as tun does, so pktgen refuses; plain pktgen traffic
# (pktgen keeps a reference to each skb it sends) still flows to a reader.
. /xtun/tests/lib.sh
[ -d /proc/net/pktgen ] || skip "no pktgen in this kernel (CONFIG_NET_PKTGEN)"
setup_xtun
pg=/proc/net/pktgen
xtun-check hold read &
for _ in $(seq 50); do [ "$(cat /sys/class/net/xtun/carrier)" = 1 ] && break; sleep 0.1; done
[ "$(cat /sys/class/net/xtun/carrier)" = 1 ] || fail "the reader did not open /dev/xtun"
echo rem_device_all > $pg/kpktgend_0
echo "add_device xtun" > $pg/kpktgend_0 || fail "pktgen cannot add xtun"
cleanup_pktgen() { echo rem_device_all > $pg/kpktgend_0; cleanup; }
trap cleanup_pktgen EXIT

for cmd in "clone_skb 10" "burst 8"; do
	if echo "$cmd" > $pg/xtun 2>/tmp/pg.err; then
		fail "pktgen accepted '$cmd' on xtun: $(grep Result: $pg/xtun)"
	fi
	echo "pktgen refused '$cmd': $(cat /tmp/pg.err)"
done

tx=$(stat tx_packets)
dropped=$(stat tx_dropped)
for cmd in "count 2000" "pkt_size 60" "dst 10.99.0.2" "dst_mac 02:00:00:99:00:02"; do
	echo "$cmd" > $pg/xtun || fail "pktgen: $cmd"
done
echo start > $pg/pgctrl || fail "pktgen start"
grep -q "Result: OK" $pg/xtun || fail "pktgen: $(grep Result: $pg/xtun)"
sent=$(sed -n 's/.*pkts-sofar: \([0-9]*\).*/\1/p' $pg/xtun)
[ "$sent" = 2000 ] || fail "pktgen sent $sent packets, want 2000"
# The reader drains the queue; every frame is either read or counted dropped.
for _ in $(seq 100); do
	[ $(($(stat tx_packets) - tx + $(stat tx_dropped) - dropped)) -ge 2000 ] && break
	sleep 0.1
done
read=$(($(stat tx_packets) - tx))
drops=$(($(stat tx_dropped) - dropped))
echo "pktgen sent 2000: read $read, dropped $drops"
[ $((read + drops)) -ge 2000 ] || fail "only $read read + $drops dropped of 2000 sent"
[ "$read" -gt 0 ] || fail "the reader got none of pktgen's frames"
