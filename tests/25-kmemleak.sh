# After everything above: a kmemleak scan finds nothing allocated by xtun.
# Only the debug kernel (--debug-kernel) has kmemleak; elsewhere this skips.
. /xtun/tests/lib.sh
[ -e /sys/kernel/debug/kmemleak ] || skip "no kmemleak in this kernel (run with --debug-kernel)"
rmmod xtun && insmod /lib/modules/xtun.ko || fail "reload before the scan"
echo scan > /sys/kernel/debug/kmemleak
sleep 6
echo scan > /sys/kernel/debug/kmemleak
report=$(cat /sys/kernel/debug/kmemleak)
count=$(echo "$report" | grep -c 'unreferenced object')
echo "kmemleak: $count unreferenced objects in all"
if echo "$report" | grep -qi xtun; then
	echo "$report" | head -n 60
	fail "kmemleak reports objects from xtun"
fi
