# with no reader the queue stays bounded, drops are counted, traffic recovers.
. /xtun/tests/lib.sh
setup_xtun
xtun-check flood || fail "xtun-check flood"
# The seed's failure: after a ping flood that nobody reads, ping kept
# failing (queued skbs held socket memory). Now, as tun without a qdisc:
# the queue takes tx_queue_len requests, then each send is a counted drop
# that ping (IP_RECVERR) gets as ENOBUFS and retries; once a responder
# reads, pings work again.
ip neigh replace 10.99.0.2 lladdr 02:00:00:99:00:02 dev xtun nud permanent
xtun-check hold > /dev/null &
holder=$!
wait_for "holds_xtun $holder"
dropped=$(stat tx_dropped)
qlen=$(cat /sys/class/net/xtun/tx_queue_len)
# -l: keep 1000 echo requests in flight, since no reply ever comes.
/usr/bin/ping -f -l 1000 -c 1500 -w 10 -I xtun 10.99.0.2 > /tmp/flood.out 2>&1
sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' /tmp/flood.out)
grew=$(( $(stat tx_dropped) - dropped ))
echo "ping -f with no reader: $sent sent, tx_dropped +$grew (sends refused with ENOBUFS)"
[ "${sent:-0}" -eq "$qlen" ] || { cat /tmp/flood.out; fail "ping -f sent ${sent:-0} requests, want tx_queue_len $qlen"; }
[ "$grew" -gt 0 ] || fail "no send was dropped once the queue was full"
kill $holder; wait $holder 2>/dev/null
xtun-responder --ip 10.99.0.2 &
wait_for "holds_xtun $!"
ping -I xtun -c 3 -W 2 10.99.0.2 > /tmp/after.out || { cat /tmp/after.out; fail "ping after the flood failed"; }
grep -q ' 3 packets received' /tmp/after.out || fail "ping after the flood lost packets"
echo "ping after the flood: 3/3"
