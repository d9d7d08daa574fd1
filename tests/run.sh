#!/bin/sh
# The guest test runner: runs every /xtun/tests/NN-*.sh in order and
# writes KTAP to the virtio results port (and the console). After each
# test it checks the kernel log: a WARN, BUG, Oops or leak report fails
# the test that caused it.
#
# A test passes by exiting 0, skips by exiting 77, fails otherwise.

results=$(ls /dev/vport*p1 2>/dev/null | head -n 1)
[ -n "$results" ] || results=/dev/null
emit() { echo "$*"; echo "$*" >> "$results"; }

# XTUN_FILTER: comma-separated parts; a test runs if its name contains one.
wanted() {
	[ -z "$XTUN_FILTER" ] && return 0
	for part in $(echo "$XTUN_FILTER" | tr , ' '); do
		case "$1" in *"$part"*) return 0 ;; esac
	done
	return 1
}

tests=""
for t in /xtun/tests/[0-9]*.sh; do
	name=$(basename "$t" .sh | sed 's/^[0-9]*-//')
	wanted "$name" && tests="$tests $t"
done
set -- $tests

# kmemleak (debug kernel): forget what boot left, so the last test sees
# only objects leaked while the suite ran.
if [ -e /sys/kernel/debug/kmemleak ]; then
	echo scan > /sys/kernel/debug/kmemleak
	echo clear > /sys/kernel/debug/kmemleak
fi

emit "TAP version 13"
emit "1..$#"
dmesg -c > /dev/null
n=0
pass=0
fail=0
skip=0
for t in "$@"; do
	n=$((n + 1))
	name=$(basename "$t" .sh | sed 's/^[0-9]*-//')
	echo "# --- $name"
	t0=$(cut -d' ' -f1 /proc/uptime)
	timeout -s KILL "${XTUN_TEST_TIMEOUT:-300}" sh "$t" > /tmp/test.out 2>&1
	rc=$?
	t1=$(cut -d' ' -f1 /proc/uptime)
	echo "$t1 - $t0" | awk '{ printf "# %s took %.1f s\n", name, $1 - $3 }' name="$name" >> "$results"
	cat /tmp/test.out
	splat=$(dmesg -c | grep -E 'WARNING:|BUG:|Oops|Call Trace|suspected memory leak|general protection|refcount_t|list_(add|del) corruption')
	if [ -n "$splat" ]; then
		emit "not ok $n $name"
		echo "$splat" | sed 's/^/# kernel: /' | tee -a "$results"
		fail=$((fail + 1))
	elif [ $rc -eq 0 ]; then
		emit "ok $n $name"
		pass=$((pass + 1))
	elif [ $rc -eq 77 ]; then
		emit "ok $n $name # SKIP $(tail -n 1 /tmp/test.out)"
		skip=$((skip + 1))
	else
		emit "not ok $n $name"
		tail -n 15 /tmp/test.out | sed 's/^/# /' >> "$results"
		fail=$((fail + 1))
	fi
done
emit "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
sync
