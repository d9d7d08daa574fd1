// SPDX-License-Identifier: GPL-2.0

//! A minimal Ethernet net device: allocation, registration, carrier, stats
//! and the `net_device_ops` callbacks, over the C shim (`xtun_shim.c`).
//!
//! C headers: [`include/linux/netdevice.h`](srctree/include/linux/netdevice.h),
//! [`include/linux/etherdevice.h`](srctree/include/linux/etherdevice.h).

use core::{marker::PhantomData, ptr::NonNull};
use kernel::{
    bindings,
    error::from_result,
    prelude::*,
    sync::Arc,
    types::ForeignOwnable,
};

use crate::skb::{Skb, TxSkb};

extern "C" {
    fn xtun_alloc_netdev(name: *const c_char, name_assign_type: u8) -> *mut bindings::net_device;
    fn xtun_driver_data(dev: *mut bindings::net_device) -> *mut *mut c_void;
    fn xtun_dev_tx_started(dev: *mut bindings::net_device);
    fn xtun_dev_mtu(dev: *const bindings::net_device) -> u32;
    fn xtun_dev_tx_queue_len(dev: *const bindings::net_device) -> u32;
    fn xtun_dev_running(dev: *const bindings::net_device) -> bool;
    fn xtun_stats_rx(dev: *mut bindings::net_device, len: u32);
    fn xtun_stats_rx_dropped(dev: *mut bindings::net_device);
    fn xtun_stats_tx(dev: *mut bindings::net_device, len: u32);
    fn xtun_stats_tx_dropped(dev: *mut bindings::net_device);
    fn xtun_receive_eth(skb: *mut bindings::sk_buff, dev: *mut bindings::net_device);
    fn register_netdev(dev: *mut bindings::net_device) -> c_int;
    fn unregister_netdev(dev: *mut bindings::net_device);
    fn free_netdev(dev: *mut bindings::net_device);
    fn netif_carrier_on(dev: *mut bindings::net_device);
    fn netif_carrier_off(dev: *mut bindings::net_device);
    fn synchronize_net();
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

/// `NETDEV_TX_OK` (`enum netdev_tx`, int-sized) from `include/linux/netdevice.h`.
const NETDEV_TX_OK: c_int = 0;

/// Ethernet header length (`ETH_HLEN`).
pub(crate) const ETH_HLEN: usize = 14;
/// An 802.1Q tag (`VLAN_HLEN`), which a frame may carry beyond the MTU.
pub(crate) const VLAN_HLEN: usize = 4;

/// A handle to an allocated net device.
///
/// # Invariants
///
/// `ptr` points to a `net_device` allocated by `xtun_alloc_netdev` that stays
/// allocated for as long as any `NetDev` naming it exists: only
/// [`Registration`] frees it, after every user of the driver data (which
/// holds the other `NetDev` copies) is gone.
#[derive(Clone, Copy)]
pub(crate) struct NetDev {
    ptr: NonNull<bindings::net_device>,
}

// SAFETY: the functions called through a `NetDev` may be called from any thread.
unsafe impl Send for NetDev {}
// SAFETY: as above; the net_device synchronises itself.
unsafe impl Sync for NetDev {}

impl NetDev {
    pub(crate) fn as_raw(&self) -> *mut bindings::net_device {
        self.ptr.as_ptr()
    }

    /// Whether the interface is administratively up (`netif_running`).
    pub(crate) fn is_running(&self) -> bool {
        // SAFETY: `ptr` is valid by the type invariants.
        unsafe { xtun_dev_running(self.as_raw()) }
    }

    pub(crate) fn mtu(&self) -> usize {
        // SAFETY: `ptr` is valid by the type invariants.
        unsafe { xtun_dev_mtu(self.as_raw()) as usize }
    }

    pub(crate) fn tx_queue_len(&self) -> usize {
        // SAFETY: `ptr` is valid by the type invariants.
        unsafe { xtun_dev_tx_queue_len(self.as_raw()) as usize }
    }

    pub(crate) fn set_carrier(&self, on: bool) {
        // SAFETY: `ptr` is valid by the type invariants; both functions may
        // be called in process context at any time.
        unsafe {
            if on {
                netif_carrier_on(self.as_raw())
            } else {
                netif_carrier_off(self.as_raw())
            }
        }
    }

    /// Notes that a frame was taken for transmission (`trans_start`): with
    /// `lltx` the core does not, and bonding's ARP monitor reads it.
    pub(crate) fn tx_started(&self) {
        // SAFETY: `ptr` is valid by the type invariants.
        unsafe { xtun_dev_tx_started(self.as_raw()) };
    }

    pub(crate) fn count_rx(&self, len: usize) {
        // SAFETY: `ptr` is valid by the type invariants.
        unsafe { xtun_stats_rx(self.as_raw(), len as u32) };
    }

    pub(crate) fn count_rx_dropped(&self) {
        // SAFETY: `ptr` is valid by the type invariants.
        unsafe { xtun_stats_rx_dropped(self.as_raw()) };
    }

    pub(crate) fn count_tx(&self, len: usize) {
        // SAFETY: `ptr` is valid by the type invariants.
        unsafe { xtun_stats_tx(self.as_raw(), len as u32) };
    }

    pub(crate) fn count_tx_dropped(&self) {
        // SAFETY: `ptr` is valid by the type invariants.
        unsafe { xtun_stats_tx_dropped(self.as_raw()) };
    }

    /// Hands an Ethernet frame to the stack as if it arrived on the wire:
    /// `eth_type_trans`, then `netif_receive_skb` in the caller's context with
    /// bottom halves disabled, as tun does. Whatever the stack then drops, it
    /// counts itself (core rx_dropped, protocol statistics).
    pub(crate) fn receive(&self, skb: Skb) {
        // SAFETY: `ptr` is valid; `netif_receive_skb` takes ownership of the
        // skb; the caller is a process (`write`), where bottom halves may be
        // disabled.
        unsafe { xtun_receive_eth(skb.into_raw(), self.as_raw()) };
    }
}

/// Waits until every xmit that started before the call has returned
/// (`synchronize_net`, an RCU grace period: `ndo_start_xmit` runs with
/// bottom halves off, a read-side critical section).
/// Sleeps: process context only.
pub(crate) fn wait_for_xmits() {
    // SAFETY: no precondition beyond a context that may sleep, which every
    // caller (release, ndo_stop) is.
    unsafe { synchronize_net() };
}

/// What a driver implements to back a net device.
pub(crate) trait NetDevOps: Send + Sync + Sized + 'static {
    /// `ndo_open`: the interface goes up.
    fn open(&self, dev: &NetDev) -> Result;
    /// `ndo_stop`: the interface goes down.
    fn stop(&self, dev: &NetDev);
    /// `ndo_start_xmit`: the stack sends `skb`; the driver owns it now.
    fn start_xmit(&self, dev: &NetDev, skb: TxSkb);
}

/// A registered net device whose driver data is an `Arc<T>`.
///
/// # Invariants
///
/// `dev` is registered; its driver data holds a reference from
/// `Arc::into_foreign` that is taken back exactly once in [`Drop`].
pub(crate) struct Registration<T: NetDevOps> {
    dev: NetDev,
    _data: PhantomData<Arc<T>>,
}

impl<T: NetDevOps> Registration<T> {
    /// Allocates and registers a device named `name`, named as `name_type`
    /// says; `new_data` builds the driver data, which may keep the device's
    /// handle.
    pub(crate) fn register(
        name: &'static CStr,
        name_type: NameType,
        new_data: impl FnOnce(NetDev) -> Result<Arc<T>>,
    ) -> Result<(Self, Arc<T>)> {
        // SAFETY: `name` is a static C string; the data slot is filled below
        // before the device is registered.
        let raw = unsafe { xtun_alloc_netdev(name.as_char_ptr(), name_type as u8) };
        // INVARIANT: the device stays allocated until this function frees it on
        // error or `Drop` frees it.
        let dev = NetDev { ptr: NonNull::new(raw).ok_or(ENOMEM)? };
        let data = match new_data(dev) {
            Ok(data) => data,
            Err(e) => {
                // SAFETY: the device was never registered and nothing uses it.
                unsafe { free_netdev(raw) };
                return Err(e);
            }
        };
        let foreign = data.clone().into_foreign();
        // SAFETY: the shim stored a `void *` slot as the device's private area;
        // the device is not registered yet, so no callback reads it concurrently.
        unsafe { *xtun_driver_data(raw) = foreign };
        // Carrier stays off until a program opens the character device.
        dev.set_carrier(false);
        // SAFETY: the device is fully set up.
        let ret = unsafe { register_netdev(raw) };
        if ret != 0 {
            // SAFETY: registration failed: no callback runs; we own both the
            // device and the reference stored in it.
            unsafe {
                drop(Arc::<T>::from_foreign(foreign));
                free_netdev(raw);
            }
            return Err(Error::from_errno(ret));
        }
        Ok((Self { dev, _data: PhantomData }, data))
    }
}

impl<T: NetDevOps> Drop for Registration<T> {
    fn drop(&mut self) {
        let raw = self.dev.as_raw();
        // SAFETY: registered by the type invariants. After this returns no
        // ndo callback runs any more, so the driver data can be released.
        unsafe { unregister_netdev(raw) };
        // SAFETY: the data was stored by `register` and is taken back once.
        drop(unsafe { Arc::<T>::from_foreign(*xtun_driver_data(raw)) });
        // SAFETY: unregistered above; the last `NetDev` users (the driver data
        // and the callers of this module) are gone.
        unsafe { free_netdev(raw) };
    }
}

/// Runs `f` with the driver data of `dev`.
///
/// # Safety
///
/// `dev` must be a device registered by [`Registration<T>`], inside one of
/// its `net_device_ops` callbacks.
unsafe fn with_data<T: NetDevOps, R>(
    dev: *mut bindings::net_device,
    f: impl FnOnce(&T, &NetDev) -> R,
) -> R {
    // SAFETY: the data was stored by `Registration::register` and is released
    // only after `unregister_netdev`, which waits for running callbacks.
    let data = unsafe { <Arc<T> as ForeignOwnable>::borrow(*xtun_driver_data(dev)) };
    // INVARIANT: the device is registered, so it stays allocated during the callback.
    let handle = NetDev {
        // SAFETY: the kernel passes a valid, non-null device to callbacks.
        ptr: unsafe { NonNull::new_unchecked(dev) },
    };
    f(&data, &handle)
}

/// # Safety
///
/// Only the shim's `net_device_ops` may call this, for a device registered by
/// [`Registration<T>`].
pub(crate) unsafe fn ndo_open_callback<T: NetDevOps>(dev: *mut bindings::net_device) -> c_int {
    from_result(|| {
        // SAFETY: guaranteed by the caller.
        unsafe { with_data::<T, _>(dev, |data, dev| data.open(dev))? };
        Ok(0)
    })
}

/// # Safety
///
/// As [`ndo_open_callback`].
pub(crate) unsafe fn ndo_stop_callback<T: NetDevOps>(dev: *mut bindings::net_device) -> c_int {
    // SAFETY: guaranteed by the caller.
    unsafe { with_data::<T, _>(dev, |data, dev| data.stop(dev)) };
    0
}

/// # Safety
///
/// As [`ndo_open_callback`]; `skb` is owned by the callee (`ndo_start_xmit`).
pub(crate) unsafe fn ndo_start_xmit_callback<T: NetDevOps>(
    skb: *mut bindings::sk_buff,
    dev: *mut bindings::net_device,
) -> c_int {
    // SAFETY: `ndo_start_xmit` hands us one reference to a valid skb; the
    // sender (pktgen) may hold another one.
    match unsafe { TxSkb::from_xmit(skb) } {
        // SAFETY: guaranteed by the caller.
        Some(skb) => unsafe { with_data::<T, _>(dev, |data, dev| data.start_xmit(dev, skb)) },
        // SAFETY: `dev` is valid (guaranteed by the caller).
        None => unsafe { xtun_stats_tx_dropped(dev) },
    }
    NETDEV_TX_OK
}

/// Exports the `net_device_ops` callbacks that the C shim's table names.
macro_rules! export_netdev_callbacks {
    ($t:ty) => {
        #[no_mangle]
        unsafe extern "C" fn xtun_ndo_open_callback(
            dev: *mut kernel::bindings::net_device,
        ) -> kernel::ffi::c_int {
            // SAFETY: called only through the shim's `net_device_ops`.
            unsafe { $crate::netdev::ndo_open_callback::<$t>(dev) }
        }

        #[no_mangle]
        unsafe extern "C" fn xtun_ndo_stop_callback(
            dev: *mut kernel::bindings::net_device,
        ) -> kernel::ffi::c_int {
            // SAFETY: called only through the shim's `net_device_ops`.
            unsafe { $crate::netdev::ndo_stop_callback::<$t>(dev) }
        }

        #[no_mangle]
        unsafe extern "C" fn xtun_ndo_start_xmit_callback(
            skb: *mut kernel::bindings::sk_buff,
            dev: *mut kernel::bindings::net_device,
        ) -> kernel::ffi::c_int {
            // SAFETY: called only through the shim's `net_device_ops`.
            unsafe { $crate::netdev::ndo_start_xmit_callback::<$t>(skb, dev) }
        }
    };
}
pub(crate) use export_netdev_callbacks;
