// SPDX-License-Identifier: GPL-2.0

//! A minimal Ethernet net device: allocation, registration, carrier, stats
//! and the `net_device_ops` callbacks, over the C shim (`xtun_shim.c`).
//!
//! C headers: [`include/linux/netdevice.h`](srctree/include/linux/netdevice.h),
//! [`include/linux/etherdevice.h`](srctree/include/linux/etherdevice.h).

use core::{any::TypeId, marker::PhantomData, ptr::NonNull};
use kernel::{
    bindings,
    error::{from_result, to_result},
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Full, Relaxed, Release},
        rcu, Arc, SetOnce,
    },
    types::{ForeignOwnable, Opaque},
};

use crate::context::{BhOff, Process};
use crate::skb::{Skb, TxSkb};

extern "C" {
    fn xtun_link_register(vt: *const LinkVTable) -> c_int;
    fn xtun_link_unregister();
    fn xtun_alloc_netdev(
        net: *mut bindings::net,
        name: *const c_char,
        name_assign_type: u8,
        queues: c_uint,
    ) -> *mut bindings::net_device;
    fn xtun_dev_num_tx_queues(dev: *const bindings::net_device) -> c_uint;
    fn xtun_dev_num_rx_queues(dev: *const bindings::net_device) -> c_uint;
    fn xtun_set_real_num_queues(dev: *mut bindings::net_device, queues: c_uint) -> c_int;
    fn xtun_dev_vtable(dev: *mut bindings::net_device) -> *const NetDevVTable;
    fn xtun_dev_name(dev: *const bindings::net_device) -> *const c_char;
    fn xtun_dev_hwaddr(dev: *const bindings::net_device, out: *mut u8);
    fn xtun_dev_set_hwaddr(dev: *mut bindings::net_device, family: u16, addr: *const u8) -> c_int;
    fn xtun_current_net_get() -> *mut bindings::net;
    fn xtun_init_net_get() -> *mut bindings::net;
    fn xtun_net_put(net: *mut bindings::net);
    fn xtun_maybe_get_net(net: *mut bindings::net) -> *mut bindings::net;
    fn xtun_dev_net(dev: *mut bindings::net_device) -> *mut bindings::net;
    fn xtun_dev_next(net: *mut bindings::net, ifindex: *mut c_ulong) -> *mut bindings::net_device;
    fn xtun_dev_ifindex(dev: *const bindings::net_device) -> c_int;
    fn xtun_dev_addr_is(dev: *const bindings::net_device, mac: *const u8) -> bool;
    fn __dev_get_by_index(net: *mut bindings::net, ifindex: c_int) -> *mut bindings::net_device;
    fn xtun_net_admin_capable(net: *mut bindings::net) -> bool;
    fn __dev_get_by_name(net: *mut bindings::net, name: *const c_char) -> *mut bindings::net_device;
    fn xtun_unregister(dev: *mut bindings::net_device);
    fn xtun_state_change(dev: *mut bindings::net_device);
    fn xtun_driver_data(dev: *mut bindings::net_device) -> *mut *mut c_void;
    fn xtun_dev_tx_started(dev: *mut bindings::net_device, queue: c_uint);
    fn xtun_dev_mtu(dev: *const bindings::net_device) -> u32;
    fn xtun_dev_tx_queue_len(dev: *const bindings::net_device) -> u32;
    fn xtun_dev_running(dev: *const bindings::net_device) -> bool;
    fn xtun_stats_rx(dev: *mut bindings::net_device, len: u32);
    fn xtun_stats_rx_dropped(dev: *mut bindings::net_device);
    fn xtun_stats_tx(dev: *mut bindings::net_device, len: u32);
    fn xtun_stats_tx_dropped(dev: *mut bindings::net_device);
    fn xtun_pskb_may_pull(skb: *mut bindings::sk_buff, len: c_uint) -> bool;
    fn xtun_eth_rx_headers(skb: *mut bindings::sk_buff, dev: *mut bindings::net_device);
    fn netif_receive_skb(skb: *mut bindings::sk_buff) -> c_int;
    fn register_netdevice(dev: *mut bindings::net_device) -> c_int;
    fn rtnl_lock();
    fn rtnl_unlock();
    fn free_netdev(dev: *mut bindings::net_device);
    fn netif_carrier_on(dev: *mut bindings::net_device);
    fn netif_carrier_off(dev: *mut bindings::net_device);
    fn synchronize_net();
    fn xtun_dev_hold(dev: *mut bindings::net_device, tracker: *mut *mut c_void);
    fn xtun_dev_put(dev: *mut bindings::net_device, tracker: *mut *mut c_void);
}

/// How a device got its name (`NET_NAME_*`, include/uapi/linux/netdevice.h),
/// shown in `/sys/class/net/NAME/name_assign_type`; udev renames only
/// devices the kernel enumerated.
#[derive(Clone, Copy)]
#[repr(u8)]
#[allow(dead_code)] // the kinds devices made on demand will use
pub(crate) enum NameType {
    /// Enumerated by the kernel from a template (`xtun%d`).
    Enum = 1,
    /// Chosen by the driver, the same on every boot (`lo`, `xtun`).
    Predictable = 2,
    /// Given by user space.
    User = 3,
}

/// What a driver decides about its device, applied before registration
/// (`struct xtun_dev_config` in the shim: the same layout).
#[repr(C)]
pub(crate) struct Config {
    /// `tx_queue_len`, the default bound of the driver's queue.
    pub(crate) tx_queue_len: u32,
    pub(crate) min_mtu: u32,
    pub(crate) max_mtu: u32,
    /// `NETIF_F_SG`: xmit may hand over scattered skbs.
    pub(crate) sg: bool,
    /// `NETIF_F_FRAGLIST`: xmit may hand over skbs with a frag list.
    pub(crate) fraglist: bool,
    /// The driver does its own xmit locking (`lltx`).
    pub(crate) lltx: bool,
    /// `IFF_NO_QUEUE`: no default qdisc.
    pub(crate) no_queue: bool,
    /// `IFF_LIVE_ADDR_CHANGE`: the MAC may change while up.
    pub(crate) live_addr_change: bool,
    /// `IFF_TX_SKB_SHARING`: xmit accepts an skb it may be handed again
    /// (pktgen `clone_skb`, `burst`).
    pub(crate) tx_skb_sharing: bool,
    /// A random locally administered MAC (`eth_hw_addr_random`).
    pub(crate) random_mac: bool,
}

/// `NETDEV_TX_OK` (`enum netdev_tx`, int-sized) from `include/linux/netdevice.h`.
const NETDEV_TX_OK: c_int = 0;
/// `NET_XMIT_DROP`: the skb was consumed and dropped; without a qdisc the
/// sender hears of it (`net_xmit_errno`: `ENOBUFS`), as from tun.
const NET_XMIT_DROP: c_int = 1;

/// What became of a frame handed to [`NetDevOps::start_xmit`].
pub(crate) enum Xmit {
    /// Taken for transmission.
    Sent,
    /// Dropped (and counted by the driver).
    Dropped,
}

/// Ethernet address length (`ETH_ALEN`).
pub(crate) const ETH_ALEN: usize = 6;
/// Ethernet header length (`ETH_HLEN`).
pub(crate) const ETH_HLEN: usize = 14;
/// The smallest and largest Ethernet MTU (`ETH_MIN_MTU`, `ETH_MAX_MTU`).
pub(crate) const ETH_MIN_MTU: u32 = 68;
pub(crate) const ETH_MAX_MTU: u32 = 0xffff;
/// An 802.1Q tag (`VLAN_HLEN`), which a frame may carry beyond the MTU.
pub(crate) const VLAN_HLEN: usize = 4;

/// A net device, only ever seen by reference: `&NetDev` inside a
/// `net_device_ops` callback (valid for that call), or through a [`DevRef`]
/// taken from a [`DevSlot`]. There is no way to keep one beyond either, so
/// no code can use a device after its unregistration has freed its state.
///
/// # Invariants
///
/// A `&NetDev` points to a `net_device` that is registered, or whose
/// unregistration waits for the code holding the reference (running
/// callbacks; `DevRef`s): its per-CPU stats and state are live.
#[repr(transparent)]
pub(crate) struct NetDev(Opaque<bindings::net_device>);

// SAFETY: the functions called through a `NetDev` may be called from any thread.
unsafe impl Send for NetDev {}
// SAFETY: as above; the net_device synchronises itself.
unsafe impl Sync for NetDev {}

impl NetDev {
    /// # Safety
    ///
    /// `ptr` must satisfy the type invariants for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::net_device) -> &'a NetDev {
        // SAFETY: `NetDev` is a transparent wrapper of `net_device`; validity
        // for `'a` is the caller's guarantee.
        unsafe { &*ptr.cast() }
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::net_device {
        self.0.get()
    }

    /// Whether `mac` is the device's address, read without RTNL (a rename
    /// of the address races harmlessly, as in vxlan's loop check).
    pub(crate) fn has_address(&self, mac: &[u8; ETH_ALEN]) -> bool {
        // SAFETY: the device is live; `mac` has `ETH_ALEN` bytes.
        unsafe { xtun_dev_addr_is(self.as_raw(), mac.as_ptr()) }
    }

    /// The interface index.
    pub(crate) fn ifindex(&self) -> i32 {
        // SAFETY: the device is live by the type invariants.
        unsafe { xtun_dev_ifindex(self.as_raw()) }
    }

    /// Whether the interface is administratively up (`netif_running`).
    pub(crate) fn is_running(&self) -> bool {
        // SAFETY: the device is live by the type invariants.
        unsafe { xtun_dev_running(self.as_raw()) }
    }

    /// The interface name (may change under a rename: hold RTNL to keep it).
    pub(crate) fn name<'a>(&'a self, _rtnl: &'a Rtnl) -> &'a CStr {
        // SAFETY: the device is live by the type invariants; `name` is a
        // NUL-terminated array, which renames (under RTNL) do not change
        // while `_rtnl` is borrowed.
        unsafe { CStr::from_char_ptr(xtun_dev_name(self.as_raw())) }
    }

    /// The MAC address.
    pub(crate) fn hwaddr(&self, _rtnl: &Rtnl) -> [u8; ETH_ALEN] {
        let mut mac = [0; ETH_ALEN];
        // SAFETY: the device is live; `mac` has room for `ETH_ALEN` bytes;
        // RTNL orders address changes.
        unsafe { xtun_dev_hwaddr(self.as_raw(), mac.as_mut_ptr()) };
        mac
    }

    /// Sets the MAC address as `SIOCSIFHWADDR` does; `family` must be the
    /// device type (`ARPHRD_ETHER`), else `EINVAL`.
    pub(crate) fn set_hwaddr(&self, family: u16, mac: &[u8; ETH_ALEN], _rtnl: &Rtnl) -> Result {
        // SAFETY: the device is live; RTNL is held, as the core wants.
        to_result(unsafe { xtun_dev_set_hwaddr(self.as_raw(), family, mac.as_ptr()) })
    }

    /// Tells user space (`ip monitor`) that the device's state changed, as
    /// tun does after an attach or an ownership change.
    pub(crate) fn notify_state_change(&self, _rtnl: &Rtnl) {
        // SAFETY: the device is live; RTNL is held, as the notifier wants.
        unsafe { xtun_state_change(self.as_raw()) };
    }

    pub(crate) fn mtu(&self) -> usize {
        // SAFETY: the device is live by the type invariants.
        unsafe { xtun_dev_mtu(self.as_raw()) as usize }
    }

    pub(crate) fn tx_queue_len(&self) -> usize {
        // SAFETY: the device is live by the type invariants.
        unsafe { xtun_dev_tx_queue_len(self.as_raw()) as usize }
    }

    pub(crate) fn set_carrier(&self, on: bool) {
        // SAFETY: the device is live by the type invariants; both functions
        // may be called at any time.
        unsafe {
            if on {
                netif_carrier_on(self.as_raw())
            } else {
                netif_carrier_off(self.as_raw())
            }
        }
    }

    /// Notes that a frame was taken for transmission on tx queue `queue`
    /// (`trans_start`): with `lltx` the core does not, and bonding's ARP
    /// monitor reads it.
    pub(crate) fn tx_started(&self, queue: usize) {
        // SAFETY: the device is live by the type invariants; the shim
        // ignores a queue index the device does not have.
        unsafe { xtun_dev_tx_started(self.as_raw(), queue as c_uint) };
    }

    /// Tells the core how many tx and rx queues are in use: it spreads
    /// frames over the tx ones (`netif_set_real_num_queues`). Fails for 0,
    /// more than the device was made with, or `ENOMEM` (queue kobjects);
    /// the device then keeps its count.
    pub(crate) fn set_real_queues(&self, queues: usize, _rtnl: &Rtnl) -> Result {
        let queues = c_uint::try_from(queues).map_err(|_| EINVAL)?;
        // SAFETY: the device is live; RTNL is held, as the core wants.
        to_result(unsafe { xtun_set_real_num_queues(self.as_raw(), queues) })
    }

    pub(crate) fn count_rx(&self, len: usize) {
        // SAFETY: the device is live by the type invariants.
        unsafe { xtun_stats_rx(self.as_raw(), len as u32) };
    }

    pub(crate) fn count_rx_dropped(&self) {
        // SAFETY: the device is live by the type invariants.
        unsafe { xtun_stats_rx_dropped(self.as_raw()) };
    }

    pub(crate) fn count_tx(&self, len: usize) {
        // SAFETY: the device is live by the type invariants.
        unsafe { xtun_stats_tx(self.as_raw(), len as u32) };
    }

    pub(crate) fn count_tx_dropped(&self) {
        // SAFETY: the device is live by the type invariants.
        unsafe { xtun_stats_tx_dropped(self.as_raw()) };
    }

    /// Sets a written Ethernet frame's headers as tun does (`eth_type_trans`,
    /// network header, probed transport header), ready for the stack or GRO.
    ///
    /// A frame without a whole Ethernet header in reach is dropped here,
    /// counted in rx_dropped, and fails with `EINVAL` (as tun_get_user):
    /// `eth_type_trans` would read past it, or `BUG()` on a short head.
    pub(crate) fn rx_headers(&self, skb: Skb) -> Result<Skb> {
        // SAFETY: the skb is ours; `pskb_may_pull` may reallocate its head
        // (GFP_ATOMIC), which is fine in any context we run in.
        if !unsafe { xtun_pskb_may_pull(skb.as_raw(), ETH_HLEN as c_uint) } {
            self.count_rx_dropped();
            // SAFETY: the skb is ours and nothing else references it.
            unsafe {
                bindings::sk_skb_reason_drop(
                    core::ptr::null(),
                    skb.into_raw(),
                    bindings::skb_drop_reason_SKB_DROP_REASON_PKT_TOO_SMALL,
                )
            };
            return Err(EINVAL);
        }
        // SAFETY: the device is live by the type invariants and the skb is
        // ours, with its Ethernet header linear (checked above).
        unsafe { xtun_eth_rx_headers(skb.as_raw(), self.as_raw()) };
        Ok(skb)
    }

    /// Hands an Ethernet frame, its headers set ([`NetDev::rx_headers`]),
    /// to the stack as if it arrived on the wire: `netif_receive_skb` in
    /// the caller's context with bottom halves off, as tun without NAPI: no
    /// backlog queue, no softirq hop. Whatever the stack then drops, it
    /// counts itself (core rx_dropped, protocol statistics).
    pub(crate) fn deliver(&self, skb: Skb, _ctx: &BhOff) {
        // SAFETY: the skb is ours until `netif_receive_skb` takes it, its
        // headers set for this device; bottom halves are off (`_ctx`).
        unsafe { netif_receive_skb(skb.into_raw()) };
    }
}

/// A counted, tracked reference (`netdev_hold`) to a device, taken from a [`DevSlot`]
/// while the device was registered. Unregistration waits for it
/// (`netdev_wait_allrefs`) before it frees the device's stats, so the
/// device stays live while this exists. Hold it briefly: `ip link del`
/// waits for it too.
///
/// # Invariants
///
/// `ptr` satisfies the invariants of [`NetDev`] and we own one reference,
/// taken with `tracker` (a `netdevice_tracker`, which may move: the
/// reference tracker keeps no pointer to it).
pub(crate) struct DevRef {
    ptr: NonNull<bindings::net_device>,
    tracker: *mut c_void,
}

impl core::ops::Deref for DevRef {
    type Target = NetDev;

    fn deref(&self) -> &NetDev {
        // SAFETY: live while we hold our reference, by the type invariants.
        unsafe { NetDev::from_raw(self.ptr.as_ptr()) }
    }
}

impl Drop for DevRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference, by the type invariants.
        unsafe { xtun_dev_put(self.ptr.as_ptr(), &mut self.tracker) };
    }
}

/// Where driver data finds its device outside the `net_device_ops`
/// callbacks (file operations). Only the registration ([`create`], `ip
/// link add`) fills it and `ndo_uninit` empties it: the registration claims
/// the slot once, for good (a second registration with the same slot
/// fails), fills it in the same RTNL section as `register_netdevice`, and
/// `ndo_uninit` empties that same slot (kept in the device's private area,
/// not asked of the driver again) before the
/// unregistration waits for [`DevRef`]s. So a `DevRef` can only be taken
/// while the device is registered, and is always waited for.
///
/// # Invariants
///
/// `dev` is null or a registered device whose `ndo_uninit` has not run;
/// once `claimed`, only the one registration that claimed it writes `dev`.
pub(crate) struct DevSlot {
    dev: Atomic<*mut bindings::net_device>,
    claimed: Atomic<bool>,
}

impl DevSlot {
    pub(crate) fn new() -> Self {
        Self { dev: Atomic::new(core::ptr::null_mut()), claimed: Atomic::new(false) }
    }

    /// Makes the slot a registration's, once: `EBUSY` if one already had it.
    fn claim(&self) -> Result {
        if self.claimed.xchg(true, Full) {
            return Err(EBUSY);
        }
        Ok(())
    }

    /// The device, if it is still registered.
    pub(crate) fn get(&self) -> Option<DevRef> {
        let _rcu = rcu::read_lock();
        let ptr = NonNull::new(self.dev.load(Acquire))?;
        let mut tracker = core::ptr::null_mut();
        // `ndo_uninit` empties the slot, and the unregistration waits a grace
        // period (dev.c `unregister_netdevice_many_notify`: `synchronize_net`
        // after the `ndo_uninit` loop) before it waits for references, so the
        // one we take now, inside an RCU read-side section, is waited for.
        // SAFETY: non-null, so registered by the type invariants and not yet
        // past that grace period; `tracker` is a valid slot for its tracker.
        unsafe { xtun_dev_hold(ptr.as_ptr(), &mut tracker) };
        // INVARIANT: we own the reference just taken, with `tracker`.
        Some(DevRef { ptr, tracker })
    }

    /// The device, if it is still registered, borrowed for a section with
    /// bottom halves off (a packet's way through the driver): no
    /// reference taken.
    pub(crate) fn borrow<'a>(&'a self, _bh: &'a BhOff) -> Option<&'a NetDev> {
        let ptr = self.dev.load(Acquire);
        if ptr.is_null() {
            return None;
        }
        // Non-null: `ndo_uninit` has not emptied the slot yet, and the
        // unregistration waits a grace period after it (see `get`) before it
        // frees anything.
        // SAFETY: BH off (`_bh`) is an RCU read-side section for 'a, so the
        // device stays live while the borrow does (above).
        let dev = unsafe { NetDev::from_raw(ptr) };
        Some(dev)
    }

    /// Whether the device is still registered (a snapshot).
    pub(crate) fn is_present(&self) -> bool {
        !self.dev.load(Relaxed).is_null()
    }

    fn set(&self, dev: &NetDev) {
        self.dev.store(dev.as_raw(), Release);
    }

    /// Empties the slot, from `ndo_uninit`. No grace period here: the
    /// unregistration waits one (`synchronize_net` after the `ndo_uninit`
    /// loop in `unregister_netdevice_many_notify`, dev.c) before it waits
    /// for references, so a `get` that saw the device has taken its
    /// reference by then; a batched unregister pays one, not one per device.
    fn clear(&self) {
        self.dev.store(core::ptr::null_mut(), Release);
    }
}

/// Waits until every xmit that started before the call has returned
/// (`synchronize_net`, an RCU grace period: `ndo_start_xmit` runs with
/// bottom halves off, a read-side critical section). Sleeps.
pub(crate) fn wait_for_xmits(ctx: &Process) {
    ctx.might_sleep();
    // SAFETY: no precondition beyond a context that may sleep (`ctx`).
    unsafe { synchronize_net() };
}

/// What a driver implements to back a net device.
pub(crate) trait NetDevOps: Send + Sync + Sized + 'static {
    /// Where the registration keeps the device for the driver's other users.
    /// Asked once, at registration; a slot serves one registration only.
    fn slot(&self) -> &DevSlot;
    /// `ndo_open`: the interface goes up.
    fn open(this: &Arc<Self>, dev: &NetDev, ctx: &Process) -> Result;
    /// `ndo_stop`: the interface goes down.
    fn stop(&self, dev: &NetDev, ctx: &Process);
    /// `ndo_start_xmit`: the stack sends `skb`; the driver owns it now.
    /// Bottom halves are off (no [`Process`]): nothing here may sleep.
    fn start_xmit(&self, dev: &NetDev, skb: TxSkb, ctx: &BhOff) -> Xmit;
    /// `ndo_uninit`: the device is going away; [`NetDevOps::slot`] is
    /// already empty, so waiters can see it.
    fn uninit(&self, rtnl: &Rtnl, ctx: &Process);
}

/// What a registered device's private area points to: the driver data and
/// the slot claimed for it.
///
/// # Invariants
///
/// `slot` points into `*data` (it was borrowed from it) and was claimed
/// by the registration that made this.
struct Bound<T> {
    data: Arc<T>,
    slot: NonNull<DevSlot>,
}

impl<T> Bound<T> {
    fn slot(&self) -> &DevSlot {
        // SAFETY: `slot` points into `*data`, which lives as long as `self`
        // (type invariants) and is never borrowed mutably (`Arc`).
        unsafe { self.slot.as_ref() }
    }
}

/// Proof that RTNL is held: the lock that orders every change to the set of
/// devices (create, find, delete). Neither `Send` nor `Sync`.
pub(crate) struct Rtnl(PhantomData<*mut ()>);

/// RTNL, taken by [`RtnlGuard::lock`] and released on drop.
pub(crate) struct RtnlGuard(Rtnl);

impl RtnlGuard {
    pub(crate) fn lock(ctx: &Process) -> Self {
        ctx.might_sleep();
        // SAFETY: process context (`ctx`); released in `drop`.
        unsafe { rtnl_lock() };
        Self(Rtnl(PhantomData))
    }
}

impl core::ops::Deref for RtnlGuard {
    type Target = Rtnl;

    fn deref(&self) -> &Rtnl {
        &self.0
    }
}

impl Drop for RtnlGuard {
    fn drop(&mut self) {
        // SAFETY: taken in `lock`. Unlocking runs the deferred half of any
        // unregistration we queued (`netdev_run_todo`), which waits for
        // `DevRef`s: none may be held across this (`delete` takes its own).
        unsafe { rtnl_unlock() };
    }
}

/// A counted reference to a network namespace (`get_net`/`put_net`).
///
/// # Invariants
///
/// `ptr` is a namespace of which we own one reference.
pub(crate) struct NetRef {
    ptr: NonNull<bindings::net>,
}

// SAFETY: a namespace reference may be used and dropped on any thread.
unsafe impl Send for NetRef {}
// SAFETY: `&NetRef` only reads the namespace.
unsafe impl Sync for NetRef {}

impl NetRef {
    /// The caller's network namespace (as tun: a file's devices live in
    /// the namespace of the process that opened it).
    pub(crate) fn current(_ctx: &Process) -> Self {
        // SAFETY: in process context `current` has an nsproxy.
        let ptr = unsafe { xtun_current_net_get() };
        // INVARIANT: `get_net` gave us a reference to a valid namespace.
        Self { ptr: NonNull::new(ptr).expect("a task's namespace is never null") }
    }

    /// The initial namespace.
    pub(crate) fn init() -> Self {
        // SAFETY: `init_net` lives forever; `get_net` counts our reference.
        let ptr = unsafe { xtun_init_net_get() };
        // INVARIANT: as above.
        Self { ptr: NonNull::new(ptr).expect("init_net is static") }
    }

    /// Takes over a reference the caller owns.
    ///
    /// # Safety
    ///
    /// `ptr` is a valid namespace of which the caller owns one reference,
    /// which passes to the result.
    pub(crate) unsafe fn from_counted(ptr: *mut bindings::net) -> Self {
        // INVARIANT: guaranteed by the caller.
        Self { ptr: NonNull::new(ptr).expect("a counted namespace is never null") }
    }

    /// The namespace of a live device, unless it is being dismantled (its
    /// count already 0: its devices go soon, our sockets hold no
    /// reference).
    pub(crate) fn of(dev: &NetDev) -> Option<Self> {
        // SAFETY: `dev` is live, so its namespace's memory is (it is freed
        // after its devices); `maybe_get_net` counts ours if still alive.
        let ptr = unsafe { xtun_maybe_get_net(xtun_dev_net(dev.as_raw())) };
        // INVARIANT: non-null means we own a reference.
        NonNull::new(ptr).map(|ptr| Self { ptr })
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::net {
        self.ptr.as_ptr()
    }

    /// Whether the caller has `CAP_NET_ADMIN` in the namespace's user
    /// namespace (what tun asks to create a device).
    pub(crate) fn admin_capable(&self) -> bool {
        // SAFETY: `ptr` is valid by the type invariants.
        unsafe { xtun_net_admin_capable(self.ptr.as_ptr()) }
    }
}

impl Drop for NetRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference, by the type invariants.
        unsafe { xtun_net_put(self.ptr.as_ptr()) };
    }
}

/// What a driver implements to make devices of its kind (`ip link add
/// NAME type KIND`, and [`create`]). One kind per module: the shim holds
/// one `rtnl_link_ops`, named after the module.
pub(crate) trait LinkOps: NetDevOps {
    /// How every device of the kind is set up.
    const CONFIG: Config;
    /// The data behind a device `ip link add` makes, with `queues` tx
    /// queues (1, or `numtxqueues`).
    fn new_link(rtnl: &Rtnl, queues: usize) -> Result<Arc<Self>>;
}

/// The registered kind (`rtnl_link_register`); dropping it deletes every
/// device of the kind, in every namespace (`rtnl_link_unregister`).
pub(crate) struct LinkRegistration<T: LinkOps>(PhantomData<T>);

/// The one type whose kind this module registered: every device of the kind
/// (made by `ip link add` or [`create`]) holds that type's data.
static KIND: SetOnce<TypeId> = SetOnce::new();

/// Whether `T` is the registered kind's type.
fn is_kind<T: 'static>() -> bool {
    KIND.as_ref() == Some(&TypeId::of::<T>())
}

impl<T: LinkOps> LinkRegistration<T> {
    /// Registers the kind; one per module: a second registration is `EBUSY`.
    pub(crate) fn register() -> Result<Self> {
        if !KIND.populate(TypeId::of::<T>()) {
            return Err(EBUSY);
        }
        // SAFETY: the vtable is a constant that lives forever.
        to_result(unsafe { xtun_link_register(&LinkVTableOf::<T>::OPS) })?;
        Ok(Self(PhantomData))
    }
}

impl<T: LinkOps> Drop for LinkRegistration<T> {
    fn drop(&mut self) {
        // SAFETY: registered in `register`. This unregisters every device
        // of the kind and waits until they are freed.
        unsafe { xtun_link_unregister() };
    }
}

/// Sets up `raw`, a device of `T`'s kind not yet registered, with `data`,
/// and registers it; on error the device is not registered (and `data`
/// is dropped), and the caller frees it.
///
/// # Safety
///
/// `raw` must be a device the shim allocated for `T`'s kind
/// (`xtun_alloc_netdev` or the core's `rtnl_create_link`), not registered.
unsafe fn setup_and_register<T: LinkOps>(raw: *mut bindings::net_device, data: Arc<T>, _rtnl: &Rtnl) -> Result {
    // The slot is asked for once: the one claimed is the one cleared.
    let slot = data.slot();
    slot.claim()?;
    let slot = NonNull::from(slot);
    // INVARIANT: `slot` was borrowed from `*data` and is now claimed.
    let bound = KBox::new(Bound { slot, data }, GFP_KERNEL)?;
    // SAFETY: allocated and not yet registered (caller); the shim's setup
    // applied `T::CONFIG`. The carrier stays off until a file attaches.
    unsafe { netif_carrier_off(raw) };
    // As tun: one queue in use until files attach more, so registration
    // does not make (and the first attach tear down) a kobject per queue.
    // SAFETY: not registered: the core only stores the count.
    to_result(unsafe { xtun_set_real_num_queues(raw, 1) })?;
    let foreign = bound.into_foreign();
    // SAFETY: the private area holds a `void *` for us; not registered yet,
    // so no callback reads it. `destruct_callback` takes it back, from the
    // core or from the error path below.
    unsafe { *xtun_driver_data(raw) = foreign };
    // SAFETY: set up above; RTNL is held (`_rtnl`).
    if let Err(e) = to_result(unsafe { register_netdevice(raw) }) {
        // Its early failures (an invalid or taken name) run no destructor,
        // its later ones do: take the data back if it is still there.
        // SAFETY: not registered, so no callback runs; the destructor
        // takes the data back at most once (it nulls the slot).
        unsafe { destruct_callback::<T>(raw) };
        return Err(e);
    }
    // SAFETY: `foreign` is in place until `destruct_callback`, which runs
    // only after an unregistration, which needs the RTNL we hold.
    let bound = unsafe { <KBox<Bound<T>> as ForeignOwnable>::borrow(foreign) };
    // SAFETY: registered just now, and `ndo_uninit` cannot run before we
    // release RTNL.
    // INVARIANT: the slot holds a registered device whose uninit is to come.
    bound.slot().set(unsafe { NetDev::from_raw(raw) });
    Ok(())
}

/// Creates and registers a device of `T`'s kind in `net`, named `name`
/// (a template such as `xtun%d` is expanded), with `queues` tx and rx
/// queues, backed by `data`. Fails as
/// `register_netdevice` does: `EINVAL` for an invalid name, `EEXIST` for
/// a name taken.
pub(crate) fn create<T: LinkOps>(
    rtnl: &Rtnl,
    net: &NetRef,
    name: &CStr,
    name_type: NameType,
    queues: usize,
    data: Arc<T>,
) -> Result {
    // Devices of the kind hold the registered type's data, and only that.
    if !is_kind::<T>() {
        return Err(EINVAL);
    }
    let queues = c_uint::try_from(queues).map_err(|_| EINVAL)?;
    // SAFETY: `net` is valid (type invariants) and `name` a C string.
    let raw = unsafe { xtun_alloc_netdev(net.ptr.as_ptr(), name.as_char_ptr(), name_type as u8, queues) };
    if raw.is_null() {
        return Err(ENOMEM);
    }
    // SAFETY: allocated by the shim for our kind, not registered.
    let ret = unsafe { setup_and_register::<T>(raw, data, rtnl) };
    if ret.is_err() {
        // SAFETY: not registered, and `setup_and_register` emptied the
        // private area on failure, so ours to free.
        unsafe { free_netdev(raw) };
    }
    ret
}

/// What [`find`] found under a name.
pub(crate) enum Found<T> {
    /// No device of that name in the namespace.
    Nothing,
    /// A device of `T`'s kind, and its data.
    Ours(Arc<T>),
    /// A device of another kind.
    Other,
}

/// Looks `name` up in `net`.
pub(crate) fn find<T: LinkOps>(_rtnl: &Rtnl, net: &NetRef, name: &CStr) -> Found<T> {
    // SAFETY: RTNL is held (`_rtnl`), as `__dev_get_by_name` requires.
    let raw = unsafe { __dev_get_by_name(net.ptr.as_ptr(), name.as_char_ptr()) };
    // SAFETY: null, or a listed device, live while we hold RTNL.
    unsafe { found_of::<T>(raw) }
}

/// Looks the device with index `ifindex` up in `net`.
pub(crate) fn find_by_index<T: LinkOps>(_rtnl: &Rtnl, net: &NetRef, ifindex: i32) -> Found<T> {
    // SAFETY: RTNL is held (`_rtnl`), as `__dev_get_by_index` requires.
    let raw = unsafe { __dev_get_by_index(net.ptr.as_ptr(), ifindex) };
    // SAFETY: null, or a listed device, live while we hold RTNL.
    unsafe { found_of::<T>(raw) }
}

/// The device of our kind in `net` with the lowest index at least `from`,
/// and its index, for dumps.
pub(crate) fn next_of_kind<T: LinkOps>(_rtnl: &Rtnl, net: &NetRef, from: i32) -> Option<(i32, Arc<T>)> {
    let mut index = c_ulong::try_from(from).unwrap_or(0);
    // SAFETY: RTNL is held; `index` is ours.
    let raw = unsafe { xtun_dev_next(net.ptr.as_ptr(), &mut index) };
    // SAFETY: null, or a listed device, live while we hold RTNL.
    match unsafe { found_of::<T>(raw) } {
        Found::Ours(data) => Some((index as i32, data)),
        _ => None,
    }
}

/// # Safety
///
/// `raw` is null or a listed device, live for the call (RTNL held).
unsafe fn found_of<T: LinkOps>(raw: *mut bindings::net_device) -> Found<T> {
    if raw.is_null() {
        return Found::Nothing;
    }
    // SAFETY: live, by the caller.
    if unsafe { xtun_dev_vtable(raw) }.is_null() || !is_kind::<T>() {
        return Found::Other;
    }
    // SAFETY: a registered device of `T`'s kind: its private area holds a
    // `Bound<T>` until `destruct_callback`, after an unregistration, which
    // needs the RTNL the caller holds.
    let bound = unsafe { <KBox<Bound<T>> as ForeignOwnable>::borrow(*xtun_driver_data(raw)) };
    Found::Ours(bound.data.clone())
}

/// Unregisters `dev` (as `ip link del`) unless it is being unregistered
/// already; the rest of its teardown runs when RTNL is released, and waits
/// for every `DevRef`: the caller must hold no other one then.
pub(crate) fn delete(_rtnl: &Rtnl, dev: DevRef) {
    // SAFETY: the device is live (`dev`); RTNL is held, and the shim
    // unregisters it only while it is still registered (as tun).
    unsafe { xtun_unregister(dev.as_raw()) };
    // Our reference goes before RTNL does: `netdev_run_todo` waits for it.
    drop(dev);
}

/// Runs `f` with the driver data of `dev`.
///
/// # Safety
///
/// `dev` must be a device set up by `setup_and_register::<T>`, inside one
/// of its `net_device_ops` callbacks (the driver data is in place before
/// `register_netdevice`).
unsafe fn with_data<T: NetDevOps, R>(
    dev: *mut bindings::net_device,
    f: impl FnOnce(&Arc<T>, &NetDev) -> R,
) -> R {
    // SAFETY: as `bound_of`, guaranteed by the caller.
    let bound = unsafe { bound_of::<T>(dev) };
    // SAFETY: (un)registration waits for this callback: the device is live
    // for its duration, and the borrow cannot outlive it.
    f(&bound.data, unsafe { NetDev::from_raw(dev) })
}

/// The private area of `dev`.
///
/// # Safety
///
/// As [`with_data`]; the result must not outlive the callback.
unsafe fn bound_of<'a, T: NetDevOps>(dev: *mut bindings::net_device) -> &'a Bound<T> {
    // SAFETY: the box was stored by `setup_and_register` and is taken back
    // by `destruct_callback` only once the device is unregistered and no
    // callback runs (or its registration failed).
    unsafe { <KBox<Bound<T>> as ForeignOwnable>::borrow(*xtun_driver_data(dev)) }
}

/// # Safety
///
/// Only [`VTable<T>`] may call this, for a device set up by
/// `setup_and_register::<T>`.
unsafe extern "C" fn ndo_open_callback<T: NetDevOps>(dev: *mut bindings::net_device) -> c_int {
    // SAFETY: `ndo_open` runs in process context, under RTNL (a mutex).
    let ctx = unsafe { Process::new() };
    from_result(|| {
        // SAFETY: guaranteed by the caller.
        unsafe { with_data::<T, _>(dev, |data, dev| T::open(data, dev, &ctx))? };
        Ok(0)
    })
}

/// # Safety
///
/// As [`ndo_open_callback`].
unsafe extern "C" fn ndo_stop_callback<T: NetDevOps>(dev: *mut bindings::net_device) -> c_int {
    // SAFETY: `ndo_stop` runs in process context, under RTNL (a mutex).
    let ctx = unsafe { Process::new() };
    // SAFETY: guaranteed by the caller.
    unsafe { with_data::<T, _>(dev, |data, dev| data.stop(dev, &ctx)) };
    0
}

/// # Safety
///
/// As [`ndo_open_callback`]; `skb` is owned by the callee (`ndo_start_xmit`).
unsafe extern "C" fn ndo_start_xmit_callback<T: NetDevOps>(
    skb: *mut bindings::sk_buff,
    dev: *mut bindings::net_device,
) -> c_int {
    // SAFETY: the core calls `ndo_start_xmit` with bottom halves off, never
    // from a hard interrupt; netpoll (netconsole) could, from its printer
    // thread with bottom halves on or at panic from any context, but the
    // shim's setup refuses netpoll on every device (`IFF_DISABLE_NETPOLL`).
    let ctx = unsafe { BhOff::new() };
    // SAFETY: `ndo_start_xmit` hands us one reference to a valid skb; the
    // sender (pktgen) may hold another one.
    let xmit = match unsafe { TxSkb::from_xmit(skb) } {
        // SAFETY: guaranteed by the caller.
        Some(skb) => unsafe { with_data::<T, _>(dev, |data, dev| data.start_xmit(dev, skb, &ctx)) },
        None => {
            // SAFETY: `dev` is valid (guaranteed by the caller).
            unsafe { xtun_stats_tx_dropped(dev) };
            Xmit::Dropped
        }
    };
    match xmit {
        Xmit::Sent => NETDEV_TX_OK,
        Xmit::Dropped => NET_XMIT_DROP,
    }
}

/// # Safety
///
/// As [`ndo_open_callback`].
unsafe extern "C" fn ndo_uninit_callback<T: NetDevOps>(dev: *mut bindings::net_device) {
    // SAFETY: `ndo_uninit` runs in process context, under RTNL (a mutex).
    let ctx = unsafe { Process::new() };
    // No `&NetDev` here: on `register_netdevice`'s error path the device's
    // per-CPU stats are already freed when `ndo_uninit` runs (dev.c
    // err_free_pcpu, then err_uninit).
    // SAFETY: guaranteed by the caller; `bound` does not outlive the call.
    let bound = unsafe { bound_of::<T>(dev) };
    bound.slot().clear();
    // `ndo_uninit` runs under RTNL.
    bound.data.uninit(&Rtnl(PhantomData), &ctx);
}

/// # Safety
///
/// As [`ndo_open_callback`], for `priv_destructor`: the device is
/// unregistered and unreferenced, or `register_netdevice` failed.
unsafe extern "C" fn destruct_callback<T: NetDevOps>(dev: *mut bindings::net_device) {
    // SAFETY: the private area is ours; no callback runs any more.
    let data = unsafe { &mut *xtun_driver_data(dev) };
    let foreign = core::mem::replace(data, core::ptr::null_mut());
    if !foreign.is_null() {
        // SAFETY: stored by `setup_and_register`, taken back once (nulled).
        drop(unsafe { KBox::<Bound<T>>::from_foreign(foreign) });
    }
}

/// # Safety
///
/// Only [`LinkVTable<T>`] may call this: `rtnl_newlink` with a device of
/// our kind the core allocated, under RTNL.
unsafe extern "C" fn newlink_callback<T: LinkOps>(dev: *mut bindings::net_device) -> c_int {
    let rtnl = Rtnl(PhantomData);
    from_result(|| {
        // SAFETY: a valid device (the caller).
        let (tx, rx) = unsafe { (xtun_dev_num_tx_queues(dev), xtun_dev_num_rx_queues(dev)) };
        // One queue is one file's, both ways (as tun's).
        if tx != rx {
            return Err(EINVAL);
        }
        let data = T::new_link(&rtnl, tx as usize)?;
        // SAFETY: allocated for our kind by `rtnl_create_link`, not yet
        // registered; the core frees it if we fail.
        unsafe { setup_and_register::<T>(dev, data, &rtnl)? };
        Ok(0)
    })
}

/// The shim's `struct xtun_netdev_vtable`: a device's callbacks.
#[repr(C)]
struct NetDevVTable {
    uninit: unsafe extern "C" fn(*mut bindings::net_device),
    open: unsafe extern "C" fn(*mut bindings::net_device) -> c_int,
    stop: unsafe extern "C" fn(*mut bindings::net_device) -> c_int,
    start_xmit: unsafe extern "C" fn(*mut bindings::sk_buff, *mut bindings::net_device) -> c_int,
    destruct: unsafe extern "C" fn(*mut bindings::net_device),
}

/// The shim's `struct xtun_link_vtable`: how the kind makes devices.
#[repr(C)]
struct LinkVTable {
    netdev: *const NetDevVTable,
    newlink: unsafe extern "C" fn(*mut bindings::net_device) -> c_int,
    config: *const Config,
}

// SAFETY: a table of constants.
unsafe impl Sync for LinkVTable {}

/// The link table for `T`, built at compile time.
struct LinkVTableOf<T>(PhantomData<T>);

/// The callbacks for devices backed by `T`, one table per type, built at
/// compile time; the shim's `net_device_ops` call through it.
struct VTable<T>(PhantomData<T>);

impl<T: NetDevOps> VTable<T> {
    const OPS: NetDevVTable = NetDevVTable {
        uninit: ndo_uninit_callback::<T>,
        open: ndo_open_callback::<T>,
        stop: ndo_stop_callback::<T>,
        start_xmit: ndo_start_xmit_callback::<T>,
        destruct: destruct_callback::<T>,
    };
}

impl<T: LinkOps> LinkVTableOf<T> {
    const OPS: LinkVTable =
        LinkVTable { netdev: &VTable::<T>::OPS, newlink: newlink_callback::<T>, config: &T::CONFIG };
}
