#!/bin/sh
# The guest test runner: runs every /xtun/tests/NN-*.sh in order (or, with
# XTUN_SUITE=DIR, /xtun/tests/DIR/NN-*.sh, named DIR-name: the two-guest
# tests) and writes KTAP to the virtio results port (and the console). After each
# test it checks the kernel log: a WARN, BUG, Oops or leak report fails
# the test that caused it.
#
# A test passes by exiting 0, skips by exiting 77, fails otherwise.
#
# Each test runs in a session (so a process group) of its own, and the
# whole group is killed when the test ends or times out: nothing it started
# (a program holding /dev/xtun, a child its EXIT trap does not know, or
# anything at all once SIGKILL skipped that trap) lives on into the next test.

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

# group_alive PGID: a process of the group is still alive (a zombie has
# closed its files already). The state follows the "(comm) " field.
group_alive() {
	cat /proc/[0-9]*/stat 2>/dev/null | sed 's/.*) //' |
		awk -v group="$1" '$3 == group && $1 != "Z" { alive = 1 } END { exit !alive }'
}

dir=/xtun/tests${XTUN_SUITE:+/$XTUN_SUITE}
# test_name FILE: NN-name.sh is `name`, in a suite `SUITE-name`.
test_name() { echo "${XTUN_SUITE:+$XTUN_SUITE-}$(basename "$1" .sh | sed 's/^[0-9]*-//')"; }

tests=""
for t in "$dir"/[0-9]*.sh; do
	[ -e "$t" ] || continue
	wanted "$(test_name "$t")" && tests="$tests $t"
done
set -- $tests

# kmemleak (debug kernel): forget what boot left, so the last test sees
# only objects leaked while the suite ran.
if [ -e /sys/kernel/debug/kmemleak ]; then
	echo scan > /sys/kernel/debug/kmemleak
	echo clear > /sys/kernel/debug/kmemleak
fi

# The driver's KUnit suites run at every module load unless filtered out:
# only 49-kunit wants them (it lets them through for its own load); the
# load/unload tests would pay them on every cycle (seconds under KASAN).
kunit_glob=/sys/module/kunit/parameters/filter_glob
[ -w $kunit_glob ] && printf '%s' 'none.none' > $kunit_glob

emit "TAP version 13"
emit "1..$#"
dmesg -c > /dev/null
n=0
pass=0
fail=0
skip=0
for t in "$@"; do
	n=$((n + 1))
	name=$(test_name "$t")
	echo "# --- $name"
	t0=$(cut -d' ' -f1 /proc/uptime)
	limit=${XTUN_TEST_TIMEOUT:-300}
	rm -f /tmp/test.timeout
	# `&` in this shell (no job control) makes no group leader, so setsid
	# runs the test without forking: its pid is its session and group id.
	setsid sh "$t" > /tmp/test.out 2>&1 &
	pid=$!
	setsid sh -c 'sleep "$1" && touch /tmp/test.timeout && kill -KILL -"$2"' watchdog "$limit" "$pid" &
	watchdog=$!
	wait $pid
	rc=$?
	# The watchdog and its sleep, whether or not it has called setsid yet.
	kill -KILL -$watchdog $watchdog 2>/dev/null
	wait $watchdog 2>/dev/null
	kill -KILL -$pid 2>/dev/null
	i=0
	while group_alive $pid && [ $i -lt 300 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	t1=$(cut -d' ' -f1 /proc/uptime)
	survivors=""
	if group_alive $pid; then
		survivors=$(ps -o pid,pgid,stat,args | awk -v group=$pid 'NR == 1 || $2 == group')
	fi
	echo "$t1 - $t0" | awk '{ printf "# %s took %.1f s\n", name, $1 - $3 }' name="$name" >> "$results"
	cat /tmp/test.out
	splat=$(dmesg -c | grep -E 'WARNING:|BUG:|Oops|Call Trace|suspected memory leak|general protection|refcount_t|list_(add|del) corruption')
	if [ -e /tmp/test.timeout ] || [ -n "$survivors" ] || [ -n "$splat" ] || { [ $rc -ne 0 ] && [ $rc -ne 77 ]; }; then
		emit "not ok $n $name"
		[ -e /tmp/test.timeout ] && echo "# timed out after $limit s: its process group was killed" | tee -a "$results"
		[ -n "$survivors" ] && echo "$survivors" | sed 's/^/# survived SIGKILL for 30 s: /' | tee -a "$results"
		[ -n "$splat" ] && echo "$splat" | sed 's/^/# kernel: /' | tee -a "$results"
		tail -n 15 /tmp/test.out | sed 's/^/# /' >> "$results"
		fail=$((fail + 1))
	elif [ $rc -eq 77 ]; then
		emit "ok $n $name # SKIP $(tail -n 1 /tmp/test.out)"
		skip=$((skip + 1))
	else
		emit "ok $n $name"
		pass=$((pass + 1))
	fi
done
emit "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
sync
