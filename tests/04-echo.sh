# The seed's echo test: xtun-echo reads a frame the kernel sent and writes
# it back; both lengths match and the frame comes back in: rx counts it and
# a capture sees it arrive.
. /xtun/tests/lib.sh
setup_xtun
tcpdump -l -n -i xtun -Q in -c 1 arp > /tmp/echo.cap 2> /tmp/echo.err &
cap_pid=$!
wait_for "grep -q listening /tmp/echo.err"
xtun-echo --count 1 > /tmp/echo.out &
echo_pid=$!
wait_for "holds_xtun $echo_pid"
rx=$(stat rx_packets)
# An ARP request for an unknown neighbour is the frame the kernel sends.
ping -c 1 -W 1 -I xtun 10.99.0.77 > /dev/null 2>&1
wait $echo_pid || fail "xtun-echo failed"
cat /tmp/echo.out
grep -Eq '^read ([0-9]+) bytes, wrote \1 bytes$' /tmp/echo.out || fail "echo lengths differ"
[ "$(stat rx_packets)" -gt "$rx" ] || fail "the echoed frame was not received"
wait_for "exited $cap_pid"
cat /tmp/echo.cap
grep -q 'Request who-has 10.99.0.77' /tmp/echo.cap || fail "the echoed frame never entered the stack"
