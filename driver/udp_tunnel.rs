// SPDX-License-Identifier: GPL-2.0

//! The kernel's UDP tunnel API for the tunnel mode: a kernel UDP socket
//! whose datagrams come to a Rust receiver in softirq context
//! (`setup_udp_tunnel_sock`'s `encap_rcv`), encapsulated transmission
//! (`udp_tunnel_xmit_skb`) through static peers' route caches (`dst_cache`),
//! GRO cells for delivery, a periodic work item and an RCU-published box.
//!
//! C headers: [`include/net/udp_tunnel.h`](srctree/include/net/udp_tunnel.h),
//! [`include/net/gro_cells.h`](srctree/include/net/gro_cells.h),
//! [`include/net/dst_cache.h`](srctree/include/net/dst_cache.h). The C
//! sequences are in `xtun_udp.c`, which copies vxlan's.

use core::{marker::PhantomData, ptr::NonNull};
use kernel::{
    error::{from_err_ptr, to_result},
    bindings,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Release},
        Arc,
    },
    types::ForeignOwnable,
};

use crate::context::{BhOff, Process};
use crate::netdev::NetDev;
use crate::skb::Skb;

/// `struct xtun_udp_sock`, `struct dst_cache`, `struct gro_cells`,
/// `struct xtun_work`: only ever behind pointers.
#[repr(C)]
struct CSock([u8; 0]);
#[repr(C)]
struct CDstCache([u8; 0]);
#[repr(C)]
struct CGroCells([u8; 0]);
#[repr(C)]
struct CWork([u8; 0]);

type RcvFn = unsafe extern "C" fn(*const c_void, *mut bindings::sk_buff) -> c_int;

extern "C" {
    fn xtun_udp_sock_open(
        dev: *mut bindings::net_device,
        local: u32,
        port: u16,
        rcv: RcvFn,
        data: *const c_void,
    ) -> *mut CSock;
    fn xtun_udp_sock_port(sock: *const CSock) -> u16;
    fn xtun_udp_sock_close(sock: *mut CSock);
    fn xtun_skb_outer4(skb: *const bindings::sk_buff, saddr: *mut u32, sport: *mut u16);
    fn xtun_skb_data(skb: *const bindings::sk_buff) -> *const u8;
    fn xtun_udp_decap(skb: *mut bindings::sk_buff, dev: *mut bindings::net_device, hdr_len: c_uint) -> c_int;
    fn xtun_udp_xmit(
        sock: *mut CSock,
        dev: *mut bindings::net_device,
        skb: *mut bindings::sk_buff,
        cache: *mut CDstCache,
        daddr: u32,
        sport: u16,
        dport: u16,
        hdr: *const u8,
        hdr_len: c_uint,
        overhead: c_uint,
        seal: Option<SealFn>,
        seal_ctx: *const c_void,
    ) -> c_int;
    fn xtun_udp_send_raw(
        sock: *mut CSock,
        dev: *mut bindings::net_device,
        cache: *mut CDstCache,
        daddr: u32,
        sport: u16,
        dport: u16,
        hdr: *const u8,
        hdr_len: c_uint,
        seal: Option<SealFn>,
        seal_ctx: *const c_void,
    ) -> c_int;
    fn xtun_dst_cache_reset(cache: *mut CDstCache);
    fn xtun_dst_cache_new() -> *mut CDstCache;
    fn xtun_dst_cache_free(cache: *mut CDstCache);
    fn xtun_gro_cells_new(dev: *mut bindings::net_device) -> *mut CGroCells;
    fn xtun_gro_cells_free(cells: *mut CGroCells);
    fn xtun_gro_cells_receive(cells: *mut CGroCells, skb: *mut bindings::sk_buff);
    fn xtun_dev_set_tunnel_features(dev: *mut bindings::net_device, headroom: c_uint, tailroom: c_uint, secure: bool);
    fn xtun_dev_set_mtu(dev: *mut bindings::net_device, mtu: c_uint) -> c_int;
    fn xtun_work_new(f: unsafe extern "C" fn(*const c_void), data: *const c_void) -> *mut CWork;
    fn xtun_work_schedule(work: *mut CWork, delay_ms: c_ulong);
    fn xtun_work_cancel(work: *mut CWork);
    fn xtun_work_free(work: *mut CWork);
    fn xtun_jiffies_ms() -> u64;
    fn xtun_random_u32() -> u32;
    fn xtun_jhash_3words(a: u32, b: u32, c: u32, initval: u32) -> u32;
    fn synchronize_net();
}

type SealFn = unsafe extern "C" fn(ctx: *const c_void, skb: *mut bindings::sk_buff) -> c_int;

/// Encrypts a datagram in place once its header is in front (secure
/// mode): the shim calls it with the skb's data at the header.
pub(crate) trait Sealer {
    fn seal(&self, skb: &mut Skb) -> Result;
}

/// How a frame is encapsulated after the UDP header.
pub(crate) enum Encap<'a> {
    /// The 8-byte VXLAN-format header, in clear.
    Vxlan(&'a [u8; 8]),
    /// `header`, then the frame encrypted by the sealer.
    Sealed { header: &'a [u8], sealer: &'a dyn Sealer },
}

impl Encap<'_> {
    /// The header, and the shim's callback and its context (a pointer to
    /// the `&dyn Sealer`, which lives as long as `self`).
    fn parts(&self) -> (&[u8], Option<SealFn>, *const c_void) {
        match self {
            Encap::Vxlan(h) => (&h[..], None, core::ptr::null()),
            Encap::Sealed { header, sealer } => {
                (header, Some(seal_callback), (sealer as *const &dyn Sealer).cast())
            }
        }
    }
}

/// # Safety
///
/// `ctx` is the `*const &dyn Sealer` of a live [`Encap::Sealed`]; `skb` is
/// a valid skb the caller owns for the call and does not share.
unsafe extern "C" fn seal_callback(ctx: *const c_void, skb: *mut bindings::sk_buff) -> c_int {
    // SAFETY: by the function's contract.
    let sealer: &dyn Sealer = unsafe { *ctx.cast::<&dyn Sealer>() };
    // SAFETY: the caller's skb, lent for the call: ManuallyDrop keeps it
    // from being freed here.
    let Some(skb) = (unsafe { Skb::from_raw(skb) }) else { return EINVAL.to_errno() };
    let mut skb = core::mem::ManuallyDrop::new(skb);
    match sealer.seal(&mut skb) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Milliseconds on the kernel's jiffies clock (monotonic, `HZ` resolution).
pub(crate) fn now_ms() -> u64 {
    // SAFETY: no precondition.
    unsafe { xtun_jiffies_ms() }
}

/// A random 32-bit number (`get_random_u32`).
pub(crate) fn random_u32() -> u32 {
    // SAFETY: no precondition.
    unsafe { xtun_random_u32() }
}

/// The kernel's `jhash_3words`: a keyed hash for table shards.
pub(crate) fn jhash3(a: u32, b: u32, c: u32, seed: u32) -> u32 {
    // SAFETY: a pure function.
    unsafe { xtun_jhash_3words(a, b, c, seed) }
}

/// An IPv4 UDP endpoint: the address in network order, the port in host order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct Endpoint {
    pub(crate) addr: [u8; 4],
    pub(crate) port: u16,
}

/// What receives a tunnel socket's datagrams.
pub(crate) trait Receiver: Send + Sync + 'static {
    /// A datagram for the socket, in softirq context; the receiver owns it.
    fn receive(&self, dgram: Datagram, ctx: &BhOff);
}

/// A datagram that came to a tunnel socket: UDP checksum verified,
/// `skb->data` at the UDP header.
pub(crate) struct Datagram {
    skb: Skb,
}

/// Length of the UDP header and the 8-byte VXLAN-format header after it.
pub(crate) const ENCAP_HLEN: usize = 16;

impl Datagram {
    /// Its outer source: IPv4 address and UDP port.
    pub(crate) fn source(&self) -> Endpoint {
        let (mut addr, mut port) = (0u32, 0u16);
        // SAFETY: the skb is an IPv4 UDP datagram from encap_rcv: its IP
        // and UDP headers are set and linear.
        unsafe { xtun_skb_outer4(self.skb.as_raw(), &mut addr, &mut port) };
        Endpoint { addr: addr.to_ne_bytes(), port: u16::from_be(port) }
    }

    /// The UDP header and the 8 bytes after it, or `None` if the datagram
    /// is shorter.
    pub(crate) fn header(&mut self) -> Option<[u8; ENCAP_HLEN]> {
        self.skb.head::<ENCAP_HLEN>()
    }

    /// Its first `N` bytes (the UDP header first), or `None` if shorter.
    pub(crate) fn head<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.skb.head::<N>()
    }

    /// The datagram's buffer, `data` at the UDP header (to open in place).
    pub(crate) fn skb_mut(&mut self) -> &mut Skb {
        &mut self.skb
    }

    /// Its length from the UDP header on.
    pub(crate) fn len(&self) -> usize {
        self.skb.len()
    }

    /// Strips the outer headers (nothing to scrub: the socket lives in the
    /// device's namespace) and makes the inner Ethernet frame `dev`'s, its
    /// protocol and network
    /// header set. Returns the frame with its Ethernet header, or `None`
    /// (the datagram dropped) if no whole frame is inside.
    /// `hdr_len`: the bytes after the UDP header that go too.
    pub(crate) fn decapsulate(self, dev: &NetDev, hdr_len: usize) -> Option<(Skb, [u8; 14])> {
        // SAFETY: the skb is ours, an encap_rcv datagram; the shim checks
        // its length; `dev` is live.
        if unsafe { xtun_udp_decap(self.skb.as_raw(), dev.as_raw(), hdr_len as c_uint) } != 0 {
            return None;
        }
        let mut eth = [0u8; 14];
        // SAFETY: `xtun_udp_decap` pulled the Ethernet header linear just
        // before `data` (eth_type_trans moved past it).
        unsafe {
            core::ptr::copy_nonoverlapping(xtun_skb_data(self.skb.as_raw()).sub(14), eth.as_mut_ptr(), 14)
        };
        Some((self.skb, eth))
    }

    /// Drops the datagram (freed, counted by the caller).
    pub(crate) fn drop_it(self) {}

    /// Frees a datagram that served its purpose (a keepalive).
    pub(crate) fn consume(self) {
        self.skb.consume();
    }
}

/// A kernel UDP socket with a [`Receiver`] (`udp_sock_create` +
/// `setup_udp_tunnel_sock`), in the namespace of the device it was opened
/// for. Closing (drop, in process context) unpublishes the receiver, waits
/// for those running (`synchronize_net`) and releases the socket.
///
/// # Invariants
///
/// `raw` is an open socket from `xtun_udp_sock_open` whose user data is
/// `data` (an `Arc<T>` turned foreign), both ours until drop.
pub(crate) struct TunnelSocket<T: Receiver> {
    raw: NonNull<CSock>,
    data: *mut c_void,
    _t: PhantomData<T>,
}


// SAFETY: the socket may be used and closed from any thread; `T` is Send + Sync.
unsafe impl<T: Receiver> Send for TunnelSocket<T> {}
// SAFETY: transmission through `&self` is safe from any CPU.
unsafe impl<T: Receiver> Sync for TunnelSocket<T> {}

unsafe extern "C" fn rcv_callback<T: Receiver>(data: *const c_void, skb: *mut bindings::sk_buff) -> c_int {
    // SAFETY: encap_rcv runs in softirq context (bottom halves off).
    let ctx = unsafe { BhOff::new() };
    // SAFETY: `data` is the `Arc<T>` the socket holds until it is closed,
    // which waits for this callback (`synchronize_net`).
    let receiver = unsafe { <Arc<T> as ForeignOwnable>::borrow(data.cast_mut()) };
    // SAFETY: encap_rcv hands us its skb, ours alone, which we consume
    // (return 0).
    let Some(skb) = (unsafe { Skb::from_raw(skb) }) else { return 0 };
    receiver.receive(Datagram { skb }, &ctx);
    0
}

impl<T: Receiver> TunnelSocket<T> {
    /// Opens a socket in `dev`'s namespace on `local`:`port` (port 0
    /// picks a free one), whose datagrams go to `receiver`.
    pub(crate) fn open(dev: &NetDev, local: [u8; 4], port: u16, receiver: Arc<T>, ctx: &Process) -> Result<Self> {
        ctx.might_sleep();
        let data = receiver.into_foreign();
        // SAFETY: `dev` is live; process context (`ctx`); `data` lives
        // until the socket is closed (we take it back then).
        let raw = unsafe {
            xtun_udp_sock_open(dev.as_raw(), u32::from_ne_bytes(local), port.to_be(), rcv_callback::<T>, data)
        };
        match from_err_ptr(raw).and_then(|raw| NonNull::new(raw).ok_or(ENOMEM)) {
            // INVARIANT: open, with `data` as its receiver.
            Ok(raw) => Ok(Self { raw, data, _t: PhantomData }),
            Err(e) => {
                // SAFETY: not published anywhere: ours to take back.
                drop(unsafe { <Arc<T> as ForeignOwnable>::from_foreign(data) });
                Err(e)
            }
        }
    }

    /// The port the socket is bound to (host order).
    pub(crate) fn port(&self) -> u16 {
        // SAFETY: open by the type invariants.
        unsafe { xtun_udp_sock_port(self.raw.as_ptr()) }
    }

    /// Encapsulates the Ethernet frame `skb` of `dev` as `encap` says and
    /// sends it from `sport` to `to`, routed through the cache `route` (or
    /// a fresh lookup without one); `overhead` is what encapsulation adds,
    /// for the path MTU check. Fails (the frame dropped) with the route
    /// lookup's, allocation's or sealer's error.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send(
        &self,
        dev: &NetDev,
        skb: Skb,
        route: Option<&Route>,
        sport: u16,
        to: Endpoint,
        encap: &Encap<'_>,
        overhead: u32,
        _ctx: &BhOff,
    ) -> Result<Sent> {
        let (cache, daddr, sport, dport) = wire_args(route, sport, to);
        let (header, seal, seal_ctx) = encap.parts();
        // SAFETY: the socket is open (type invariants), `dev` live, the skb
        // ours (taken), `route` live, `seal_ctx` as `seal_callback` wants
        // for the call; bottom halves are off, as transmission wants.
        let ret = unsafe {
            xtun_udp_xmit(
                self.raw.as_ptr(),
                dev.as_raw(),
                skb.into_raw(),
                cache,
                daddr,
                sport,
                dport,
                header.as_ptr(),
                header.len() as c_uint,
                overhead,
                seal,
                seal_ctx,
            )
        };
        to_result(ret)?;
        Ok(if ret > 0 { Sent::TooBig } else { Sent::OnWire })
    }

    /// Sends a datagram holding only the header (a keepalive), sealed if
    /// `encap` says so.
    pub(crate) fn send_bare(
        &self,
        dev: &NetDev,
        route: Option<&Route>,
        sport: u16,
        to: Endpoint,
        encap: &Encap<'_>,
        _ctx: &BhOff,
    ) -> Result {
        let (cache, daddr, sport, dport) = wire_args(route, sport, to);
        let (header, seal, seal_ctx) = encap.parts();
        // SAFETY: as `send`, without a frame.
        to_result(unsafe {
            xtun_udp_send_raw(
                self.raw.as_ptr(),
                dev.as_raw(),
                cache,
                daddr,
                sport,
                dport,
                header.as_ptr(),
                header.len() as c_uint,
                seal,
                seal_ctx,
            )
        })
    }
}

/// What became of a frame [`TunnelSocket::send`] took.
pub(crate) enum Sent {
    /// Encapsulated and handed to the underlay.
    OnWire,
    /// Too big for the path with DF set: the ICMP error went back up the
    /// device to the sender (vxlan's PMTU bypass), nothing was sent.
    TooBig,
}

/// The route cache (or null), destination address and the ports as the
/// shim's senders take them: network byte order.
fn wire_args(route: Option<&Route>, sport: u16, to: Endpoint) -> (*mut CDstCache, u32, u16, u16) {
    let cache = route.map_or(core::ptr::null_mut(), |r| r.raw.as_ptr());
    (cache, u32::from_ne_bytes(to.addr), sport.to_be(), to.port.to_be())
}

impl<T: Receiver> Drop for TunnelSocket<T> {
    fn drop(&mut self) {
        kernel::task::might_sleep();
        // SAFETY: open by the type invariants; closing waits for running
        // receivers, after which nothing uses `data`.
        unsafe {
            xtun_udp_sock_close(self.raw.as_ptr());
            drop(<Arc<T> as ForeignOwnable>::from_foreign(self.data));
        }
    }
}

/// A peer's route cache (`struct dst_cache`), freed on drop.
///
/// # Invariants
///
/// `raw` is an initialised cache we own.
pub(crate) struct Route {
    raw: NonNull<CDstCache>,
}

// SAFETY: a dst_cache is per-CPU and used with bottom halves off from any CPU.
unsafe impl Send for Route {}
// SAFETY: as above.
unsafe impl Sync for Route {}

impl Route {
    pub(crate) fn new(_ctx: &Process) -> Result<Self> {
        // SAFETY: process context: GFP_KERNEL.
        let raw = NonNull::new(unsafe { xtun_dst_cache_new() }).ok_or(ENOMEM)?;
        Ok(Self { raw })
    }

    /// Forgets the cached routes (the peer moved); safe against
    /// concurrent users (`dst_cache_reset` only stamps the cache).
    pub(crate) fn reset(&self) {
        // SAFETY: ours and initialised (type invariants).
        unsafe { xtun_dst_cache_reset(self.raw.as_ptr()) };
    }
}

impl Drop for Route {
    fn drop(&mut self) {
        // SAFETY: ours (type invariants); `dst_cache_destroy` may run in
        // any context (vxlan frees remotes' caches from RCU callbacks).
        unsafe { xtun_dst_cache_free(self.raw.as_ptr()) };
    }
}

/// GRO cells of a device (`gro_cells_init`): one NAPI context per CPU
/// that delivers decapsulated frames through GRO.
///
/// # Invariants
///
/// `raw` is initialised for `dev` and ours; it must be dropped before the
/// device is freed, in process context.
pub(crate) struct GroCells {
    raw: NonNull<CGroCells>,
}

// SAFETY: gro_cells are per-CPU and usable from any CPU with bottom halves off.
unsafe impl Send for GroCells {}
// SAFETY: as above.
unsafe impl Sync for GroCells {}

impl GroCells {
    pub(crate) fn new(dev: &NetDev, _ctx: &Process) -> Result<Self> {
        // SAFETY: `dev` is live; process context.
        let raw = NonNull::new(unsafe { xtun_gro_cells_new(dev.as_raw()) }).ok_or(ENOMEM)?;
        Ok(Self { raw })
    }

    /// Delivers a frame of the cells' device, its headers set, counting it.
    pub(crate) fn receive(&self, skb: Skb, _ctx: &BhOff) {
        // SAFETY: initialised (type invariants); the skb is ours and its
        // `dev` the cells' device; bottom halves are off.
        unsafe { xtun_gro_cells_receive(self.raw.as_ptr(), skb.into_raw()) };
    }
}

impl Drop for GroCells {
    fn drop(&mut self) {
        kernel::task::might_sleep();
        // SAFETY: ours; the holder drops it in process context before the
        // device goes (type invariants).
        unsafe { xtun_gro_cells_free(self.raw.as_ptr()) };
    }
}

/// Gives `dev` a tunnel device's features (vxlan's: checksum offload,
/// software GSO so TCP reaches xmit unsegmented; `secure`: WireGuard's,
/// without frag lists), `headroom` and `tailroom` (secure mode's tag), and
/// the MTU `mtu`.
pub(crate) fn make_tunnel_device(
    dev: &NetDev,
    headroom: usize,
    tailroom: usize,
    mtu: u32,
    secure: bool,
    _rtnl: &crate::netdev::Rtnl,
) -> Result {
    // SAFETY: `dev` is live; RTNL is held, as feature and MTU changes want.
    unsafe { xtun_dev_set_tunnel_features(dev.as_raw(), headroom as c_uint, tailroom as c_uint, secure) };
    // SAFETY: as above.
    to_result(unsafe { xtun_dev_set_mtu(dev.as_raw(), mtu) })
}

/// What a [`Periodic`] work item runs.
pub(crate) trait Tick: Send + Sync + 'static {
    /// Runs in process context; returns the delay until the next run, or
    /// `None` to stop.
    fn tick(&self, ctx: &Process) -> Option<u64>;
}

/// A work item (on `system_power_efficient_wq`) that calls its owner's
/// [`Tick::tick`] and rearms itself as told. Dropping it cancels and waits
/// for a running call (process context).
///
/// # Invariants
///
/// `raw` is ours, its data an `Arc<T>` (`data`) turned foreign, both
/// freed on drop after cancellation.
pub(crate) struct Periodic<T: Tick> {
    raw: NonNull<CWork>,
    data: *mut c_void,
    _t: PhantomData<T>,
}

// SAFETY: a work item may be scheduled and cancelled from any thread.
unsafe impl<T: Tick> Send for Periodic<T> {}
// SAFETY: as above.
unsafe impl<T: Tick> Sync for Periodic<T> {}

/// The work's self-rearm needs its own pointer: the C side passes `data`,
/// which is a `PeriodicData`.
struct PeriodicData<T> {
    owner: Arc<T>,
    raw: Atomic<*mut CWork>,
}

unsafe extern "C" fn tick_callback<T: Tick>(data: *const c_void) {
    // SAFETY: workqueue callbacks run in process context, no locks held.
    let ctx = unsafe { Process::new() };
    // SAFETY: `data` is the `KBox<PeriodicData<T>>` alive until the work is
    // cancelled and freed (drop), which waits for this call.
    let data = unsafe { <KBox<PeriodicData<T>> as ForeignOwnable>::borrow(data.cast_mut()) };
    if let Some(delay) = data.owner.tick(&ctx) {
        // SAFETY: the work is live (as above); `cancel_delayed_work_sync`
        // in drop stops a work that rearms itself.
        unsafe { xtun_work_schedule(data.raw.load(Acquire), delay as c_ulong) };
    }
}

impl<T: Tick> Periodic<T> {
    /// Makes the work and runs it first after `delay_ms`.
    pub(crate) fn start(owner: Arc<T>, delay_ms: u64, _ctx: &Process) -> Result<Self> {
        let data = KBox::new(PeriodicData { owner, raw: Atomic::new(core::ptr::null_mut()) }, GFP_KERNEL)?;
        let data = data.into_foreign();
        // SAFETY: `data` lives until drop, after the work is cancelled.
        let raw = unsafe { xtun_work_new(tick_callback::<T>, data) };
        let Some(raw) = NonNull::new(raw) else {
            // SAFETY: not published: ours to take back.
            drop(unsafe { <KBox<PeriodicData<T>> as ForeignOwnable>::from_foreign(data) });
            return Err(ENOMEM);
        };
        // SAFETY: `data` is ours until drop.
        unsafe { <KBox<PeriodicData<T>> as ForeignOwnable>::borrow(data) }.raw.store(raw.as_ptr(), Release);
        // SAFETY: the work is initialised.
        unsafe { xtun_work_schedule(raw.as_ptr(), delay_ms as c_ulong) };
        Ok(Self { raw, data, _t: PhantomData })
    }
}

impl<T: Tick> Drop for Periodic<T> {
    fn drop(&mut self) {
        kernel::task::might_sleep();
        // SAFETY: ours (type invariants): cancel waits for a running call
        // and keeps it from rearming; then nothing uses either.
        unsafe {
            xtun_work_cancel(self.raw.as_ptr());
            xtun_work_free(self.raw.as_ptr());
            drop(<KBox<PeriodicData<T>> as ForeignOwnable>::from_foreign(self.data));
        }
    }
}

/// A box published to readers with bottom halves off (an RCU read-side
/// section): readers borrow it for their section; replacing it waits a
/// grace period (`synchronize_net`) before the old one is handed back.
///
/// # Invariants
///
/// `ptr` is null or a `KBox<T>` turned foreign that we own.
pub(crate) struct RcuBox<T: Send + Sync> {
    ptr: Atomic<*mut c_void>,
    _t: PhantomData<T>,
}

impl<T: Send + Sync> RcuBox<T> {
    pub(crate) fn new() -> Self {
        Self { ptr: Atomic::new(core::ptr::null_mut()), _t: PhantomData }
    }

    /// The published value, for the reader's section.
    pub(crate) fn get<'a>(&'a self, _bh: &'a BhOff) -> Option<&'a T> {
        let ptr = self.ptr.load(Acquire);
        if ptr.is_null() {
            return None;
        }
        // SAFETY: a published box (type invariants); a replacement waits
        // for this read-side section (`_bh`) before freeing it.
        Some(unsafe { <KBox<T> as ForeignOwnable>::borrow(ptr) })
    }

    /// Whether a value is published (a snapshot).
    pub(crate) fn is_set(&self) -> bool {
        !self.ptr.load(Acquire).is_null()
    }

    /// Publishes `new`; returns the old value once no reader can see it.
    /// Callers serialise replacements (RTNL).
    pub(crate) fn replace(&self, new: Option<KBox<T>>, ctx: &Process) -> Option<KBox<T>> {
        let new = new.map_or(core::ptr::null_mut(), |b| b.into_foreign());
        let old = self.ptr.xchg(new, kernel::sync::atomic::Full);
        if old.is_null() {
            return None;
        }
        ctx.might_sleep();
        // SAFETY: no precondition beyond process context.
        unsafe { synchronize_net() };
        // SAFETY: unpublished and past a grace period: ours alone.
        Some(unsafe { <KBox<T> as ForeignOwnable>::from_foreign(old) })
    }
}

impl<T: Send + Sync> Drop for RcuBox<T> {
    fn drop(&mut self) {
        let ptr = *self.ptr.get_mut();
        if !ptr.is_null() {
            // SAFETY: ours; `&mut self`: no reader borrows it.
            drop(unsafe { <KBox<T> as ForeignOwnable>::from_foreign(ptr) });
        }
    }
}
