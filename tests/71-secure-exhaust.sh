# A key's counter never repeats: ns1's key starts 3 short of the limit
# (`counter`), so three datagrams go, then sending stops, counted in
# tx_no_key, and `xtunctl monitor` reports key-exhausted; a new key swapped
# in gets traffic going again.
. /xtun/tests/lib.sh
tun_secure_pair
tun_static_neigh
# Key 1 again, its counter moved to three before the last a key may use
# (u64::MAX less the 1984-packet window, less 1: ...631); it has sent
# nothing yet, so no counter is used twice. (Shell arithmetic is signed
# 64-bit: the numbers are written out.)
tun_key 1 1 a b counter 18446744073709549629
nx_bg 1 xtunctl monitor --count 1 --timeout 60 > /tmp/monitor.out 2>&1
monitor=$!
wait_for "sleeping_in $monitor 45 47 7 271 232 281 || exited $monitor" 30
nx 1 ping -c 6 -i 0.2 -W 1 10.100.0.2 > /tmp/ping.out 2>&1
grep received /tmp/ping.out | sed 's/^/# /'
wait_for "exited $monitor" 60
wait $monitor || fail "xtunctl monitor: $(cat /tmp/monitor.out)"
sed 's/^/# monitor: /' /tmp/monitor.out
grep -q "^key-exhausted xt0 .*id $SECURE_ID" /tmp/monitor.out || fail "monitor printed no key-exhausted for peer $SECURE_ID"
[ "$(tun_counter 1 tx_no_key)" -ge 1 ] || fail "tx_no_key $(tun_counter 1 tx_no_key) after the key ran out"
tun_genkeys c d
tun_key 2 2 d c slot secondary
tun_key 1 2 c d slot secondary
nx 1 xtunctl key swap xt0 peer $SECURE_ID || fail "ns1: key swap"
tun_ping 1 10.100.0.2
