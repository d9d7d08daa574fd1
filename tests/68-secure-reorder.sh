# Datagrams reordered inside the window are each delivered once: xtun-mitm
# forwards ns1's datagrams in reversed batches of 4; 12 pings sent 20 ms
# apart are all answered, with no duplicates and no replay drops.
. /xtun/tests/lib.sh
tun_secure_pair 10.0.0.2:5000
tun_mitm reverse 4
out=$(nx 1 ping -c 12 -i 0.02 -W 5 10.100.0.2 2>&1)
mitm_stop
echo "$out" | tail -n 2 | sed 's/^/# /'
echo "$out" | grep -q ' 12 received' || fail "reordered pings: $(echo "$out" | tail -n 2)"
echo "$out" | grep -q DUP && fail "a reordered datagram was delivered twice"
[ "$(tun_counter 2 rx_replay)" = 0 ] || fail "rx_replay $(tun_counter 2 rx_replay) for in-window reordering"
