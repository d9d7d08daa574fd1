// SPDX-License-Identifier: GPL-2.0

//! The caller's credentials, as tun's ownership rules need them: kernel
//! uids/gids (`kuid_t`/`kgid_t` values, the same in every user namespace).
//!
//! C headers: [`include/linux/cred.h`](srctree/include/linux/cred.h),
//! [`include/linux/uidgid.h`](srctree/include/linux/uidgid.h).

extern "C" {
    fn xtun_make_kuid(uid: u32, kuid: *mut u32) -> bool;
    fn xtun_make_kgid(gid: u32, kgid: *mut u32) -> bool;
    fn xtun_current_euid() -> u32;
    fn xtun_in_egroup(kgid: u32) -> bool;
}

/// The kernel uid for `uid` in the caller's user namespace, if it maps.
pub(crate) fn kuid(uid: u32) -> Option<u32> {
    let mut k = 0;
    // SAFETY: `k` is valid for writes; the caller's credentials are current.
    unsafe { xtun_make_kuid(uid, &mut k) }.then_some(k)
}

/// The kernel gid for `gid` in the caller's user namespace, if it maps.
pub(crate) fn kgid(gid: u32) -> Option<u32> {
    let mut k = 0;
    // SAFETY: as above.
    unsafe { xtun_make_kgid(gid, &mut k) }.then_some(k)
}

/// The caller's effective kernel uid.
pub(crate) fn euid() -> u32 {
    // SAFETY: no precondition.
    unsafe { xtun_current_euid() }
}

/// Whether the caller's effective or supplementary groups include `kgid`.
pub(crate) fn in_group(kgid: u32) -> bool {
    // SAFETY: no precondition.
    unsafe { xtun_in_egroup(kgid) }
}
