// SPDX-License-Identifier: GPL-2.0

//! Owned socket buffers and a bounded-by-caller queue of them.
//!
//! C headers: [`include/linux/skbuff.h`](srctree/include/linux/skbuff.h).

use core::ptr::NonNull;
use kernel::{
    bindings,
    error::to_result,
    iov::{IovIterDest, IovIterSource},
    prelude::*,
    types::Opaque,
};

use crate::context::{BhOff, Process};
use crate::netdev::NetDev;

extern "C" {
    fn xtun_skb_max_head(headroom: u32) -> u32;
    fn xtun_skb_queue_mapping(skb: *const bindings::sk_buff) -> u16;
    fn xtun_skb_protocol(skb: *const bindings::sk_buff) -> u16;
    fn xtun_skb_record_rx_queue(skb: *mut bindings::sk_buff, queue: u16);
    fn xtun_skb_dequeue_nobh(queue: *mut bindings::sk_buff_head) -> *mut bindings::sk_buff;
    fn xtun_alloc_skb_linear(
        dev: *mut bindings::net_device,
        headroom: u32,
        len: u32,
        gfp: bindings::gfp_t,
    ) -> *mut bindings::sk_buff;
    fn xtun_alloc_skb_paged(
        headroom: u32,
        linear: u32,
        paged: u32,
        order: u32,
        gfp: bindings::gfp_t,
    ) -> *mut bindings::sk_buff;
    fn xtun_skb_share_check(skb: *mut bindings::sk_buff, gfp: bindings::gfp_t) -> *mut bindings::sk_buff;
    fn xtun_skb_orphan_frags_rx(skb: *mut bindings::sk_buff, gfp: bindings::gfp_t) -> c_int;
    fn xtun_skb_tx_timestamp(skb: *mut bindings::sk_buff);
    fn xtun_skb_orphan(skb: *mut bindings::sk_buff);
    fn xtun_nf_reset_ct(skb: *mut bindings::sk_buff);
    fn xtun_kfree_skb(skb: *mut bindings::sk_buff);
    fn xtun_consume_skb(skb: *mut bindings::sk_buff);
    fn xtun_skb_queue_init(queue: *mut bindings::sk_buff_head);
    fn xtun_skb_queue_len(queue: *const bindings::sk_buff_head) -> u32;
    fn xtun_skb_queue_tail_bounded(
        queue: *mut bindings::sk_buff_head,
        skb: *mut bindings::sk_buff,
        limit: u32,
    ) -> bool;
    fn xtun_skb_dequeue_bh(queue: *mut bindings::sk_buff_head) -> *mut bindings::sk_buff;
    fn xtun_pskb_may_pull(skb: *mut bindings::sk_buff, len: c_uint) -> bool;
    fn xtun_skb_data(skb: *const bindings::sk_buff) -> *const u8;
    fn xtun_skb_headlen(skb: *const bindings::sk_buff) -> c_uint;
    fn xtun_skb_clone_atomic(skb: *mut bindings::sk_buff) -> *mut bindings::sk_buff;
    fn xtun_skb_is_gso(skb: *const bindings::sk_buff) -> bool;
    fn xtun_skb_gso_segment(skb: *mut bindings::sk_buff) -> *mut bindings::sk_buff;
    fn xtun_skb_list_take(skb: *mut bindings::sk_buff) -> *mut bindings::sk_buff;
    fn xtun_kfree_skb_list(skb: *mut bindings::sk_buff);
    #[cfg(CONFIG_KUNIT = "y")]
    fn xtun_skb_append_frag(head: *mut bindings::sk_buff, frag: *mut bindings::sk_buff);
}

/// A socket buffer owned by the driver.
///
/// # Invariants
///
/// `ptr` points to a valid `struct sk_buff` whose only reference is ours
/// (`skb->users == 1`, on no list): nobody else reads or links it. It is
/// freed exactly once, by [`Skb::consume`], by [`Drop`] (as a drop) or by
/// handing it back to the kernel through [`Skb::into_raw`].
pub(crate) struct Skb {
    ptr: NonNull<bindings::sk_buff>,
}

// SAFETY: An owned skb may be freed or used from any thread.
unsafe impl Send for Skb {}

impl Skb {
    /// Takes ownership of `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must be null or a valid skb whose only reference passes to the
    /// caller (freshly allocated, or just taken off a queue we own).
    pub(crate) unsafe fn from_raw(ptr: *mut bindings::sk_buff) -> Option<Self> {
        // INVARIANT: the caller hands over the only reference to a valid skb.
        NonNull::new(ptr).map(|ptr| Self { ptr })
    }

    /// The skb, still ours, for a call that does not take it.
    pub(crate) fn as_raw(&self) -> *mut bindings::sk_buff {
        self.ptr.as_ptr()
    }

    /// Gives up ownership, e.g. to `netif_receive_skb`, which frees the skb.
    pub(crate) fn into_raw(self) -> *mut bindings::sk_buff {
        let ptr = self.ptr.as_ptr();
        core::mem::forget(self);
        ptr
    }

    /// Allocates a frame of `len` bytes for `dev` and fills it from `src`.
    /// As tun: at most a page's worth is linear, the rest goes to page
    /// fragments, so a 64 KiB frame needs no order-5 allocation.
    ///
    /// Fails with `EFAULT` (and frees the skb) if `src` yields fewer bytes.
    pub(crate) fn from_user(
        dev: &NetDev,
        len: usize,
        src: &mut IovIterSource<'_>,
        _ctx: &Process,
    ) -> Result<Self> {
        // As tun: `NET_IP_ALIGN` headroom aligns the IP header behind the
        // 14-byte Ethernet header (0 on x86, where unaligned loads are
        // cheap); fragment pages of at most `PAGE_ALLOC_COSTLY_ORDER`, the
        // largest order the allocator tries hard for.
        const HEADROOM: u32 = bindings::NET_IP_ALIGN;
        const FRAG_ORDER: u32 = bindings::PAGE_ALLOC_COSTLY_ORDER;
        let len_int = c_int::try_from(len).map_err(|_| EMSGSIZE)?;
        let len32 = len_int as u32;
        // SAFETY: no precondition.
        let max_head = unsafe { xtun_skb_max_head(HEADROOM) };
        let gfp = bindings::GFP_KERNEL;
        let raw = if len32 <= max_head {
            // SAFETY: `dev` is live by the type invariants of `NetDev`; the
            // allocation may sleep (`_ctx`): GFP_KERNEL.
            unsafe { xtun_alloc_skb_linear(dev.as_raw(), HEADROOM, len32, gfp) }
        } else {
            // SAFETY: the allocation may sleep (`_ctx`): GFP_KERNEL.
            unsafe { xtun_alloc_skb_paged(HEADROOM, max_head, len32 - max_head, FRAG_ORDER, gfp) }
        };
        // SAFETY: a freshly allocated skb is valid and ours alone. Its `len`
        // data bytes are uninitialised: no Rust reference to them is made,
        // the copy below fills them, and on failure the skb is freed unread.
        let skb = unsafe { Self::from_raw(raw) }.ok_or(ENOMEM)?;
        // SAFETY: the skb holds `len` data bytes from offset 0 (head and
        // fragments) and `src` wraps a valid source iterator.
        let ret = unsafe {
            bindings::skb_copy_datagram_from_iter(skb.ptr.as_ptr(), 0, src.as_raw(), len_int)
        };
        if ret != 0 {
            return Err(EFAULT);
        }
        Ok(skb)
    }

    /// Length of the frame in bytes.
    pub(crate) fn len(&self) -> usize {
        // SAFETY: `ptr` is valid by the type invariants.
        unsafe { (*self.ptr.as_ptr()).len as usize }
    }

    /// Notes the rx queue a written frame came in on (RPS, and the tx
    /// queue of a frame forwarded back out), as tun does.
    pub(crate) fn record_rx_queue(&mut self, queue: usize) {
        let queue = u16::try_from(queue).unwrap_or(u16::MAX);
        // SAFETY: the skb is ours (type invariants).
        unsafe { xtun_skb_record_rx_queue(self.ptr.as_ptr(), queue) };
    }

    /// `skb->protocol` (an `ETH_P_*` value), in network byte order.
    pub(crate) fn protocol_be_bytes(&self) -> [u8; 2] {
        // SAFETY: `ptr` is valid by the type invariants.
        unsafe { xtun_skb_protocol(self.ptr.as_ptr()) }.to_ne_bytes()
    }

    /// Copies the frame into `dst`, truncating it if `dst` is shorter.
    pub(crate) fn copy_to_user(&self, dst: &mut IovIterDest<'_>) -> Result {
        let len = self.len().min(dst.len());
        // SAFETY: `ptr` is valid by the type invariants and `dst` wraps a valid
        // iov_iter for writing; `len` fits both.
        let ret = unsafe {
            bindings::skb_copy_datagram_iter(self.ptr.as_ptr(), 0, dst.as_raw(), len as i32)
        };
        if ret != 0 {
            return Err(EFAULT);
        }
        Ok(())
    }

    /// A copy of the first `N` bytes, made linear first if need be (the
    /// head may be reallocated, `GFP_ATOMIC`); `None` if the skb is shorter.
    pub(crate) fn head<const N: usize>(&mut self) -> Option<[u8; N]> {
        // SAFETY: the skb is ours (type invariants); GFP_ATOMIC is fine in
        // any context we run in.
        if !unsafe { xtun_pskb_may_pull(self.as_raw(), N as c_uint) } {
            return None;
        }
        let mut out = [0; N];
        // SAFETY: `pskb_may_pull` made `N` bytes linear at `data` (checked
        // again against the head length); `out` is ours.
        unsafe {
            if (xtun_skb_headlen(self.as_raw()) as usize) < N {
                return None;
            }
            core::ptr::copy_nonoverlapping(xtun_skb_data(self.as_raw()), out.as_mut_ptr(), N);
        }
        Some(out)
    }

    /// A clone sharing the data (`skb_clone`, `GFP_ATOMIC`): each may be
    /// sent on its own; a writer to the head copies it first (`skb_cow_head`).
    pub(crate) fn clone_atomic(&self) -> Option<Skb> {
        // SAFETY: the skb is valid; the clone is a new skb whose only
        // reference is ours.
        unsafe { Self::from_raw(xtun_skb_clone_atomic(self.as_raw())) }
    }

    /// Whether the skb is a GSO super-frame (many wire frames in one).
    pub(crate) fn is_gso(&self) -> bool {
        // SAFETY: the skb is valid.
        unsafe { xtun_skb_is_gso(self.as_raw()) }
    }

    /// The wire frames of a GSO super-frame, cut in software
    /// (`skb_gso_segment`). On error the frame is dropped.
    pub(crate) fn gso_segments(self) -> Result<SkbList> {
        let raw = self.into_raw();
        // SAFETY: the skb was ours; on success it is consumed, on error it
        // is still ours.
        let first = unsafe { xtun_skb_gso_segment(raw) };
        if let Err(e) = kernel::error::from_err_ptr(first) {
            // SAFETY: on error the skb is still ours; freed once here.
            drop(unsafe { Self::from_raw(raw) });
            return Err(e);
        }
        // INVARIANT: a fresh list of segments, each ours alone.
        Ok(SkbList { next: first })
    }

    /// An skb holding `parts` one after another, the first `linear` bytes
    /// in its head and the rest in page fragments: a test's frame, in
    /// either layout.
    #[cfg(CONFIG_KUNIT = "y")]
    pub(crate) fn from_parts(parts: &[&[u8]], linear: usize) -> Result<Self> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let linear = linear.min(len);
        // SAFETY: no precondition; tests run in process context (GFP_KERNEL).
        let raw = unsafe { xtun_alloc_skb_paged(0, linear as u32, (len - linear) as u32, 0, bindings::GFP_KERNEL) };
        // SAFETY: a fresh skb is ours alone; its bytes are filled below
        // before anything reads them.
        let skb = unsafe { Self::from_raw(raw) }.ok_or(ENOMEM)?;
        let mut at = 0;
        for part in parts {
            // SAFETY: `at + part.len() <= len`, the skb's length.
            to_result(unsafe {
                bindings::skb_store_bits(skb.as_raw(), at as c_int, part.as_ptr().cast(), part.len() as c_int)
            })?;
            at += part.len();
        }
        Ok(skb)
    }

    /// An skb whose head holds `parts[0]` and whose frag list holds the
    /// rest, one skb each: a test's frame in the layout of a GRO'd one.
    #[cfg(CONFIG_KUNIT = "y")]
    pub(crate) fn from_list(parts: &[&[u8]]) -> Result<Self> {
        let (first, rest) = parts.split_first().ok_or(EINVAL)?;
        let head = Self::from_parts(&[first], first.len())?;
        for part in rest {
            let frag = Self::from_parts(&[part], part.len())?;
            // SAFETY: both are ours; the head takes the fragment's only
            // reference (freed with the head).
            unsafe { xtun_skb_append_frag(head.as_raw(), frag.into_raw()) };
        }
        Ok(head)
    }

    /// A copy of the skb's bytes.
    #[cfg(CONFIG_KUNIT = "y")]
    pub(crate) fn to_vec(&self, gfp: kernel::alloc::Flags) -> Result<KVec<u8>> {
        let mut out = KVec::from_elem(0u8, self.len(), gfp)?;
        // SAFETY: `out` has room for the skb's `len` bytes.
        to_result(unsafe {
            bindings::skb_copy_bits(self.as_raw(), 0, out.as_mut_ptr().cast(), out.len() as c_int)
        })?;
        Ok(out)
    }

    /// Frees a frame that was delivered (not a drop: `consume_skb`).
    pub(crate) fn consume(self) {
        // SAFETY: we own the skb; `into_raw` stops `Drop` from freeing it again.
        unsafe { xtun_consume_skb(self.into_raw()) };
    }
}

impl Drop for Skb {
    fn drop(&mut self) {
        // SAFETY: we own the skb by the type invariants and free it once.
        unsafe { xtun_kfree_skb(self.ptr.as_ptr()) };
    }
}

/// A list of skbs linked by `next`, taken one by one.
///
/// # Invariants
///
/// `next` is null or the first of a list of valid skbs, each ours alone.
pub(crate) struct SkbList {
    next: *mut bindings::sk_buff,
}

impl Iterator for SkbList {
    type Item = Skb;

    fn next(&mut self) -> Option<Skb> {
        if self.next.is_null() {
            return None;
        }
        let skb = self.next;
        // SAFETY: `skb` is on our list (type invariants); taking it off
        // leaves it ours alone, and the rest is still a list of ours.
        self.next = unsafe { xtun_skb_list_take(skb) };
        // SAFETY: taken off the list above: its only reference is ours.
        unsafe { Skb::from_raw(skb) }
    }
}

impl Drop for SkbList {
    fn drop(&mut self) {
        // SAFETY: the rest of the list is ours (type invariants), freed once.
        unsafe { xtun_kfree_skb_list(self.next) };
    }
}

/// A frame handed to `ndo_start_xmit`, still tied to its sender: its
/// socket, zerocopy pages and completion, timestamp request, conntrack
/// entry. Dropping it reports the failure to the sender (`skb_tx_error`,
/// as tun) before freeing it; [`TxSkb::detach`] makes a frame that may wait
/// in a queue for as long as the reader likes.
pub(crate) struct TxSkb(Skb);

impl TxSkb {
    /// Takes one reference to an skb that others may still reference
    /// (pktgen keeps its own) and returns one that is ours alone: `ptr`
    /// itself if ours was its only reference, else a clone (sharing the
    /// data, not the `sk_buff` with its list links). `None` if cloning
    /// failed; `ptr` is freed then.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid skb of which the caller owns one reference.
    pub(crate) unsafe fn from_xmit(ptr: *mut bindings::sk_buff) -> Option<Self> {
        // SAFETY: the caller owns a reference, which `skb_share_check`
        // consumes; xmit runs with bottom halves off: GFP_ATOMIC.
        let ptr = unsafe { xtun_skb_share_check(ptr, bindings::GFP_ATOMIC) };
        // SAFETY: `skb_share_check` returned null, `ptr` with `users == 1`,
        // or a fresh clone (`users == 1`): either way the only reference.
        unsafe { Skb::from_raw(ptr) }.map(Self)
    }

    /// The tx queue the core picked for the frame (`skb->queue_mapping`).
    pub(crate) fn queue_mapping(&self) -> usize {
        // SAFETY: the skb is valid by the invariants of `Skb`.
        usize::from(unsafe { xtun_skb_queue_mapping(self.0.ptr.as_ptr()) })
    }

    /// The frame, still tied to its sender, for a driver that transmits it
    /// right away (the tunnel): the socket keeps its send budget until the
    /// underlay sends it, as through vxlan. A drop from now on is a plain
    /// drop.
    pub(crate) fn into_skb(self) -> Skb {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again: the `Skb` moves out.
        unsafe { core::ptr::read(&this.0) }
    }

    /// Cuts the frame's ties to its sender, as tun's xmit does: copies
    /// zerocopy pages (so the sender's completion does not wait for our
    /// reader), takes the software TX timestamp, orphans it (the socket's
    /// send budget is released) and drops its conntrack reference. Fails
    /// with `ENOMEM` (the frame dropped) if the pages cannot be copied.
    pub(crate) fn detach(self) -> Result<Skb> {
        let ptr = self.0.ptr.as_ptr();
        // SAFETY: `ptr` is valid and ours alone by the invariants of `Skb`;
        // xmit runs with bottom halves off, where GFP_ATOMIC is allowed.
        if unsafe { xtun_skb_orphan_frags_rx(ptr, bindings::GFP_ATOMIC) } != 0 {
            return Err(ENOMEM); // `self` is dropped: the sender hears of it.
        }
        // SAFETY: as above; the stamp goes to the socket, still attached.
        unsafe {
            xtun_skb_tx_timestamp(ptr);
            xtun_skb_orphan(ptr);
            xtun_nf_reset_ct(ptr);
        }
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again: the `Skb` moves out.
        Ok(unsafe { core::ptr::read(&this.0) })
    }
}

impl Drop for TxSkb {
    fn drop(&mut self) {
        // SAFETY: the skb is valid and ours; the field's `Drop` frees it next.
        unsafe { bindings::skb_tx_error(self.0.ptr.as_ptr()) };
    }
}

/// A FIFO of skbs: the kernel's `sk_buff_head`, whose own lock is taken with
/// bottom halves off (as tun's ptr_ring: interrupts stay on), from xmit
/// ([`BhOff`]) and from process context ([`Process`]).
///
/// # Invariants
///
/// `head` is initialised and holds only skbs owned by this queue.
#[pin_data(PinnedDrop)]
pub(crate) struct SkbQueue {
    #[pin]
    head: Opaque<bindings::sk_buff_head>,
}

// SAFETY: every access to the list goes through the queue's own spinlock.
unsafe impl Send for SkbQueue {}
// SAFETY: as above.
unsafe impl Sync for SkbQueue {}

impl SkbQueue {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes and pinned; the init function
            // initialises the list and its lock.
            head <- Opaque::ffi_init(|slot| unsafe { xtun_skb_queue_init(slot) }),
        })
    }

    /// Number of queued frames (a snapshot: other CPUs may change it).
    pub(crate) fn len(&self) -> usize {
        // SAFETY: `head` is initialised by the type invariants.
        unsafe { xtun_skb_queue_len(self.head.get()) as usize }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `skb` unless `limit` skbs are queued already (checked under
    /// the queue's lock, so concurrent xmits cannot overshoot); a full
    /// queue hands the skb back.
    pub(crate) fn push_bounded(&self, skb: Skb, limit: usize, _ctx: &BhOff) -> Result<(), Skb> {
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        let ptr = skb.ptr;
        // SAFETY: `head` is initialised; the skb is ours alone, and
        // `into_raw` leaves freeing it to the queue if it is queued; bottom
        // halves are off (`_ctx`), as the plain lock needs.
        if unsafe { xtun_skb_queue_tail_bounded(self.head.get(), skb.into_raw(), limit) } {
            Ok(())
        } else {
            // INVARIANT: not queued, so we still hold the only reference.
            Err(Skb { ptr })
        }
    }

    /// Takes the first frame, from a softirq or with bottom halves off.
    pub(crate) fn pop_bh_off(&self, _ctx: &BhOff) -> Option<Skb> {
        // SAFETY: `head` is initialised; a dequeued skb is owned by the
        // caller; bottom halves are off (`_ctx`), as the plain lock needs.
        unsafe { Skb::from_raw(xtun_skb_dequeue_nobh(self.head.get())) }
    }

    pub(crate) fn pop(&self, _ctx: &Process) -> Option<Skb> {
        // SAFETY: `head` is initialised; a dequeued skb is owned by the
        // caller; process context (`_ctx`) may turn bottom halves off.
        unsafe { Skb::from_raw(xtun_skb_dequeue_bh(self.head.get())) }
    }
}

#[pinned_drop]
impl PinnedDrop for SkbQueue {
    fn drop(self: Pin<&mut Self>) {
        // `Pin<&mut Self>`: nobody else can reach the queue any more, so
        // the lock is uncontended (its irqsave variant is fine for lockdep).
        // SAFETY: `head` is initialised; a dequeued skb is ours.
        while let Some(skb) = unsafe { Skb::from_raw(bindings::skb_dequeue(self.head.get())) } {
            drop(skb);
        }
    }
}
