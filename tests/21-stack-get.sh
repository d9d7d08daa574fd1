# Userspace stack -> guest kernel: `xtun-stack get` fetches 1 MiB from a
# busybox httpd bound to the guest's xtun address, byte-exact.
. /xtun/tests/lib.sh
setup_xtun
mkdir -p /tmp/www
dd if=/dev/urandom of=/tmp/www/blob bs=1024 count=1024 2>/dev/null
httpd -f -p 10.99.0.1:8081 -h /tmp/www &
wait_for "tcp_listening 10.99.0.1 8081"
xtun-stack get 10.99.0.1 8081 /blob > /tmp/got || fail "xtun-stack get failed"
cmp /tmp/got /tmp/www/blob || fail "body differs from the served file"
echo "1 MiB fetched by the userspace stack, byte-exact"
rm -rf /tmp/got /tmp/www
