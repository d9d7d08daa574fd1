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

# tcp_listening A.B.C.D PORT [NETNS]: a kernel TCP socket listens there
# (in network namespace NETNS if given).
tcp_listening() {
	local want
	want=$(echo "$1" | awk -F. '{ printf "%02X%02X%02X%02X", $4, $3, $2, $1 }'):$(printf %04X "$2")
	${3:+/usr/sbin/ip netns exec "$3"} cat /proc/net/tcp |
		awk -v want="$want" '$2 == want && $4 == "0A" { found = 1 } END { exit !found }'
}

# start_stack_server PORT: `xtun-stack serve PORT` in the background (its
# stderr in /tmp/stack.err), once it accepts connections.
start_stack_server() {
	xtun-stack serve "$1" 2> /tmp/stack.err &
	wait_for "grep -q 'listening on 10.99.0.2:$1' /tmp/stack.err"
}

# Leave no background programs behind, nor the tunnel tests' namespaces
# (tun_cleanup, below).
cleanup() { kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; tun_cleanup; }
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

# --- Tunnel tests (issue 14), in the layout of WireGuard's netns.sh -------
#
#   ns $ns1 (xt-PID-1)                          ns $ns2 (xt-PID-2)
#   +-----------------------------+             +-----------------------------+
#   | xt0 10.100.0.1/24           |             |           xt0 10.100.0.2/24 |
#   |  VNI 42 in UDP 4789         |             |         VNI 42 in UDP 4789  |
#   | veth1 10.0.0.1/24 ----------+-------------+---------- veth2 10.0.0.2/24 |
#   +-----------------------------+             +-----------------------------+
#
# TUN_KIND says what xt0 is: xtun (default; `ip link add type xtun`, then
# xtunctl) or vxlan (the kernel's own, the other side its remote), which
# proves a script on a tunnel known to work:
#   cargo xtask vm -- 'TUN_KIND=vxlan sh /xtun/tests/50-tunnel-ping.sh'
# TUN_KIND2 overrides the kind in $ns2 alone (the interop test).
TUN_KIND=${TUN_KIND:-xtun}
TUN_VNI=42
TUN_PORT=4789
ns0=xt-$$-0
ns1=xt-$$-1
ns2=xt-$$-2
tun_namespaces=""
n0() { /usr/sbin/ip netns exec $ns0 "$@"; }
n1() { /usr/sbin/ip netns exec $ns1 "$@"; }
n2() { /usr/sbin/ip netns exec $ns2 "$@"; }
ip0() { /usr/sbin/ip -n $ns0 "$@"; }
ip1() { /usr/sbin/ip -n $ns1 "$@"; }
ip2() { /usr/sbin/ip -n $ns2 "$@"; }
# nx N CMD / ipx N ARGS: the same for namespace N given as a number.
nx() { local n=$1; shift; /usr/sbin/ip netns exec xt-$$-$n "$@"; }
ipx() { local n=$1; shift; /usr/sbin/ip -n xt-$$-$n "$@"; }
# nx_bg N CMD: CMD in namespace N in the background; $! is CMD's pid (ip
# netns exec execs it), and cleanup ends it.
nx_bg() { local n=$1; shift; /usr/sbin/ip netns exec xt-$$-$n "$@" & }

tun_kind() { if [ "$1" = 2 ]; then echo "${TUN_KIND2:-$TUN_KIND}"; else echo "$TUN_KIND"; fi; }

# tun_requires_xtun: skips a test of behaviour only xtun has (a peer table,
# learning, its counters) when TUN_KIND runs the scripts on vxlan.
tun_requires_xtun() {
	[ "$TUN_KIND" = xtun ] || skip "xtun's own behaviour, not vxlan's (TUN_KIND=$TUN_KIND)"
}

# Until the tunnel mode lands the guest has no xtunctl: tests that need it
# skip saying so, and fail once it is there.
tun_needs_tools() {
	[ "$TUN_KIND" = xtun ] || [ "$(tun_kind 2)" = xtun ] || return 0
	load_xtun
	command -v xtunctl > /dev/null || fail "no xtunctl in the guest: the initrd is incomplete"
}

tun_cleanup() {
	local ns
	for ns in $tun_namespaces; do
		kill $(/usr/sbin/ip netns pids $ns 2> /dev/null) 2> /dev/null
		/usr/sbin/ip netns del $ns 2> /dev/null
	done
	tun_namespaces=""
}

# tun_ns_add N: namespace xt-$$-N with lo up and no IPv6 (its router
# solicitations and DAD would add frames the counter checks do not expect).
tun_ns_add() {
	/usr/sbin/ip netns add xt-$$-$1 || fail "ip netns add xt-$$-$1"
	tun_namespaces="$tun_namespaces xt-$$-$1"
	nx $1 sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 &&
		echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6' || fail "ns$1: cannot disable IPv6"
	ipx $1 link set lo up
}

# wait_up N DEV: DEV in namespace N is up with carrier and its queue
# running (operstate UP; UNKNOWN for a device without carrier handling).
wait_up() {
	wait_for "ipx $1 link show $2 | grep -qE 'LOWER_UP.* state (UP|UNKNOWN)'" 30
}

# tun_link NA DEVA ADDRA NB DEVB ADDRB: a veth pair between namespaces NA
# and NB, addressed (A.B.C.D/N) and up.
tun_link() {
	ipx $1 link add $2 type veth peer name $5 netns xt-$$-$4 || fail "ip link add $2 type veth"
	ipx $1 addr add $3 dev $2 && ipx $1 link set $2 up &&
		ipx $4 addr add $6 dev $5 && ipx $4 link set $5 up || fail "cannot set up $2 and $5"
	wait_up $1 $2
	wait_up $4 $5
}

# tun_ns_setup: $ns1 and $ns2 joined by the underlay veth1 10.0.0.1/24 --
# veth2 10.0.0.2/24 (the picture above), no tunnel yet.
tun_ns_setup() {
	tun_needs_tools
	tun_ns_add 1
	tun_ns_add 2
	tun_link 1 veth1 10.0.0.1/24 2 veth2 10.0.0.2/24
}

# tun_add N LOCAL [OPTION VALUE]...: xt0 in namespace N, its UDP socket on
# LOCAL:4789, VNI 42; options go to `xtunctl set` (learn on, peer-timeout
# 2, ...). Down and without an address until tun_up.
tun_add() {
	local n=$1 local_ip=$2 under
	shift 2
	case $(tun_kind $n) in
	xtun)
		ipx $n link add xt0 type xtun || fail "ns$n: ip link add xt0 type xtun"
		nx $n xtunctl set xt0 listen-port $TUN_PORT local $local_ip vni $TUN_VNI "$@" ||
			fail "ns$n: xtunctl set xt0 listen-port $TUN_PORT local $local_ip vni $TUN_VNI $*"
		;;
	vxlan)
		[ $# = 0 ] || fail "ns$n: vxlan takes no xtunctl options ($*)"
		# The underlay device gives vxlan its MTU (1500 - 50).
		under=$(ipx $n -o addr show to $local_ip | awk '{ print $2 }')
		ipx $n link add xt0 type vxlan id $TUN_VNI dstport $TUN_PORT local $local_ip dev $under nolearning ||
			fail "ns$n: ip link add xt0 type vxlan"
		;;
	*) fail "TUN_KIND $(tun_kind $n): want xtun or vxlan" ;;
	esac
}

# tun_peer N IP:PORT [OPTION VALUE]...: a static peer of ns N's xt0 (xtunctl
# peer add options: mac, keepalive); for vxlan its remote.
tun_peer() {
	local n=$1 ep=$2
	shift 2
	case $(tun_kind $n) in
	xtun) nx $n xtunctl peer add xt0 endpoint $ep "$@" || fail "ns$n: xtunctl peer add xt0 endpoint $ep $*" ;;
	vxlan)
		[ "${ep#*:}" = $TUN_PORT ] && [ $# = 0 ] || fail "ns$n: vxlan's remote is an address at port $TUN_PORT, no options"
		ipx $n link set xt0 type vxlan remote ${ep%:*} || fail "ns$n: vxlan remote ${ep%:*}"
		;;
	esac
}

# tun_up N ADDR: xt0 of ns N addressed ADDR/24 and up.
tun_up() {
	ipx $1 addr add $2/24 dev xt0 && ipx $1 link set xt0 up || fail "ns$1: cannot bring xt0 up with $2"
	wait_up $1 xt0
}

# tun_pair_devices: xt0 on both sides, each the other's static peer,
# 10.100.0.1 and 10.100.0.2 on the overlay.
tun_pair_devices() {
	tun_add 1 10.0.0.1
	tun_add 2 10.0.0.2
	tun_peer 1 10.0.0.2:$TUN_PORT
	tun_peer 2 10.0.0.1:$TUN_PORT
	tun_up 1 10.100.0.1
	tun_up 2 10.100.0.2
}

# tun_pair: the whole picture above.
tun_pair() {
	tun_ns_setup
	tun_pair_devices
}

# tun_nat_setup: $ns1 is a client behind the router $ns0, which rewrites
# the source of its UDP to 10.0.0.1 and a port in 20000-20099:
#
#   ns $ns1 (client)             ns $ns0 (router)                 ns $ns2 (server)
#   xt0 10.100.0.1/24                                             xt0 10.100.0.2/24
#   veth1 192.168.1.100/24 ----- vethr1 192.168.1.1/24
#   default via 192.168.1.1      vethr2 10.0.0.1/24 ------------- veth2 10.0.0.2/24
#                                nft: UDP from 192.168.1.0/24 out of vethr2:
#                                masquerade to :20000-20099
tun_nat_setup() {
	tun_needs_tools
	tun_ns_add 0
	tun_ns_add 1
	tun_ns_add 2
	tun_link 1 veth1 192.168.1.100/24 0 vethr1 192.168.1.1/24
	tun_link 0 vethr2 10.0.0.1/24 2 veth2 10.0.0.2/24
	ip1 route add default via 192.168.1.1 || fail "ns1: default route"
	n0 sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward' || fail "ns0: ip_forward"
	# Protocol 17, not "udp": nft would look the name up in /etc/protocols.
	n0 nft -f - <<-'NFT' || fail "ns0: nft masquerade"
	table ip nat {
		chain post {
			type nat hook postrouting priority srcnat; policy accept;
			ip saddr 192.168.1.0/24 oifname "vethr2" meta l4proto 17 masquerade to :20000-20099
		}
	}
	NFT
}

# tun_ping N DST [OPTION]...: three echo requests from ns N to DST, each
# one answered.
tun_ping() {
	local n=$1 dst=$2 out
	shift 2
	out=$(nx $n ping -c 3 -i 0.2 -W 5 "$@" $dst 2>&1)
	echo "$out" | grep -q ' 3 received' || fail "ns$n: ping $* $dst: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
	echo "# ns$n: ping $* $dst: $(echo "$out" | grep received)"
}

# tun_stat N NAME: xt0's sysfs counter NAME in ns N.
tun_stat() { nx $1 cat /sys/class/net/xt0/statistics/$2; }

# tun_mac N [DEV]: the MAC address of xt0 (or DEV) in ns N.
tun_mac() { ipx $1 -o link show ${2:-xt0} | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'; }

# tun_neigh N IP: the MAC ns N's xt0 has for IP (nothing if none).
tun_neigh() { ipx $1 neigh show $2 dev xt0 | sed -n 's/.*lladdr \([0-9a-f:]*\).*/\1/p'; }

# json_get KEY: the first value of "KEY" in the JSON on stdin, a number,
# true/false/null or a string (unquoted); enough for xtunctl's flat fields.
json_get() {
	tr -d ' \t\n' | grep -oE "\"$1\":(\"[^\"]*\"|[^],}]*)" | head -n 1 | sed 's/^[^:]*://; s/"//g'
}

# tun_field N KEY: a device field of `xtunctl show xt0 --json` in ns N
# (peers, rx_bad, rx_unknown_src, ...).
tun_field() { nx $1 xtunctl show xt0 --json | json_get "$2"; }

# tun_peer_field N IP:PORT KEY: a field of the peer at IP:PORT in that list
# (id, rx_bytes, last_seen_ms, ...).
tun_peer_field() {
	nx $1 xtunctl show xt0 --json | tr -d ' \t\n' | sed 's/},{/}\n{/g' | grep "\"endpoint\":\"$2\"" | json_get "$3"
}

# tun_endpoints N: the endpoints of ns N's peers, one a line.
tun_endpoints() {
	nx $1 xtunctl show xt0 --json | tr -d ' \t\n' | grep -oE '"endpoint":"[^"]*"' | cut -d'"' -f4
}

# tun_iperf N M IP BYTES: iperf3 sends BYTES over TCP from ns N to its
# server on IP in ns M; both ends succeed.
tun_iperf() {
	local out server
	nx_bg $2 iperf3 -s -1 -B $3 > /tmp/iperf3-server.log 2>&1
	server=$!
	wait_for "tcp_listening $3 5201 xt-$$-$2 || exited $server" 30
	out=$(nx $1 iperf3 -c $3 -n $4 2>&1) || fail "ns$1: iperf3 -c $3 -n $4: $(echo "$out" | tail -n 3)"
	echo "$out" | grep -E 'sender|receiver' | sed "s/^/# ns$1 -> ns$2: /"
	wait $server || fail "ns$2: the iperf3 server failed: $(tail -n 3 /tmp/iperf3-server.log)"
}

# --- Secure mode (issue 15) ----------------------------------------------
#
# The same picture, each xt0 in secure mode: the peer is id $SECURE_ID at
# both ends; ns1 seals with key "a" and opens with "b", ns2 the reverse
# (one key per direction). TUN_CIPHER picks the AEAD.
SECURE_ID=7
TUN_CIPHER=${TUN_CIPHER:-chacha20-poly1305}
TUN_KEYS=/tmp/xt-$$-keys

# tun_genkeys NAME...: fresh random keys, in $TUN_KEYS/NAME.
tun_genkeys() {
	local k
	mkdir -p $TUN_KEYS
	for k; do
		xtunctl genkey > $TUN_KEYS/$k || fail "xtunctl genkey"
	done
}

# tun_key N KEY-ID SEND RECV [OPTION VALUE]...: a key for the peer of ns N,
# sealing with key file SEND and opening with RECV; options (slot, counter)
# go to `xtunctl key add`.
tun_key() {
	local n=$1 id=$2 send=$3 recv=$4
	shift 4
	nx $n xtunctl key add xt0 peer $SECURE_ID key-id $id cipher $TUN_CIPHER \
		send-key $TUN_KEYS/$send recv-key $TUN_KEYS/$recv "$@" ||
		fail "ns$n: xtunctl key add xt0 peer $SECURE_ID key-id $id ... $*"
}

# tun_secure_pair [EP1 [EP2]]: the picture in secure mode, keyed; ns1's
# peer at EP1 (default ns2's 10.0.0.2:4789), ns2's at EP2 (ns1's).
tun_secure_pair() {
	tun_requires_xtun
	tun_ns_setup
	tun_add 1 10.0.0.1 secure on
	tun_add 2 10.0.0.2 secure on
	tun_peer 1 ${1:-10.0.0.2:$TUN_PORT} id $SECURE_ID
	tun_peer 2 ${2:-10.0.0.1:$TUN_PORT} id $SECURE_ID
	tun_genkeys a b
	tun_key 1 1 a b
	tun_key 2 1 b a
	tun_up 1 10.100.0.1
	tun_up 2 10.100.0.2
}

# tun_static_neigh: ns1 knows ns2's overlay MAC, so its pings go at once
# (no ARP first): one datagram per echo, for exact counts.
tun_static_neigh() {
	ipx 1 neigh replace 10.100.0.2 lladdr $(tun_mac 2) dev xt0 || fail "ns1: static neighbour"
}

# tun_static_neighs: both ends know each other's MAC for good: no ARP at
# all, not even the reachability probes a neighbour entry makes later.
tun_static_neighs() {
	tun_static_neigh
	ipx 2 neigh replace 10.100.0.1 lladdr $(tun_mac 1) dev xt0 || fail "ns2: static neighbour"
}

# tun_counter N KEY: a device counter of ns N's xt0 from xtunctl.
tun_counter() { tun_field $1 $2; }

# tun_mitm MODE...: xtun-mitm in ns2 on 10.0.0.2:5000, relaying to ns2's
# xt0 and mangling ns1's datagrams as MODE says (ns1's peer is the relay);
# its report goes to /tmp/mitm.out when mitm_stop ends it.
tun_mitm() {
	nx_bg 2 xtun-mitm --listen 10.0.0.2:5000 --server 10.0.0.2:$TUN_PORT "$@" > /tmp/mitm.out 2>&1
	mitm=$!
	wait_for "udp_bound 10.0.0.2 5000 xt-$$-2 || exited $mitm" 30
	exited $mitm && fail "xtun-mitm $*: $(cat /tmp/mitm.out)"
}

# mitm_stop: ends the relay; its counters are then mitm_count NAME.
mitm_stop() {
	kill $mitm
	wait $mitm
	sed 's/^/# /' /tmp/mitm.out
}
mitm_count() { sed -n "s/.*\\b$1=\\([0-9]*\\).*/\\1/p" /tmp/mitm.out | tail -n 1; }

# udp_bound A.B.C.D PORT [NETNS]: a UDP socket is bound there.
udp_bound() {
	local want
	want=$(echo "$1" | awk -F. '{ printf "%02X%02X%02X%02X", $4, $3, $2, $1 }'):$(printf %04X "$2")
	${3:+/usr/sbin/ip netns exec "$3"} cat /proc/net/udp |
		awk -v want="$want" '$2 == want { found = 1 } END { exit !found }'
}
