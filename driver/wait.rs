// SPDX-License-Identifier: GPL-2.0

//! A wait queue whose waiters re-check their condition after queueing
//! themselves (`wait_event_interruptible`), so a wake-up from a context that
//! takes none of the waiter's locks (softirq xmit) is never lost.
//!
//! C headers: [`include/linux/wait.h`](srctree/include/linux/wait.h),
//! [`include/linux/poll.h`](srctree/include/linux/poll.h).

use core::marker::PhantomData;
use kernel::{
    bindings,
    prelude::*,
    static_lock_class,
    types::Opaque,
};

use crate::context::Process;

extern "C" {
    fn xtun_wq_has_sleeper(head: *mut bindings::wait_queue_head) -> bool;
    fn xtun_wq_is_empty(head: *mut bindings::wait_queue_head) -> bool;
}

/// # Invariants
///
/// `head` is an initialised `wait_queue_head`. Pollers registered on it
/// (epoll entries, which live until their file is released) are removed
/// in [`PinnedDrop`] before its memory can go: so [`PollTable::register`]
/// is sound for any `&WaitQueue`, as upstream's `PollCondVar`.
#[pin_data(PinnedDrop)]
pub(crate) struct WaitQueue {
    #[pin]
    head: Opaque<bindings::wait_queue_head>,
}

// SAFETY: the wait queue has its own lock and may be used from any thread.
unsafe impl Send for WaitQueue {}
// SAFETY: as above.
unsafe impl Sync for WaitQueue {}

impl WaitQueue {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes and pinned; the name and the
            // lock class key are static.
            head <- Opaque::ffi_init(|slot| unsafe {
                bindings::__init_waitqueue_head(
                    slot,
                    c"xtun_readers".as_char_ptr(),
                    static_lock_class!().as_ptr(),
                )
            }),
        })
    }

    /// Sleeps until `done()` is true. Fails with `ERESTARTSYS` on a signal.
    pub(crate) fn wait_interruptible(&self, ctx: &Process, mut done: impl FnMut() -> bool) -> Result {
        ctx.might_sleep();
        let entry = Opaque::<bindings::wait_queue_entry>::uninit();
        let entry = core::pin::pin!(entry);
        // SAFETY: `entry` is pinned on this stack frame and outlives its use
        // on the queue: `finish_wait` below removes it before we return.
        unsafe { bindings::init_wait_entry(entry.get(), 0) };
        let result = loop {
            // SAFETY: `head` is initialised and `entry` is initialised and pinned.
            let pending = unsafe {
                bindings::prepare_to_wait_event(
                    self.head.get(),
                    entry.get(),
                    bindings::TASK_INTERRUPTIBLE as i32,
                )
            };
            // Checked after queueing ourselves: a wake-up from here on makes
            // `schedule()` return at once.
            if done() {
                break Ok(());
            }
            if pending != 0 {
                break Err(ERESTARTSYS);
            }
            // SAFETY: sleeping is allowed: process context (`ctx`), no lock held.
            unsafe { bindings::schedule() };
        };
        // SAFETY: `head` and `entry` are valid; this is a no-op if the entry
        // was already removed.
        unsafe { bindings::finish_wait(self.head.get(), entry.get()) };
        result
    }

    /// Wakes the waiters for `events`, if there is one (`wq_has_sleeper`
    /// + wake-up): the hot path (xmit) then takes no wait-queue lock while
    /// the reader is busy. A synchronous wake-up, as tun's `sk_data_ready`
    /// (`sock_def_readable`, `wake_up_interruptible_sync_poll`): it hints
    /// that the waker will sleep soon, which a sender often will not, so the
    /// scheduler may pull the reader onto the sender's CPU; tun and sockets
    /// accept the same. Callable from any context.
    pub(crate) fn wake_if_waiting(&self, events: u32) {
        // Not lost: the caller published its change (e.g. queued a frame)
        // before this call, whose full barrier pairs with the waiter's after
        // it queues itself: `set_current_state` in `prepare_to_wait_event`
        // for readers, the `smp_mb` in `poll_wait` for pollers. So either
        // the waiter's re-check sees the change, or we see the waiter.
        // SAFETY: `head` is initialised by the type invariants.
        if unsafe { xtun_wq_has_sleeper(self.head.get()) } {
            // SAFETY: as in `wake`; this is `wake_up_interruptible_sync_poll`.
            unsafe {
                bindings::__wake_up_sync_key(
                    self.head.get(),
                    bindings::TASK_INTERRUPTIBLE,
                    events as usize as *mut c_void,
                )
            };
        }
    }

    /// Wakes every blocked reader, and the pollers waiting for one of
    /// `events` (a keyed wake-up, as tun's `sk_data_ready`/write space: a
    /// poller that waits only for `EPOLLOUT` is not woken by every frame;
    /// pollers always wait for `EPOLLERR`). Callable from any context.
    pub(crate) fn wake(&self, events: u32) {
        // SAFETY: `head` is initialised by the type invariants; the key is
        // a poll mask passed by value, as `wake_up_poll` does, which poll's
        // and epoll's wake functions compare with what they wait for (the
        // readers' `autoremove_wake_function` ignores it).
        unsafe {
            bindings::__wake_up(
                self.head.get(),
                bindings::TASK_INTERRUPTIBLE,
                1,
                events as usize as *mut c_void,
            )
        };
    }
}

#[pinned_drop]
impl PinnedDrop for WaitQueue {
    fn drop(self: Pin<&mut Self>) {
        // A wait queue with no entry left (checked under its lock, so no
        // remover is still inside it) is reachable by nobody: the usual
        // case, as every poller holds the file that owns the queue, and
        // epoll drops its entries before the file's release. A multiqueue
        // port goes without paying one grace period per queue.
        // SAFETY: `head` is initialised by the type invariants.
        if unsafe { xtun_wq_is_empty(self.head.get()) } {
            return;
        }
        // As `PollCondVar::drop` (rust/kernel/sync/poll.rs): detach every
        // poller (epoll removes its entry under RCU) ...
        // SAFETY: `head` is initialised by the type invariants.
        unsafe { bindings::__wake_up_pollfree(self.head.get()) };
        // ... and wait until no epoll callback can still reach `head`.
        // SAFETY: no precondition; dropping runs in process context.
        unsafe { bindings::synchronize_rcu() };
    }
}

/// Poll event bits (include/uapi/linux/eventpoll.h); bindgen skips these
/// macros because of their `__force` casts.
pub(crate) mod events {
    pub(crate) const EPOLLIN: u32 = 0x0001;
    pub(crate) const EPOLLOUT: u32 = 0x0004;
    pub(crate) const EPOLLERR: u32 = 0x0008;
    pub(crate) const EPOLLRDNORM: u32 = 0x0040;
    pub(crate) const EPOLLWRNORM: u32 = 0x0100;
}

/// The `poll_table` given to a `poll` file operation, with its file.
pub(crate) struct PollTable<'a> {
    table: *mut bindings::poll_table,
    file: *mut bindings::file,
    _call: PhantomData<&'a bindings::poll_table>,
}

impl<'a> PollTable<'a> {
    /// # Safety
    ///
    /// `file` must be valid and `table` null or valid for `'a`, the current
    /// `poll` call on `file`.
    pub(crate) unsafe fn from_raw(table: *mut bindings::poll_table, file: *mut bindings::file) -> Self {
        Self { table, file, _call: PhantomData }
    }

    /// Registers `queue` so the poller is woken when it is: the kernel's
    /// `poll_wait`, whose full barrier after queueing pairs with the one in
    /// `wq_has_sleeper` ([`WaitQueue::wake_if_waiting`]): either the waker
    /// sees the poller on the queue, or the poller's readiness check that
    /// follows sees what the waker published.
    ///
    /// Epoll keeps its entry on `queue` until the file is released;
    /// should `queue` go first, its drop removes the entry (see
    /// [`WaitQueue`]'s invariants).
    pub(crate) fn register(&self, queue: &WaitQueue) {
        // SAFETY: `file` is valid and `table` is null or valid for this poll
        // call (constructor's contract); `queue` is initialised and pinned,
        // and its `PinnedDrop` detaches every poller left (waiting a grace
        // period then) before its memory can be reused.
        unsafe { bindings::poll_wait(self.file, queue.head.get(), self.table) };
    }
}
