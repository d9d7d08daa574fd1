# The receive path survives a seeded random mix of datagrams from its peer
# (xtun-udp fuzz: half valid headers over mutated frames, the rest short,
# bad flags, wrong VNI, keepalives) and accounts for every one:
# rx_wrong_vni grows by the wrong-VNI count; rx_bad by the short and
# bad-flags counts, plus any valid-header datagram whose mutated frame the
# device refused (say, a multicast source MAC); every other valid-header
# datagram is delivered. A valid ARP request sent last still arrives. XTUN_STRESS_SEED (xtask
# --seed) replays a run; the seed is printed. TUN_KIND=vxlan checks only
# the arrival and a clean kernel log.
. /xtun/tests/lib.sh
tun_ns_setup
tun_add 2 10.0.0.2
tun_peer 2 10.0.0.1:$TUN_PORT
tun_up 2 10.100.0.2
counter() { if [ "$TUN_KIND" = xtun ]; then tun_field 2 $1; else echo 0; fi; }
rx0=$(tun_stat 2 rx_packets)
bad0=$(counter rx_bad)
vni0=$(counter rx_wrong_vni)
out=$(n1 xtun-udp fuzz --count 3000 ${XTUN_STRESS_SEED:+--seed $XTUN_STRESS_SEED} \
	--from 10.0.0.1:$TUN_PORT --to 10.0.0.2:$TUN_PORT) || fail "xtun-udp fuzz: $out"
echo "$out" | sed 's/^/# /'
sent() { echo "$out" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$1=//p"; }
n1 xtun-udp frame --inner-src 10.100.0.77 --src-mac 02:00:00:00:00:77 \
	--from 10.0.0.1:$TUN_PORT --to 10.0.0.2:$TUN_PORT > /dev/null || fail "xtun-udp frame"
wait_for "[ \"\$(tun_neigh 2 10.100.0.77)\" = 02:00:00:00:00:77 ]" 60
rx=$(($(tun_stat 2 rx_packets) - rx0 - 1))
echo "# delivered $rx of $(sent valid) valid"
[ "$TUN_KIND" = xtun ] || exit 0
want_bad=$(($(sent short) + $(sent bad_flags)))
wait_for "[ \$((\$(counter rx_bad) - bad0)) -ge $want_bad ] && [ \$((\$(counter rx_wrong_vni) - vni0)) -ge $(sent wrong_vni) ]" 10
bad=$(($(counter rx_bad) - bad0))
vni=$(($(counter rx_wrong_vni) - vni0))
refused=$((bad - want_bad))
echo "# rx_bad +$bad (sent $want_bad short or with bad flags), rx_wrong_vni +$vni (sent $(sent wrong_vni))"
[ $vni = $(sent wrong_vni) ] || fail "rx_wrong_vni grew by $vni for $(sent wrong_vni) wrong-VNI datagrams"
[ $refused -ge 0 ] || fail "rx_bad grew by $bad for $want_bad short or bad-flag datagrams"
[ $((rx + refused)) = $(sent valid) ] ||
	fail "of $(sent valid) valid-header datagrams $rx were delivered and $refused counted in rx_bad"
