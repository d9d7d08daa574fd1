# xtun-stress: concurrent writes, reads, bad pointers, O_NONBLOCK toggles,
# polls, second opens, reopen cycles, link flaps and MTU changes while the
# kernel floods the device; then (the last third of the time) the same on
# two multiqueue IFF_NAPI taps made with TUNSETIFF, one with packet
# information, with TUNSETQUEUE detach/attach, TUNGETIFF and queues closed
# and attached again, until the devices are deleted under load (their fds
# then EBADFD). Every errno is a documented one and the counters add up.
# Then the module still unloads and loads cleanly.
# XTUN_STRESS_SECS (kernel command line xtunstress=) sets the duration.
. /xtun/tests/lib.sh
setup_xtun
xtun-stress --duration "${XTUN_STRESS_SECS:-15}" ${XTUN_STRESS_SEED:+--seed $XTUN_STRESS_SEED} || fail "xtun-stress"
rmmod xtun || fail "rmmod after stress"
insmod /lib/modules/xtun.ko || fail "insmod after stress"
