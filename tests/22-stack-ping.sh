# ping -I xtun answered by the userspace stack's own ARP and ICMP: 0% loss.
. /xtun/tests/lib.sh
setup_xtun
start_stack_server 8080
out=$(ping -I xtun -c 10 -i 0.2 -W 2 10.99.0.2) || { echo "$out"; cat /tmp/stack.err; fail "ping failed"; }
echo "$out"
echo "$out" | grep -q ' 10 packets received, 0% packet loss' || fail "packet loss"
