# tun ioctl ABI on /dev/xtun, the failures: bad names EINVAL (a 16-byte name
# is cut to 15), a second TUNSETIFF on an fd EEXIST, a busy single-queue
# device EBUSY, lo/bridge/tun devices EINVAL, an unattached or deleted fd
# EBADFD (poll POLLERR), unknown ioctl EINVAL; and IFF_TUN, IFF_VNET_HDR,
# IFF_NAPI_FRAGS, which tun takes, are EINVAL on xtun (--expect-unsupported).
# Expected behaviour is tun's, checked with `xtun-tunctl --path /dev/net/tun` (test
# 41-tunctl-tun-reference).
. /xtun/tests/lib.sh
load_xtun
xtun-tunctl --expect-unsupported errors || fail "xtun-tunctl --expect-unsupported errors"
