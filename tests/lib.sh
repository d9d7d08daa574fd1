# Shared helpers for guest tests; each test sources this file.
set -u
. /etc/profile

fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "$*"; exit 77; }
stat() { cat /sys/class/net/xtun/statistics/$1; }

# Every test starts from: xtun loaded, 10.99.0.1/24 on it, link up.
setup_xtun() {
	[ -c /dev/xtun ] || insmod /lib/modules/xtun.ko || fail "cannot load xtun.ko"
	# No IPv6 on xtun: its router solicitations and DAD would add frames
	# that the exact counter checks do not expect.
	echo 1 > /proc/sys/net/ipv6/conf/xtun/disable_ipv6
	ip addr flush dev xtun
	ip addr add 10.99.0.1/24 dev xtun || fail "cannot address xtun"
	ip link set xtun up || fail "cannot bring xtun up"
}

# The module loaded and nothing more, for tests that make their own devices
# on /dev/xtun (the tun ioctl ABI tests).
load_xtun() {
	[ -c /dev/xtun ] || insmod /lib/modules/xtun.ko || fail "cannot load xtun.ko"
}

# wait_for CONDITION [SECONDS]: polls the shell condition every 0.05 s until
# it holds, and fails naming it if it still does not after SECONDS (default
# 60). Tests wait for the event itself, never a fixed time: the limit only
# stops a hang and is far beyond what a slow TCG run needs.
wait_for() {
	local t0
	t0=$(cut -d' ' -f1 /proc/uptime)
	until eval "$1"; do
		if awk -v t0="$t0" -v limit="${2:-60}" '{ exit !($1 - t0 > limit) }' /proc/uptime; then
			fail "waited ${2:-60} s for: $1"
		fi
		sleep 0.05
	done
}

# holds_xtun PID: process PID has /dev/xtun open.
holds_xtun() {
	local fd
	for fd in /proc/$1/fd/*; do
		[ "$(readlink "$fd" 2>/dev/null)" = /dev/xtun ] && return 0
	done
	return 1
}

# sleeping_in PID NR...: the main thread of PID sleeps in one of the system
# calls NR (x86_64: read 0, poll 7, ppoll 271). /proc/PID/syscall names the
# call only while the thread is off the CPU and not runnable.
sleeping_in() {
	local nr want
	nr=$(cut -d' ' -f1 /proc/$1/syscall 2>/dev/null) || return 1
	shift
	for want; do
		[ "$nr" = "$want" ] && return 0
	done
	return 1
}

# reading_xtun PID: the main thread of PID sleeps in read(2) on /dev/xtun
# (the read's first argument is the fd).
reading_xtun() {
	local fd
	sleeping_in "$1" 0 || return 1
	fd=$(($(cut -d' ' -f2 /proc/$1/syscall)))
	[ "$(readlink /proc/$1/fd/$fd)" = /dev/xtun ]
}

# exited PID: PID has ended (gone, or a zombie its parent has not reaped).
exited() {
	[ ! -e /proc/$1 ] || [ "$(sed 's/.*) //' /proc/$1/stat 2>/dev/null | cut -d' ' -f1)" = Z ]
}

# tcp_listening A.B.C.D PORT: a kernel TCP socket listens there.
tcp_listening() {
	local want
	want=$(echo "$1" | awk -F. '{ printf "%02X%02X%02X%02X", $4, $3, $2, $1 }'):$(printf %04X "$2")
	awk -v want="$want" '$2 == want && $4 == "0A" { found = 1 } END { exit !found }' /proc/net/tcp
}

# start_stack_server PORT: `xtun-stack serve PORT` in the background (its
# stderr in /tmp/stack.err), once it accepts connections.
start_stack_server() {
	xtun-stack serve "$1" 2> /tmp/stack.err &
	wait_for "grep -q 'listening on 10.99.0.2:$1' /tmp/stack.err"
}

# Leave no background programs behind.
cleanup() { kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT

# needs_feature FLAG: skips the test unless TUNGETFEATURES on /dev/xtun
# reports FLAG (e.g. IFF_MULTI_QUEUE): the test then turns itself on
# when the driver gains the feature.
needs_feature() {
	local features
	features=$(xtun-tunctl getfeatures 2>&1 | sed -n 's/^# TUNGETFEATURES: //p')
	[ -n "$features" ] || fail "xtun-tunctl getfeatures printed no TUNGETFEATURES line"
	echo "$features" | grep -q "$1" || skip "xtun does not offer $1 yet (TUNGETFEATURES $features)"
}

# many_count: how many devices the create/delete loops make: 1000, or 300
# under the debug kernel (kmemleak present), whose per-device cost under
# TCG would take the loop past the per-test limit.
many_count() {
	if [ -e /sys/kernel/debug/kmemleak ]; then echo 300; else echo 1000; fi
}
