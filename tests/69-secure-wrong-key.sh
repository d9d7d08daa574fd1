# A peer that seals with a key the other end does not hold is dropped and
# counted, nothing delivered: ns1 seals with "c", ns2 opens with "a".
. /xtun/tests/lib.sh
tun_secure_pair
tun_static_neigh
tun_genkeys c
tun_key 1 1 c b
rx0=$(tun_stat 2 rx_packets)
nx 1 ping -c 3 -i 0.2 -W 1 10.100.0.2 > /dev/null 2>&1 && fail "ping crossed with the wrong key"
wait_for "[ \$(tun_counter 2 rx_auth_fail) -ge 3 ]" 10
rx=$(($(tun_stat 2 rx_packets) - rx0))
echo "# wrong key: rx_auth_fail $(tun_counter 2 rx_auth_fail), rx_packets +$rx"
[ $rx = 0 ] || fail "ns2 delivered $rx frames sealed with the wrong key"
