# An unmodified tap program runs on xtun: tap-tcp-serve (smoltcp's own
# TunTapInterface) opens /dev/net/tun, creates tap st0 with TUNSETIFF
# (IFF_TAP | IFF_NO_PI), asks its MTU with SIOCGIFMTU and serves TCP; the
# guest kernel gets its answer through st0, and st0 goes when the program
# exits (it never sets TUNSETPERSIST). XTUN_TAP_DEV says what /dev/net/tun
# is for the program: xtun (default), /dev/xtun bound over it, or tun, the
# kernel's own, as the reference.
. /xtun/tests/lib.sh
dev=${XTUN_TAP_DEV:-xtun}
case "$dev" in
xtun) setup_xtun ;;
tun) ;;
*) fail "XTUN_TAP_DEV=$dev: want xtun or tun" ;;
esac
[ ! -e /sys/class/net/st0 ] || fail "st0 exists before the test"

serve='exec tap-tcp-serve --dev st0 --ip 10.77.0.2/24 7777 2> /tmp/tap-serve.err'
if [ "$dev" = tun ]; then
	sh -c "$serve" &
else
	# The bind mount only in the program's own mount namespace (busybox
	# unshare makes the new namespace's mounts private: nothing propagates).
	unshare -m sh -c "mount --bind /dev/xtun /dev/net/tun && $serve" &
fi
server=$!
wait_for "grep -qs listening /tmp/tap-serve.err || exited $server"
cat /tmp/tap-serve.err
grep -q 'listening on 10.77.0.2:7777 (st0, mtu 1514)' /tmp/tap-serve.err || fail "tap-tcp-serve did not start"
driver=$(ethtool -i st0 | sed -n 's/^driver: //p')
echo "st0 driver: $driver"
[ "$driver" = "$dev" ] || fail "st0 is a $driver device, want $dev"

echo 1 > /proc/sys/net/ipv6/conf/st0/disable_ipv6
ip addr add 10.77.0.1/24 dev st0 || fail "cannot address st0"
ip link set st0 up || fail "cannot bring st0 up"
reply=$(echo xtun | timeout 30 nc 10.77.0.2 7777) || { cat /tmp/tap-serve.err; fail "nc to tap-tcp-serve failed"; }
echo "reply: $reply"
[ "$reply" = "hello from smoltcp: xtun" ] || fail "want the reply 'hello from smoltcp: xtun'"

kill $server
wait $server 2> /dev/null
wait_for "[ ! -e /sys/class/net/st0 ]" 10
