# The same secure tunnel with AES-256-GCM: ping both ways and 4 MiB of TCP.
. /xtun/tests/lib.sh
TUN_CIPHER=aes-256-gcm
tun_secure_pair
tun_ping 1 10.100.0.2
tun_ping 2 10.100.0.1
tun_iperf 1 2 10.100.0.2 4M
nx 1 xtunctl show xt0 | grep -q aes-256-gcm || fail "xtunctl show does not name aes-256-gcm"
nx 1 xtunctl show xt0 | grep -E 'driver|cipher' | sed 's/^/# /'
