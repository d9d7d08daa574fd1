# Module lifetime under pressure: while a reader sleeps in read() on
# /dev/xtun, or a poller in poll(), rmmod returns at once refused because
# the module is in use (not hung, not killed, no crash); and rmmod/insmod
# rounds racing with a loop that opens and closes /dev/xtun end with the
# module loaded, every reference dropped and a clean kernel log.
. /xtun/tests/lib.sh
setup_xtun
for how in read poll; do
	xtun-check hold $how > /dev/null &
	holder=$!
	case $how in
	read) asleep="reading_xtun $holder" ;;
	poll) asleep="holds_xtun $holder && sleeping_in $holder 7 271" ;;
	esac
	wait_for "$asleep"
	refcnt=$(cat /sys/module/xtun/refcnt)
	[ "$refcnt" -ge 1 ] || fail "module refcnt is $refcnt while /dev/xtun is open"
	# rmmod does not wait for users (O_NONBLOCK): it ends by itself with the
	# kernel's EAGAIN, "Resource temporarily unavailable" in busybox's words.
	rmmod xtun 2> /tmp/rmmod.err &
	rmmod=$!
	wait_for "exited $rmmod"
	wait $rmmod && fail "rmmod succeeded while a $how waits"
	grep -q 'Resource temporarily unavailable' /tmp/rmmod.err ||
		fail "rmmod failed, but not because xtun is in use: $(cat /tmp/rmmod.err)"
	grep -q '^xtun ' /proc/modules || fail "module gone while a $how waits"
	eval "$asleep" || fail "the $how waiter is no longer asleep after the refused rmmod"
	kill $holder; wait $holder 2>/dev/null
	echo "rmmod refused while asleep in $how (refcnt $refcnt): $(cat /tmp/rmmod.err)"
done
# dd opens without O_CREAT: a shell's `<>` would create a regular file
# /dev/xtun while the module is out, and the next insmod would find it there.
( while :; do dd if=/dev/xtun of=/dev/null count=0 2>/dev/null; done ) &
racer=$!
# At least 100 rounds, and on until one rmmod got through: how often the
# opener wins depends on the machine's pace, not on the driver.
i=0
unloaded=0
while [ $i -lt 100 ] || [ $unloaded -eq 0 ]; do
	i=$((i + 1))
	[ $i -le 5000 ] || fail "rmmod never got through in 5000 rounds: does an open leak a reference?"
	if rmmod xtun 2>/dev/null; then
		unloaded=$((unloaded + 1))
		insmod /lib/modules/xtun.ko || fail "insmod failed in round $i"
	fi
done
kill $racer; wait $racer 2>/dev/null
echo "$i rounds racing open/close: $unloaded unloads went through, $((i - unloaded)) were refused"
# Once the last dd has closed, no reference is left: the module unloads.
wait_for "rmmod xtun 2>/dev/null"
insmod /lib/modules/xtun.ko || fail "final insmod"
[ -c /dev/xtun ] || fail "/dev/xtun is not a character device after the races"
