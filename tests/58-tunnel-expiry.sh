# A learned peer that falls silent expires after peer-timeout (2 s), and
# `xtunctl monitor` reports both ends of its life: `peer-learned xt0 id N
# endpoint 10.0.0.1:4789` when ns1's ping reaches ns2 (learn on, no static
# peer), then `peer-del xt0 id N endpoint 10.0.0.1:4789 reason expired`,
# and ns2's peer table is empty again.
. /xtun/tests/lib.sh
tun_requires_xtun
tun_ns_setup
tun_add 1 10.0.0.1
tun_peer 1 10.0.0.2:$TUN_PORT
tun_up 1 10.100.0.1
tun_add 2 10.0.0.2 learn on peer-timeout 2
tun_up 2 10.100.0.2
nx_bg 2 xtunctl monitor --count 2 --timeout 60 > /tmp/monitor.out 2>&1
monitor=$!
# Subscribed once it sleeps receiving (x86_64 recvfrom 45, recvmsg 47,
# poll 7, ppoll 271, epoll_wait 232, epoll_pwait 281).
wait_for "sleeping_in $monitor 45 47 7 271 232 281 || exited $monitor" 30
exited $monitor && fail "xtunctl monitor ended early: $(cat /tmp/monitor.out)"
n1 ping -c 1 -W 5 10.100.0.2 > /dev/null || fail "ns1 cannot ping ns2 through the learning server"
[ "$(tun_field 2 peers)" = 1 ] || fail "ns2 learned no peer from the ping"
wait_for "exited $monitor" 60
wait $monitor || fail "xtunctl monitor failed: $(cat /tmp/monitor.out)"
sed 's/^/# monitor: /' /tmp/monitor.out
id=$(sed -n "s/^peer-learned xt0 id \([0-9]*\) endpoint 10.0.0.1:$TUN_PORT\$/\1/p" /tmp/monitor.out)
[ -n "$id" ] || fail "monitor printed no 'peer-learned xt0 id N endpoint 10.0.0.1:$TUN_PORT'"
grep -qx "peer-del xt0 id $id endpoint 10.0.0.1:$TUN_PORT reason expired" /tmp/monitor.out ||
	fail "monitor printed no 'peer-del xt0 id $id endpoint 10.0.0.1:$TUN_PORT reason expired'"
[ "$(tun_field 2 peers)" = 0 ] || fail "ns2 still has $(tun_field 2 peers) peers after the expiry"
