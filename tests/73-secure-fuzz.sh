# A seeded fuzz of the secure receive path: short datagrams, wrong types,
# unknown peers, forged bodies, every one dropped and counted in its
# counter (rx_bad, rx_unknown_src, rx_auth_fail), nothing delivered, the
# tunnel still working after. The seed is printed to replay a failure.
# Its length follows the stress test's (xtunstress=, 60 s under the debug
# profile): 150 datagrams per second of stress.
. /xtun/tests/lib.sh
tun_secure_pair
# No ARP: a late reachability probe's answer would count as a delivery.
tun_static_neighs
tun_ping 1 10.100.0.2
rx0=$(tun_stat 2 rx_packets)
bad0=$(tun_counter 2 rx_bad); unk0=$(tun_counter 2 rx_unknown_src); auth0=$(tun_counter 2 rx_auth_fail)
# From another port: ns1's xt0 holds 10.0.0.1:4789 (the peer id, not the
# source, names the peer in secure mode).
last=$(n1 xtun-udp secure-fuzz --from 10.0.0.1:4790 --to 10.0.0.2:$TUN_PORT --peer-id $SECURE_ID --count $((${XTUN_STRESS_SECS:-15} * 150)) ${XTUN_SEED:+--seed $XTUN_SEED} | tee /tmp/fuzz.out | tail -n 1)
head -n 1 /tmp/fuzz.out | sed 's/^/# /'
echo "# $last"
echo "$last" | grep -q '^sent total=' || fail "xtun-udp secure-fuzz: $(tail -n 3 /tmp/fuzz.out)"
count() { echo "$last" | sed -n "s/.*\\b$1=\\([0-9]*\\).*/\\1/p"; }
want_bad=$(($(count short) + $(count bad_type)))
want_unk=$(count unknown_peer)
want_auth=$(count forged)
wait_for "[ \$((\$(tun_counter 2 rx_auth_fail) - auth0)) -ge $want_auth ]" 120
bad=$(($(tun_counter 2 rx_bad) - bad0)); unk=$(($(tun_counter 2 rx_unknown_src) - unk0)); auth=$(($(tun_counter 2 rx_auth_fail) - auth0))
rx=$(($(tun_stat 2 rx_packets) - rx0))
echo "# rx_bad +$bad (want $want_bad), rx_unknown_src +$unk (want $want_unk), rx_auth_fail +$auth (want $want_auth), rx_packets +$rx"
[ $bad = $want_bad ] && [ $unk = $want_unk ] && [ $auth = $want_auth ] || fail "counters do not match what was sent"
[ $rx = 0 ] || fail "ns2 delivered $rx fuzzed frames"
tun_ping 1 10.100.0.2
