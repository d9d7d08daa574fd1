# A secure tunnel (per-peer AEAD keys, ChaCha20-Poly1305; TUN_CIPHER picks
# another) carries ping both ways and 20 MiB of TCP, and only the ciphertext
# crosses the underlay: ns2's xt0 counts the bytes, every datagram opened
# (no auth failures, no replays). `xtunctl show` names the cipher, the key
# ids, counters and the kernel's implementation, never the key bytes.
# xt0 takes TCP's GSO super-frames (TSO), which xmit cuts and seals one by one.
. /xtun/tests/lib.sh
tun_secure_pair
nx 1 ethtool -k xt0 | grep -q '^tcp-segmentation-offload: on' ||
	fail "ns1's xt0 takes no TCP super-frames: $(nx 1 ethtool -k xt0 | grep '^tcp-segmentation-offload')"
tun_ping 1 10.100.0.2
tun_ping 2 10.100.0.1
rx0=$(tun_stat 2 rx_bytes)
tun_iperf 1 2 10.100.0.2 20M
rx=$(($(tun_stat 2 rx_bytes) - rx0))
echo "# ns2's xt0 rx_bytes +$rx for 20 MiB of TCP payload"
[ $rx -ge 20971520 ] || fail "ns2's xt0 received $rx bytes for 20971520 bytes of TCP payload"
for n in 1 2; do
	for c in rx_auth_fail rx_replay tx_no_key; do
		[ "$(tun_counter $n $c)" = 0 ] || fail "ns$n: $c is $(tun_counter $n $c) on a clean run"
	done
done
show=$(nx 1 xtunctl show xt0)
echo "$show" | sed 's/^/# /'
echo "$show" | grep -q "$TUN_CIPHER" || fail "xtunctl show does not name the cipher $TUN_CIPHER"
for k in a b; do
	key=$(cat $TUN_KEYS/$k)
	nx 1 xtunctl show xt0 --json | grep -qF "$key" && fail "xtunctl show --json prints key $k"
	echo "$show" | grep -qF "$key" && fail "xtunctl show prints key $k"
done
true
