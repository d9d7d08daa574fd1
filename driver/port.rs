// SPDX-License-Identifier: GPL-2.0

//! The xtun port: one per net device, the state its device and the file
//! attached to it share, and the data path's policy. No `unsafe` here.
//! Files attach to ports (`file.rs`); the port does not know files.
//!
//! - xmit queues whole frames for the reader, bounded by `tx_queue_len`
//!   (default 500, exactly: the bound is checked under the queue's lock);
//!   a frame that finds the queue full, or no reader attached, is dropped,
//!   counted in tx_dropped and reported as `NET_XMIT_DROP` (as tun does):
//!   with no qdisc, its sender gets `ENOBUFS` (packet sockets; UDP and
//!   ping with `IP_RECVERR`).
//! - read returns one whole frame; a shorter buffer gets the frame's head,
//!   and the return value is still the frame's length (as tun).
//! - write injects one frame; a rejected write counts rx_dropped.
//! - one attached file at a time: a second gets `EBUSY` (as tun without
//!   IFF_MULTI_QUEUE); the carrier is on exactly while a file is attached.
//!   A port that is not persistent deletes its device when its file goes.
//! - while the interface is down (as tun): readers block (or get `EAGAIN`),
//!   write fails with `EIO`, poll reports neither `EPOLLOUT` nor `EPOLLERR`
//!   (which a level-triggered epoll loop could not mask); queued frames are
//!   dropped when it goes down.
//! - once the device is gone (`ip link del`, its namespace deleted, with
//!   the file still attached): read and write fail with `EBADFD` and poll
//!   reports `EPOLLERR`, as a detached tun file.

use kernel::{
    iov::{IovIterDest, IovIterSource},
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Full, Relaxed, Release},
        Arc,
    },
};

use crate::chardev::ebadfd;
use crate::context::{BhOff, Process};
use crate::netdev::{self, DevRef, DevSlot, LinkOps, NetDev, NetDevOps, Rtnl, Xmit, ETH_HLEN, VLAN_HLEN};
use crate::skb::{Skb, SkbQueue, TxSkb};
use crate::wait::{events::*, PollTable, WaitQueue};

/// The device a port backs.
pub(crate) const DEVICE: netdev::Config = netdev::Config {
    tx_queue_len: 500, // as tun's TUN_READQ_SIZE
    min_mtu: netdev::ETH_MIN_MTU,
    max_mtu: netdev::ETH_MAX_MTU - ETH_HLEN as u32, // as tun
    // As tun: read copies scattered frames whole; the queue has its own
    // lock, so xmit needs no tx lock.
    sg: true,
    fraglist: true,
    lltx: true,
    // As WireGuard/ovpn: xmit never stops, so a default qdisc would only cost.
    no_queue: true,
    live_addr_change: true,
    // As tun: the queue links skbs through their own list pointers (xmit
    // clones one it does not own alone, but pktgen should not ask).
    tx_skb_sharing: false,
    random_mac: true,
};

#[pin_data]
pub(crate) struct Port {
    /// The device, while it is registered.
    dev: DevSlot,
    /// Frames sent by the stack, waiting for `read`.
    #[pin]
    queue: SkbQueue,
    /// Readers and pollers waiting for a frame or for the link to go down.
    #[pin]
    readers: WaitQueue,
    /// Whether xmit queues frames for a reader: set by attach, cleared by
    /// detach before its grace period and purge.
    attached: Atomic<bool>,
    /// Whether a file holds the port: taken by attach, given back by detach
    /// only after its purge (both under RTNL).
    busy: Atomic<bool>,
    /// Whether the device outlives its file (`TUNSETPERSIST`); devices made
    /// by `ip link add` or at module load start persistent.
    persist: Atomic<bool>,
    /// Who may attach without `CAP_NET_ADMIN` (`TUNSETOWNER`/`TUNSETGROUP`):
    /// a kernel uid/gid, or [`NOBODY`].
    owner: Atomic<u32>,
    group: Atomic<u32>,
    /// The `IFF_*` features the last `TUNSETIFF` asked for (`TUNGETIFF`).
    features: Atomic<u32>,
}

/// No owner or group (`INVALID_UID`, `INVALID_GID`).
pub(crate) const NOBODY: u32 = u32::MAX;

impl Port {
    pub(crate) fn new(persist: bool) -> impl PinInit<Self> {
        pin_init!(Self {
            dev: DevSlot::new(),
            queue <- SkbQueue::new(),
            readers <- WaitQueue::new(),
            attached: Atomic::new(false),
            busy: Atomic::new(false),
            persist: Atomic::new(persist),
            owner: Atomic::new(NOBODY),
            group: Atomic::new(NOBODY),
            features: Atomic::new(0),
        })
    }

    /// The device, while it is registered.
    pub(crate) fn dev(&self) -> Option<DevRef> {
        self.dev.get()
    }

    /// Whether the device is still registered (a snapshot).
    pub(crate) fn dev_present(&self) -> bool {
        self.dev.is_present()
    }

    pub(crate) fn is_persistent(&self) -> bool {
        self.persist.load(Relaxed)
    }

    pub(crate) fn set_persistent(&self, on: bool) {
        self.persist.store(on, Relaxed);
    }

    pub(crate) fn owner(&self) -> (u32, u32) {
        (self.owner.load(Relaxed), self.group.load(Relaxed))
    }

    pub(crate) fn set_owner(&self, uid: u32) {
        self.owner.store(uid, Relaxed);
    }

    pub(crate) fn set_group(&self, gid: u32) {
        self.group.store(gid, Relaxed);
    }

    pub(crate) fn features(&self) -> u32 {
        self.features.load(Relaxed)
    }

    pub(crate) fn set_features(&self, features: u32) {
        self.features.store(features, Relaxed);
    }

    /// Drops every queued frame, counting each as a tx drop on `dev`, if it
    /// is still there. Callers first make xmit stop queueing, then wait out
    /// the xmits already running.
    fn purge(&self, dev: Option<&NetDev>, ctx: &Process) {
        while let Some(skb) = self.queue.pop(ctx) {
            if let Some(dev) = dev {
                dev.count_tx_dropped();
            }
            drop(skb);
        }
    }

    /// Waits for a queued frame, whether the link is up or down (as tun).
    /// Fails with `EAGAIN` if the caller may not sleep, `EBADFD` once the
    /// device is gone.
    fn next_frame(&self, nonblock: bool, ctx: &Process) -> Result<Skb> {
        loop {
            if let Some(skb) = self.queue.pop(ctx) {
                return Ok(skb);
            }
            if !self.dev.is_present() {
                return Err(ebadfd());
            }
            if nonblock {
                return Err(EAGAIN);
            }
            self.readers
                .wait_interruptible(ctx, || !self.queue.is_empty() || !self.dev.is_present())?;
        }
    }

    /// Checks and builds a frame written by the program.
    fn frame_from_user(dev: &NetDev, src: &mut IovIterSource<'_>, ctx: &Process) -> Result<Skb> {
        let len = src.len();
        if !dev.is_running() {
            return Err(EIO);
        }
        if len < ETH_HLEN {
            return Err(EINVAL);
        }
        if len > dev.mtu() + ETH_HLEN + VLAN_HLEN {
            return Err(EMSGSIZE);
        }
        Skb::from_user(dev, len, src, ctx)
    }
}

impl NetDevOps for Port {
    fn slot(&self) -> &DevSlot {
        &self.dev
    }

    fn open(&self, _dev: &NetDev, _ctx: &Process) -> Result {
        // Pollers waiting to write learn that they may.
        self.readers.wake(EPOLLOUT | EPOLLWRNORM);
        Ok(())
    }

    fn stop(&self, dev: &NetDev, ctx: &Process) {
        // `netif_running()` is already false, so new xmits drop; without a
        // qdisc the core waits for none of those in flight (tun does not
        // purge here, so it needs no wait).
        netdev::wait_for_xmits(ctx);
        self.purge(Some(dev), ctx);
    }

    fn uninit(&self, _ctx: &Process) {
        // Blocked readers and pollers see the device gone.
        self.readers.wake(EPOLLERR);
    }

    fn start_xmit(&self, dev: &NetDev, skb: TxSkb, ctx: &BhOff) -> Xmit {
        let limit = dev.tx_queue_len();
        // The first two checks pair with the grace period in `release` /
        // `stop`: an xmit that saw the port attached and running ends before
        // the purge that follows it. The length check spares a frame bound
        // for a full queue the work of `detach`.
        if !self.attached.load(Acquire) || !dev.is_running() || self.queue.len() >= limit {
            dev.count_tx_dropped();
            // `skb` is dropped; `Dropped` tells the sender (`ENOBUFS`).
            return Xmit::Dropped;
        }
        let Ok(skb) = skb.detach() else {
            dev.count_tx_dropped();
            return Xmit::Dropped;
        };
        if self.queue.push_bounded(skb, limit, ctx).is_err() {
            dev.count_tx_dropped();
            return Xmit::Dropped; // another CPU filled the queue first
        }
        dev.tx_started();
        self.readers.wake_if_waiting(EPOLLIN | EPOLLRDNORM);
        Xmit::Sent
    }
}

/// What a file does with the port it is attached to.
impl Port {
    /// Attaches a file: `ENODEV` if the device is gone, `EBUSY` if another
    /// file is attached.
    pub(crate) fn attach(&self, _rtnl: &Rtnl, _ctx: &Process) -> Result {
        let dev = self.dev.get().ok_or(ENODEV)?;
        if self.busy.xchg(true, Full) {
            return Err(EBUSY);
        }
        // The last detach left the queue empty and xmit detached.
        self.attached.store(true, Release);
        dev.set_carrier(true);
        Ok(())
    }

    /// Detaches the file; as tun, a device that is not persistent goes
    /// with its last file.
    pub(crate) fn detach(&self, rtnl: &Rtnl, ctx: &Process) {
        let dev = self.dev.get();
        if let Some(dev) = &dev {
            dev.set_carrier(false);
        }
        self.attached.store(false, Release);
        // As tun's detach: no xmit that saw us attached is still running
        // once this returns, so nothing is queued after the purge. A device
        // already gone needs no wait: its unregistration closed it and
        // waited for its xmits.
        if dev.is_some() {
            netdev::wait_for_xmits(ctx);
        }
        self.purge(dev.as_deref(), ctx);
        self.busy.store(false, Release);
        if let Some(dev) = dev {
            if !self.is_persistent() {
                netdev::delete(rtnl, dev);
            }
        }
    }

    pub(crate) fn read(&self, dst: &mut IovIterDest<'_>, nonblock: bool, ctx: &Process) -> Result<usize> {
        if dst.is_empty() {
            return Ok(0); // as tun: a zero-length read consumes nothing
        }
        let skb = self.next_frame(nonblock, ctx)?;
        let len = skb.len();
        let copied = skb.copy_to_user(dst);
        if let Some(dev) = self.dev.get() {
            match copied {
                Ok(()) => dev.count_tx(len),
                Err(_) => dev.count_tx_dropped(),
            }
        }
        copied?; // on error `skb` is freed as a drop
        skb.consume();
        Ok(len)
    }

    pub(crate) fn write(&self, src: &mut IovIterSource<'_>, ctx: &Process) -> Result<usize> {
        let len = src.len();
        let dev = self.dev.get().ok_or_else(ebadfd)?;
        let skb = match Self::frame_from_user(&dev, src, ctx) {
            Ok(skb) => skb,
            Err(e) => {
                dev.count_rx_dropped();
                return Err(e);
            }
        };
        // `receive` counts its own drop; once it accepted the frame, the
        // device received it whatever the stack then does with it (as tun).
        dev.receive(skb, ctx)?;
        dev.count_rx(len);
        Ok(len)
    }

    pub(crate) fn poll(&self, table: &PollTable<'_>, _ctx: &Process) -> u32 {
        table.register(&self.readers);
        // As tun: a file whose device is gone reports only EPOLLERR.
        let Some(dev) = self.dev.get() else {
            return EPOLLERR;
        };
        let mut mask = 0;
        if !self.queue.is_empty() {
            mask |= EPOLLIN | EPOLLRDNORM;
        }
        // As tun: writable only while up (a write while down fails with EIO).
        if dev.is_running() {
            mask |= EPOLLOUT | EPOLLWRNORM;
        }
        mask
    }
}

impl LinkOps for Port {
    const CONFIG: netdev::Config = DEVICE;

    /// A device made by `ip link add` is persistent: it lives until
    /// `ip link del`, whatever files come and go.
    fn new_link(_rtnl: &Rtnl) -> Result<Arc<Self>> {
        Arc::pin_init(Port::new(true), GFP_KERNEL)
    }
}
