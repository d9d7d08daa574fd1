# with no reader the queue stays bounded, drops are counted, traffic recovers.
. /xtun/tests/lib.sh
setup_xtun
xtun-check flood || fail "xtun-check flood"
# The seed's failure: after a ping flood that nobody reads, ping must not
# get "No buffer space available" (queued skbs hold no socket memory), and
# pings work again once a responder reads.
ip neigh replace 10.99.0.2 lladdr 02:00:00:99:00:02 dev xtun nud permanent
xtun-check hold > /dev/null &
holder=$!
wait_for "holds_xtun $holder"
dropped=$(stat tx_dropped)
# -l: keep 1000 echo requests in flight, since no reply ever comes.
/usr/bin/ping -f -l 1000 -c 1500 -w 10 -I xtun 10.99.0.2 > /tmp/flood.out 2>&1
grep -i 'no buffer space' /tmp/flood.out && fail "ping flood hit ENOBUFS"
sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' /tmp/flood.out)
grew=$(( $(stat tx_dropped) - dropped ))
echo "ping -f with no reader: $sent sent, tx_dropped +$grew"
[ "${sent:-0}" -ge 1000 ] || fail "ping -f sent only ${sent:-0} requests"
[ "$grew" -eq $((sent - 500)) ] || fail "tx_dropped grew by $grew, want $((sent - 500))"
kill $holder; wait $holder 2>/dev/null
xtun-responder --ip 10.99.0.2 &
wait_for "holds_xtun $!"
ping -I xtun -c 3 -W 2 10.99.0.2 > /tmp/after.out || { cat /tmp/after.out; fail "ping after the flood failed"; }
grep -q ' 3 packets received' /tmp/after.out || fail "ping after the flood lost packets"
echo "ping after the flood: 3/3"
