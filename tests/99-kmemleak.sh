# After everything above: a kmemleak scan finds no object leaked while the
# suite ran (the runner cleared the boot's suspects first). Leaks from a
# module instance that was unloaded cannot be named by symbol any more, so
# any new unreferenced object fails. Only the debug kernel has kmemleak.
. /xtun/tests/lib.sh
[ -e /sys/kernel/debug/kmemleak ] || skip "no kmemleak in this kernel (run with --debug-kernel)"
rmmod xtun && insmod /lib/modules/xtun.ko || fail "reload before the scan"
echo scan > /sys/kernel/debug/kmemleak
# Not a synchronisation: kmemleak reports no object younger than 5 s.
sleep 6
echo scan > /sys/kernel/debug/kmemleak
report=$(cat /sys/kernel/debug/kmemleak)
count=$(echo "$report" | grep -c 'unreferenced object')
echo "kmemleak: $count unreferenced objects since the suite started"
if [ "$count" -gt 0 ]; then
	echo "$report" | head -n 80
	fail "kmemleak found $count leaked objects"
fi
