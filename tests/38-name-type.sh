# The driver names its device itself: name_assign_type is "predictable"
# (NET_NAME_PREDICTABLE, 2), not "user" (3), so udev leaves it alone.
. /xtun/tests/lib.sh
setup_xtun
type=$(cat /sys/class/net/xtun/name_assign_type) || fail "cannot read name_assign_type"
echo "name_assign_type: $type"
[ "$type" = 2 ] || fail "name_assign_type $type, want 2 (NET_NAME_PREDICTABLE)"
