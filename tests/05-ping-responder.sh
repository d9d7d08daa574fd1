# ping -I xtun through the userspace responder: 5/5 replies, RTT printed.
. /xtun/tests/lib.sh
setup_xtun
xtun-responder --ip 10.99.0.2 --mac 02:00:00:99:00:02 &
wait_for "holds_xtun $!"
out=$(ping -I xtun -c 5 -i 0.2 -W 2 10.99.0.2) || { echo "$out"; fail "ping failed"; }
echo "$out"
echo "$out" | grep -q ' 5 packets received, 0% packet loss' || fail "not 5/5 replies"
echo "$out" | grep 'round-trip'
