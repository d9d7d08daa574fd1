# tun ioctl ABI on /dev/xtun: SIOCGIFHWADDR on the fd returns ARPHRD_ETHER
# and the (random) MAC; SIOCSIFHWADDR sets it, also while up and for an
# unprivileged holder of the fd; multicast and zero are EADDRNOTAVAIL,
# another family EINVAL; an unattached fd gets EBADFD.
# Expected behaviour is tun's, checked with `xtun-tunctl --path /dev/net/tun` (test
# 41-tunctl-tun-reference).
. /xtun/tests/lib.sh
load_xtun
xtun-tunctl hwaddr || fail "xtun-tunctl hwaddr"
