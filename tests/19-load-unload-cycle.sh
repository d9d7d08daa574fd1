# Load/unload cycles with the interface up and traffic through the
# responder each time: nothing may leak, hang or splat. 50 cycles, 200
# with the debug kernel (xtuncycles= on the kernel command line).
. /xtun/tests/lib.sh
cycles=${XTUN_CYCLES:-50}
i=0
while [ $i -lt $cycles ]; do
	i=$((i + 1))
	grep -q '^xtun ' /proc/modules || insmod /lib/modules/xtun.ko || fail "insmod failed in cycle $i"
	setup_xtun
	xtun-responder --ip 10.99.0.2 2>/dev/null &
	responder=$!
	wait_for "holds_xtun $responder"
	ping -I xtun -c 1 -W 2 10.99.0.2 > /dev/null || fail "no ping reply in cycle $i"
	kill $responder; wait $responder 2>/dev/null
	rmmod xtun || fail "rmmod failed in cycle $i"
done
echo "$cycles cycles of insmod, up, ping, rmmod"
insmod /lib/modules/xtun.ko || fail "final insmod failed"
