# Module lifetime under pressure: rmmod is refused (not hung, no crash)
# while a reader is blocked in read() or a poller waits in poll(); and 100
# rmmod/insmod rounds racing with a loop that opens and closes /dev/xtun
# end with the module loaded and a clean kernel log.
. /xtun/tests/lib.sh
setup_xtun
for how in read poll; do
	xtun-check hold $how > /dev/null &
	holder=$!
	sleep 0.5
	if timeout 10 rmmod xtun 2>/dev/null; then fail "rmmod succeeded while a $how waits"; fi
	grep -q '^xtun ' /proc/modules || fail "module gone while a $how waits"
	kill $holder; wait $holder 2>/dev/null
	echo "rmmod refused while blocked in $how; the waiter was killed cleanly"
done
# dd opens without O_CREAT: a shell's `<>` would create a regular file
# /dev/xtun while the module is out, and the next insmod would find it there.
( while :; do dd if=/dev/xtun of=/dev/null count=0 2>/dev/null; done ) &
racer=$!
i=0
unloaded=0
while [ $i -lt 100 ]; do
	i=$((i + 1))
	if rmmod xtun 2>/dev/null; then
		unloaded=$((unloaded + 1))
		insmod /lib/modules/xtun.ko || fail "insmod failed in round $i"
	fi
done
kill $racer; wait $racer 2>/dev/null
grep -q '^xtun ' /proc/modules || insmod /lib/modules/xtun.ko || fail "final insmod"
[ -c /dev/xtun ] || fail "/dev/xtun is not a character device after the races"
echo "100 rounds racing open/close: $unloaded unloads went through, the rest were refused"
[ "$unloaded" -gt 0 ] || fail "rmmod never won the race"
