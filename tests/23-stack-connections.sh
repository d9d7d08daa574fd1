# Many connections through the userspace stack: 100 sequential and
# 10 concurrent short HTTP requests all succeed with the right body.
. /xtun/tests/lib.sh
setup_xtun
start_stack_server 8080
xtun-stack pattern 1000 > /tmp/small
i=0
while [ $i -lt 100 ]; do
	i=$((i + 1))
	timeout 10 wget -q -O /tmp/seq http://10.99.0.2:8080/1000 || fail "sequential request $i failed"
	cmp -s /tmp/seq /tmp/small || fail "sequential request $i: wrong body"
done
echo "100 sequential requests ok"
pids=""
for j in 1 2 3 4 5 6 7 8 9 10; do
	( timeout 20 wget -q -O /tmp/par.$j http://10.99.0.2:8080/1000 && cmp -s /tmp/par.$j /tmp/small ) &
	pids="$pids $!"
done
bad=0
for p in $pids; do wait $p || bad=$((bad + 1)); done
[ $bad -eq 0 ] || fail "$bad of 10 concurrent requests failed"
echo "10 concurrent requests ok"
rm -f /tmp/seq /tmp/par.* /tmp/small
