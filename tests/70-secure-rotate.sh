# Keys rotate under traffic with nothing lost: during a ping flood, both ends
# add the next key (id 2) as secondary, ns2 swaps, then ns1, then both
# delete the old one; every echo is answered, and both now send under key 2.
. /xtun/tests/lib.sh
tun_secure_pair
tun_ping 1 10.100.0.2
tun_genkeys c d
nx_bg 1 ping -c 400 -i 0.01 -W 5 10.100.0.2 > /tmp/flood.out 2>&1
flood=$!
sleep 0.5
tun_key 1 2 c d slot secondary
tun_key 2 2 d c slot secondary
nx 2 xtunctl key swap xt0 peer $SECURE_ID || fail "ns2: key swap"
sleep 0.3
nx 1 xtunctl key swap xt0 peer $SECURE_ID || fail "ns1: key swap"
sleep 0.3
nx 1 xtunctl key del xt0 peer $SECURE_ID slot secondary || fail "ns1: key del"
nx 2 xtunctl key del xt0 peer $SECURE_ID slot secondary || fail "ns2: key del"
wait $flood
tail -n 2 /tmp/flood.out | sed 's/^/# /'
grep -q ' 400 received' /tmp/flood.out || fail "echoes lost during the rotation: $(tail -n 2 /tmp/flood.out)"
for n in 1 2; do
	nx $n xtunctl show xt0 --json | tr -d ' \n' | grep -q '"key_id":2' || fail "ns$n does not hold key 2"
	nx $n xtunctl show xt0 --json | tr -d ' \n' | grep -q '"key_id":1' && fail "ns$n still holds key 1"
done
true
