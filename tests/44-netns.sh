# Namespaces, WireGuard's netns.sh way:
#
#   init ns: tap-tcp-serve (smoltcp) holds xn0 through /dev/xtun (TUNSETIFF)
#      |  ip link set xn0 netns xtun-b
#   ns xtun-b: xn0 10.78.0.1 --- smoltcp 10.78.0.2:7777
#
# A device moves to another namespace with its file attached and keeps
# carrying frames; deleting the namespace deletes the device (as veth and
# tun: it is not moved back), the program's next read fails, and nothing
# is left or splats.
. /xtun/tests/lib.sh
setup_xtun
ip netns add xtun-b || fail "ip netns add"
trap 'ip netns del xtun-b 2> /dev/null' EXIT
# A file opened in xtun-b and used without TUNSETIFF does not reach the
# initial namespace's xtun: there is no xtun in xtun-b, so its first read
# is EBADFD (were it attached to the initial xtun, it would block).
out=$(ip netns exec xtun-b timeout 10 cat /dev/xtun 2>&1) && fail "a read in xtun-b ended without an error"
echo "# read in xtun-b: $out"
echo "$out" | grep -q "bad state" || fail "a read in xtun-b did not fail with EBADFD: $out"
[ "$(cat /sys/class/net/xtun/carrier)" = 0 ] || fail "a file in xtun-b attached to the initial xtun"

ip link add xn0 type xtun || fail "ip link add xn0 type xtun"
unshare -m sh -c "mount --bind /dev/xtun /dev/net/tun &&
	exec tap-tcp-serve --dev xn0 --ip 10.78.0.2/24 7777 2> /tmp/netns-serve.err" &
server=$!
wait_for "grep -qs listening /tmp/netns-serve.err || exited $server"
grep -q listening /tmp/netns-serve.err || { cat /tmp/netns-serve.err; fail "tap-tcp-serve did not attach to xn0"; }
[ "$(cat /sys/class/net/xn0/carrier 2> /dev/null)" = 1 ] || ip link set xn0 up
ip link set xn0 netns xtun-b || fail "cannot move xn0 into xtun-b"
[ ! -e /sys/class/net/xn0 ] || fail "xn0 still in the initial namespace"
ip -n xtun-b link show xn0 > /dev/null || fail "xn0 not in xtun-b"
ip netns exec xtun-b sh -c '
	echo 1 > /proc/sys/net/ipv6/conf/xn0/disable_ipv6
	ip addr add 10.78.0.1/24 dev xn0 && ip link set lo up && ip link set xn0 up' || fail "cannot set up xn0 in xtun-b"
reply=$(ip netns exec xtun-b sh -c 'echo netns | timeout 30 nc 10.78.0.2 7777') || fail "no TCP through xn0 in xtun-b"
[ "$reply" = "hello from smoltcp: netns" ] || fail "reply '$reply'"
echo "# TCP through xn0 after its move to xtun-b"

# Traffic running, file attached: delete the namespace. The ping holds
# it until it ends (a socket pins its namespace), then the namespace goes
# with frames in flight. /usr/sbin/ip directly: $! must be the pinger.
/usr/sbin/ip netns exec xtun-b ping -q -i 0.01 -c 100000 10.78.0.2 > /dev/null 2>&1 &
pinger=$!
wait_for "[ -n \"\$(ip netns pids xtun-b 2> /dev/null)\" ]" 10
ip netns del xtun-b || fail "ip netns del"
trap - EXIT
sleep 0.2
kill $pinger
wait $pinger 2> /dev/null
wait_for "! ip -br link | grep -q '^xn0' && exited $server" 60
wait $server 2> /dev/null
echo "# xn0 deleted with its namespace; the program ended"
ip -br link | grep -q '^xn0' && fail "xn0 survived its namespace"
[ -e /sys/class/net/xtun ] || fail "the module's xtun is gone"
true
