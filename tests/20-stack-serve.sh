# Guest kernel -> userspace stack: busybox wget fetches 1 MiB from
# `xtun-stack serve` (smoltcp at 10.99.0.2) through xtun, byte-exact.
. /xtun/tests/lib.sh
setup_xtun
start_stack_server 8080
size=1048576
start=$(cut -d' ' -f1 /proc/uptime)
timeout 60 wget -q -O /tmp/body http://10.99.0.2:8080/$size || { cat /tmp/stack.err; fail "wget from xtun-stack failed"; }
end=$(cut -d' ' -f1 /proc/uptime)
xtun-stack pattern $size > /tmp/want
got=$(sha256sum < /tmp/body | cut -d' ' -f1)
want=$(sha256sum < /tmp/want | cut -d' ' -f1)
echo "$start $end" | awk -v n=$size '{ d = $2 - $1; if (d <= 0) d = 0.01; printf "wget: %d bytes in %.2f s: %.2f MB/s\n", n, d, n / d / 1e6 }'
echo "body $(wc -c < /tmp/body) bytes, sha256 $got"
[ "$got" = "$want" ] || fail "body differs from the pattern (want sha256 $want)"
rm -f /tmp/body /tmp/want
