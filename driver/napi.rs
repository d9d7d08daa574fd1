// SPDX-License-Identifier: GPL-2.0

//! NAPI contexts (`netif_napi_add_tx`): a poll function the core runs in a
//! softirq. xtun's `IFF_NAPI` queues hand written frames to GRO through
//! one, as tun's do.
//!
//! C header: [`include/linux/netdevice.h`](srctree/include/linux/netdevice.h).

use core::ptr::NonNull;
use kernel::{
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

use crate::context::{BhOff, Process};
use crate::netdev::{NetDev, Rtnl};
use crate::skb::Skb;

/// The shim's `struct xtun_napi`: a `napi_struct` and our poll function.
#[repr(C)]
struct RawNapi {
    _opaque: [u8; 0],
}

type PollFn = unsafe extern "C" fn(*const c_void, *mut RawNapi, c_int) -> c_int;

extern "C" {
    fn xtun_napi_add(dev: *mut kernel::bindings::net_device, poll: PollFn, data: *const c_void) -> *mut RawNapi;
    fn xtun_napi_enable(napi: *mut RawNapi);
    fn xtun_napi_disable(napi: *mut RawNapi);
    fn xtun_napi_del(napi: *mut RawNapi);
    fn xtun_napi_free(napi: *mut RawNapi);
    fn xtun_napi_schedule(napi: *mut RawNapi);
    fn xtun_napi_gro_receive(napi: *mut RawNapi, skb: *mut kernel::bindings::sk_buff);
    fn xtun_napi_complete_done(napi: *mut RawNapi, done: c_int);
}

/// What a NAPI context polls.
pub(crate) trait NapiPoll: Send + Sync + Sized + 'static {
    /// Hands up to `budget` frames to `napi` and returns how many; a poll
    /// that did fewer is done and calls [`NapiCtx::complete`] first.
    fn poll(&self, napi: &NapiCtx, budget: usize, ctx: &BhOff) -> usize;
}

/// A NAPI context on a device, polling its owner `T`, from [`Napi::add`]
/// until [`Napi::delete`]; the owner must delete it before its device's
/// unregistration completes (`ndo_uninit`), which frees what the core
/// still lists.
///
/// # Invariants
///
/// `raw` came from `xtun_napi_add` with `owner` (`Arc::into_raw`) as its
/// data, and is freed only by `Drop`. While `listed`, the core may poll it
/// and `owner` holds a reference to `T`, which `delete` gives back after
/// `netif_napi_del`'s grace period. `enabled` and `listed` change only
/// under RTNL.
pub(crate) struct Napi<T: NapiPoll> {
    raw: NonNull<RawNapi>,
    owner: *const T,
    enabled: Atomic<bool>,
    listed: Atomic<bool>,
}

// SAFETY: the C functions may be called from any thread; `owner` is a
// reference to a `T: Send + Sync`.
unsafe impl<T: NapiPoll> Send for Napi<T> {}
// SAFETY: as above; state changes are ordered by RTNL.
unsafe impl<T: NapiPoll> Sync for Napi<T> {}

impl<T: NapiPoll> Napi<T> {
    /// Adds a disabled NAPI context to `dev`, polling `owner`. The context
    /// holds `owner` until [`Napi::delete`]: a `T` that holds its `Napi`
    /// lives until then.
    pub(crate) fn add(dev: &NetDev, owner: Arc<T>, _rtnl: &Rtnl) -> Result<Self> {
        let owner = Arc::into_raw(owner);
        // SAFETY: `dev` is live and RTNL is held, as `netif_napi_add_tx`
        // wants; `owner` stays valid while the context is listed (we hold
        // the reference until `delete`).
        let raw = unsafe { xtun_napi_add(dev.as_raw(), poll_callback::<T>, owner.cast()) };
        let Some(raw) = NonNull::new(raw) else {
            // SAFETY: from `Arc::into_raw` above, never handed out.
            drop(unsafe { Arc::from_raw(owner) });
            return Err(ENOMEM);
        };
        // INVARIANT: listed, holding `owner`.
        Ok(Self { raw, owner, enabled: Atomic::new(false), listed: Atomic::new(true) })
    }

    /// Lets the core poll it (`napi_enable`); nothing once deleted.
    pub(crate) fn enable(&self, _rtnl: &Rtnl) {
        if self.listed.load(Relaxed) && !self.enabled.load(Relaxed) {
            // SAFETY: listed, so its device is live (it is deleted before
            // the device goes); disabled, as `napi_enable` wants; RTNL held.
            unsafe { xtun_napi_enable(self.raw.as_ptr()) };
            self.enabled.store(true, Relaxed);
        }
    }

    /// Waits for a running poll and stops further ones (`napi_disable`);
    /// a [`Napi::schedule`] does nothing then.
    pub(crate) fn disable(&self, _rtnl: &Rtnl, ctx: &Process) {
        if self.enabled.load(Relaxed) {
            ctx.might_sleep();
            // SAFETY: enabled, hence listed and its device live; RTNL held,
            // process context (`ctx`): `napi_disable` may sleep.
            unsafe { xtun_napi_disable(self.raw.as_ptr()) };
            self.enabled.store(false, Relaxed);
        }
    }

    /// Disables and removes it from its device (`netif_napi_del`, which
    /// waits a grace period), and gives the owner reference back.
    pub(crate) fn delete(&self, rtnl: &Rtnl, ctx: &Process) {
        self.disable(rtnl, ctx);
        if self.listed.load(Relaxed) {
            // SAFETY: listed, so its device is live; disabled above; RTNL
            // held, process context.
            unsafe { xtun_napi_del(self.raw.as_ptr()) };
            self.listed.store(false, Relaxed);
            // SAFETY: the reference taken in `add`, given back once (no
            // longer listed); no poll runs after `netif_napi_del`.
            drop(unsafe { Arc::from_raw(self.owner) });
        }
    }

    /// Asks the core to poll soon (`napi_schedule`); nothing if disabled,
    /// and a poll running now polls again (`NAPI_STATE_MISSED`).
    pub(crate) fn schedule(&self, _ctx: &BhOff) {
        // SAFETY: `raw` is allocated until `Drop`; a context that is
        // disabled or deleted keeps `NAPI_STATE_SCHED`, so this only sets
        // a bit; bottom halves are off, as the raised softirq wants.
        unsafe { xtun_napi_schedule(self.raw.as_ptr()) };
    }
}

impl<T: NapiPoll> Drop for Napi<T> {
    fn drop(&mut self) {
        // Still listed means still holding its owner, which holds us: we
        // cannot be dropped then. Leak rather than free what the core lists.
        if !self.listed.load(Relaxed) {
            // SAFETY: from `xtun_napi_add`, deleted, freed once.
            unsafe { xtun_napi_free(self.raw.as_ptr()) };
        }
    }
}

/// The context a poll runs in: where its frames go.
pub(crate) struct NapiCtx {
    raw: NonNull<RawNapi>,
}

impl NapiCtx {
    /// Hands a received frame (its headers set) to GRO.
    pub(crate) fn gro_receive(&self, skb: Skb) {
        // SAFETY: inside the poll of a listed context; the skb is ours and
        // the core takes it.
        unsafe { xtun_napi_gro_receive(self.raw.as_ptr(), skb.into_raw()) };
    }

    /// Ends a poll that did `done` frames, fewer than its budget.
    pub(crate) fn complete(&self, done: usize) {
        // SAFETY: inside the poll of a listed context.
        unsafe { xtun_napi_complete_done(self.raw.as_ptr(), done as c_int) };
    }
}

/// # Safety
///
/// Only the shim's NAPI poll calls this, for a context `Napi::<T>::add`
/// made: `data` is its owner, `raw` the context.
unsafe extern "C" fn poll_callback<T: NapiPoll>(data: *const c_void, raw: *mut RawNapi, budget: c_int) -> c_int {
    // A zero budget (netpoll) may not complete; xtun refuses netpoll.
    if budget <= 0 {
        return 0;
    }
    // SAFETY: the core polls in a softirq (bottom halves off), never from
    // a hard interrupt (no netpoll, above).
    let ctx = unsafe { BhOff::new() };
    // SAFETY: a listed context holds its owner (type invariants of `Napi`),
    // and the core polls only listed contexts.
    let owner = unsafe { &*data.cast::<T>() };
    let Some(raw) = NonNull::new(raw) else {
        return 0; // never: the shim passes its context
    };
    let napi = NapiCtx { raw };
    owner.poll(&napi, budget as usize, &ctx) as c_int
}
