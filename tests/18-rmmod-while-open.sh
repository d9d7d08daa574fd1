# rmmod is refused while /dev/xtun is open (the fops' .owner pins the
# module); after close it unloads, and a fresh insmod works.
. /xtun/tests/lib.sh
setup_xtun
xtun-check hold &
holder=$!
wait_for "holds_xtun $holder"
if rmmod xtun 2>/tmp/rmmod.err; then
	fail "rmmod succeeded with /dev/xtun open"
fi
echo "rmmod while open: $(cat /tmp/rmmod.err)"
grep -q 'Resource temporarily unavailable' /tmp/rmmod.err || fail "rmmod failed, but not because xtun is in use"
grep -q '^xtun ' /proc/modules || fail "module gone after a refused rmmod"
kill $holder; wait $holder 2>/dev/null
rmmod xtun || fail "rmmod after close failed"
[ ! -e /sys/class/net/xtun ] || fail "xtun interface left after rmmod"
[ ! -e /dev/xtun ] || fail "/dev/xtun left after rmmod"
insmod /lib/modules/xtun.ko || fail "insmod after rmmod failed"
[ -c /dev/xtun ] || fail "no /dev/xtun after reload"
