# The driver's KUnit suites (#[kunit_tests] in driver/peers.rs and
# driver/tunnel.rs: the peer and MAC tables' bounds, expiry and moves, the
# VXLAN header parser) run when the module loads and pass, every one.
. /xtun/tests/lib.sh
load_xtun
rmmod xtun || fail "cannot unload xtun to rerun its suites"
echo "49-kunit: reload" > /dev/kmsg
# run.sh filters KUnit suites out of other tests' loads: let ours run.
glob=/sys/module/kunit/parameters/filter_glob
saved=$(cat $glob 2>/dev/null)
[ -w $glob ] && printf '%s' 'xtun_*' > $glob  # no newline: it would be part of the glob
insmod /lib/modules/xtun.ko || fail "cannot load xtun.ko"
[ -w $glob ] && printf '%s' "${saved:-*.*}" > $glob
log=$(dmesg | sed -n '/49-kunit: reload/,$p')
for suite in xtun_peers xtun_tunnel xtun_replay xtun_aead xtun_secure; do
	summary=$(echo "$log" | grep "# $suite: pass:") || fail "suite $suite did not run (CONFIG_KUNIT?)"
	echo "$summary"
	echo "$summary" | grep -q "fail:0 skip:0" || fail "suite $suite: $summary"
done
! echo "$log" | grep -E '^\[[ 0-9.]+\] +not ok' || fail "a KUnit case failed (above)"
