# Guest kernel -> userspace stack: busybox wget fetches 1 MiB from
# `xtun-stack serve` (smoltcp at 10.99.0.2) through xtun, byte-exact.
. /xtun/tests/lib.sh
setup_xtun
xtun-stack serve 8080 &
sleep 0.5
size=1048576
start=$(date +%s)
timeout 60 wget -q -O /tmp/body http://10.99.0.2:8080/$size || fail "wget from xtun-stack failed"
end=$(date +%s)
xtun-stack pattern $size > /tmp/want
got=$(sha256sum < /tmp/body | cut -d' ' -f1)
want=$(sha256sum < /tmp/want | cut -d' ' -f1)
echo "body $(wc -c < /tmp/body) bytes sha256 $got in about $((end - start)) s"
[ "$got" = "$want" ] || fail "body differs from the pattern (want sha256 $want)"
rm -f /tmp/body /tmp/want
