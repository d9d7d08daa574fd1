# xtun-stress: concurrent writes, reads, bad pointers, O_NONBLOCK toggles,
# polls, second opens, reopen cycles, link flaps and MTU changes while the
# kernel floods the device; every errno is a documented one and the
# counters add up. Then the module still unloads and loads cleanly.
# XTUN_STRESS_SECS (kernel command line xtunstress=) sets the duration.
. /xtun/tests/lib.sh
setup_xtun
xtun-stress --duration "${XTUN_STRESS_SECS:-15}" ${XTUN_STRESS_SEED:+--seed $XTUN_STRESS_SEED} || fail "xtun-stress"
rmmod xtun || fail "rmmod after stress"
insmod /lib/modules/xtun.ko || fail "insmod after stress"
