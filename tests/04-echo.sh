# The seed's echo test: xtun-echo reads a frame the kernel sent and writes
# it back; both lengths match and the frame comes back in as rx.
. /xtun/tests/lib.sh
setup_xtun
xtun-echo --count 1 > /tmp/echo.out &
echo_pid=$!
sleep 0.3
rx=$(stat rx_packets)
# An ARP request for an unknown neighbour is the frame the kernel sends.
ping -c 1 -W 1 -I xtun 10.99.0.77 > /dev/null 2>&1
wait $echo_pid || fail "xtun-echo failed"
cat /tmp/echo.out
grep -Eq '^read ([0-9]+) bytes, wrote \1 bytes$' /tmp/echo.out || fail "echo lengths differ"
[ "$(stat rx_packets)" -gt "$rx" ] || fail "the echoed frame was not received"
