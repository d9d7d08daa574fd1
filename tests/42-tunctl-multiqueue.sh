# tun ioctl ABI on /dev/xtun: with IFF_MULTI_QUEUE several fds attach to one
# device (one tx queue each); TUNSETQUEUE detaches and attaches a queue
# (EINVAL when it is already so, on a single-queue device or an unattached
# fd); the last queue may detach; the 257th queue is E2BIG.
# Expected behaviour is tun's, checked with `xtun-tunctl --path /dev/net/tun` (test
# 41-tunctl-tun-reference); skipped while xtun does not offer IFF_MULTI_QUEUE.
. /xtun/tests/lib.sh
load_xtun
needs_feature IFF_MULTI_QUEUE
xtun-tunctl multiqueue || fail "xtun-tunctl multiqueue"
