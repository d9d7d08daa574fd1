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
sleep 0.3
dropped=$(stat tx_dropped)
/usr/bin/ping -f -i 0.0002 -c 3000 -w 30 -I xtun 10.99.0.2 > /tmp/flood.out 2>&1
grep -i 'no buffer space' /tmp/flood.out && fail "ping flood hit ENOBUFS"
grew=$(( $(stat tx_dropped) - dropped ))
echo "ping -f with no reader: 3000 sent, tx_dropped +$grew"
[ "$grew" -ge 2500 ] || fail "tx_dropped grew by only $grew"
kill $holder; wait $holder 2>/dev/null
xtun-responder --ip 10.99.0.2 &
sleep 0.3
ping -I xtun -c 3 -W 2 10.99.0.2 > /tmp/after.out || { cat /tmp/after.out; fail "ping after the flood failed"; }
grep -q ' 3 packets received' /tmp/after.out || fail "ping after the flood lost packets"
echo "ping after the flood: 3/3"
