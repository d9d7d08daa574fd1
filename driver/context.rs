// SPDX-License-Identifier: GPL-2.0

//! Execution context as a type: what may sleep takes a [`Process`]; what
//! needs bottom halves off takes a [`BhOff`].

use core::marker::PhantomData;

extern "C" {
    fn xtun_local_bh_disable();
    fn xtun_local_bh_enable();
}

/// Proof that the code holding it runs in process context and may sleep:
/// allocate with `GFP_KERNEL`, wait for a grace period, block in a wait
/// queue, turn bottom halves off and on. Only the abstraction's callbacks
/// that the kernel calls in process context make one (file operations;
/// `ndo_open`, `ndo_stop`, `ndo_uninit`, under RTNL) and lend it for the
/// call; `ndo_start_xmit`, which runs with bottom halves off, gets none, so
/// nothing it calls can sleep.
///
/// Neither `Send` nor `Sync`: it cannot leave the thread it was made for.
/// It proves the context only where it was made: safe code can still use
/// it inside an RCU read-side section or under a spinlock taken later, so
/// the wrappers that sleep call [`Process::might_sleep`], which the debug
/// kernel (`CONFIG_DEBUG_ATOMIC_SLEEP`, lockdep) turns into a warning.
pub(crate) struct Process(PhantomData<*mut ()>);

impl Process {
    /// # Safety
    ///
    /// The caller runs in process context, holds no spinlock, and has
    /// neither interrupts nor bottom halves nor preemption disabled.
    pub(crate) unsafe fn new() -> Self {
        Self(PhantomData)
    }

    /// Turns bottom halves off until the guard goes; turning them back on
    /// runs the softirqs raised meanwhile (a NAPI poll scheduled here).
    /// `self` stays usable meanwhile: nothing that sleeps may be called
    /// until the guard is dropped (`might_sleep` in the sleeping wrappers
    /// warns on debug kernels if something does).
    pub(crate) fn bh_off(&self) -> BhOffGuard {
        // SAFETY: process context (`self`); the guard turns them back on.
        unsafe { xtun_local_bh_disable() };
        BhOffGuard(BhOff(PhantomData))
    }

    /// Warns (debug kernels) if the caller may not sleep after all.
    #[track_caller]
    pub(crate) fn might_sleep(&self) {
        kernel::task::might_sleep();
    }
}

/// Proof that the code holding it runs with bottom halves off (or serves a
/// softirq), never in hard interrupt or NMI context: `ndo_start_xmit` on a
/// device without netpoll. A lock taken here and with `spin_lock_bh` in
/// process context then needs no interrupt disabling: no hard interrupt
/// takes it.
///
/// Neither `Send` nor `Sync`, as [`Process`].
pub(crate) struct BhOff(PhantomData<*mut ()>);

impl BhOff {
    /// # Safety
    ///
    /// The caller runs with bottom halves off (or in a softirq), not in
    /// hard interrupt or NMI context, and stays so while the token lives.
    pub(crate) unsafe fn new() -> Self {
        Self(PhantomData)
    }
}

/// Bottom halves off, from [`Process::bh_off`], until dropped.
pub(crate) struct BhOffGuard(BhOff);

impl core::ops::Deref for BhOffGuard {
    type Target = BhOff;

    fn deref(&self) -> &BhOff {
        &self.0
    }
}

impl Drop for BhOffGuard {
    fn drop(&mut self) {
        // SAFETY: turned off in `Process::bh_off`, on this thread (the
        // guard is neither `Send` nor `Sync`).
        unsafe { xtun_local_bh_enable() };
    }
}

/// Runs `f` with a [`Process`] token, for KUnit test bodies only: the
/// kernel runs a module's suites at load, in the loading task (process
/// context, no lock held).
#[cfg(CONFIG_KUNIT = "y")]
pub(crate) fn in_test_process<R>(f: impl FnOnce(&Process) -> R) -> R {
    // SAFETY: only KUnit test bodies call this (see above).
    f(&unsafe { Process::new() })
}
