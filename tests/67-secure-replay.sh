# A replayed datagram is dropped and counted, never delivered twice: through
# xtun-mitm `dup` every datagram from ns1 arrives twice; ping works with no
# duplicate replies, and ns2 counts one replay per copy. Then `replay-old`
# resends ns1's first datagram again and again: each is counted too.
. /xtun/tests/lib.sh
tun_secure_pair 10.0.0.2:5000
tun_mitm dup
out=$(nx 1 ping -c 5 -i 0.2 -W 5 10.100.0.2 2>&1)
echo "$out" | grep -q ' 5 received' || fail "ping through the duplicating relay: $(echo "$out" | tail -n 2)"
echo "$out" | grep -q DUP && fail "a duplicated datagram was delivered twice: $(echo "$out" | grep DUP | head -n 1)"
mitm_stop
dups=$(mitm_count duplicated)
wait_for "[ \$(tun_counter 2 rx_replay) -ge $dups ]" 10
[ "$(tun_counter 2 rx_replay)" = $dups ] || fail "$dups replayed copies, rx_replay $(tun_counter 2 rx_replay)"
echo "# dup: $dups copies, rx_replay $dups"
before=$(tun_counter 2 rx_replay)
tun_mitm replay-old 2
tun_ping 1 10.100.0.2
mitm_stop
old=$(mitm_count duplicated)
wait_for "[ \$((\$(tun_counter 2 rx_replay) - before)) -ge $old ]" 10
echo "# replay-old: $old old copies, rx_replay +$(($(tun_counter 2 rx_replay) - before))"
[ $(($(tun_counter 2 rx_replay) - before)) = $old ] || fail "$old old copies, rx_replay +$(($(tun_counter 2 rx_replay) - before))"
