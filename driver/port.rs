// SPDX-License-Identifier: GPL-2.0

//! The xtun port: one per net device, the state its device and the files
//! attached to it share, and the data path's policy. No `unsafe` here.
//! Files attach to ports (`file.rs`) and hold a queue each (`queue.rs`);
//! the port does not know files.
//!
//! - xmit queues whole frames for a reader, on the queue the core picked
//!   (`skb->queue_mapping`, from `netdev_pick_tx`: XPS, the socket's
//!   cached queue, else the flow hash over the enabled queues; tun picks
//!   itself and steers a flow to the queue its frames were last written
//!   on, which xtun does not), bounded
//!   by `tx_queue_len` per queue (default 500, exactly: the bound is
//!   checked under the queue's lock);
//!   a frame that finds the queue full, or no reader attached, is dropped,
//!   counted in tx_dropped and reported as `NET_XMIT_DROP` (as tun does):
//!   with no qdisc, its sender gets `ENOBUFS` (packet sockets; UDP and
//!   ping with `IP_RECVERR`).
//! - read returns one whole frame; a shorter buffer gets the frame's head,
//!   the rest is dropped, and the return value is the buffer's length (as
//!   tun's `read`; with packet information, its `TUN_PKT_STRIP` says so).
//! - write injects one frame; a rejected write counts rx_dropped.
//! - one attached file at a time: a second gets `EBUSY` (as tun without
//!   IFF_MULTI_QUEUE); with it, up to [`MAX_QUEUES`] files, one queue each,
//!   which `TUNSETQUEUE` takes out of the tx map and puts back. The carrier
//!   is on exactly while a file is attached. A port that is not persistent
//!   deletes its device when its last file goes.
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
        atomic::{Acquire, Atomic, Relaxed, Release},
        Arc, SetOnce,
    },
};

use crate::chardev::ebadfd;
use crate::context::{BhOff, Process};
use crate::netdev::{self, DevRef, DevSlot, LinkOps, NetDev, NetDevOps, Rtnl, Xmit, ETH_HLEN, VLAN_HLEN};
use crate::queue::Queue;
use crate::skb::{Skb, TxSkb};
use crate::tunnel::{self, Tunnel};
use crate::udp_tunnel::{self, Datagram, GroCells, Receiver, Tick};
use crate::wait::{events::*, PollTable};

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

pub(crate) struct Port {
    /// The device, while it is registered.
    dev: DevSlot,
    /// One queue per file that may attach (1, or [`MAX_QUEUES`] with
    /// `IFF_MULTI_QUEUE`), made at its first attach.
    queues: KVec<SetOnce<Arc<Queue>>>,
    /// The enabled queues by tx queue index (`skb->queue_mapping`): the
    /// first `enabled` entries name queue slots; as tun's `tfiles`, a queue
    /// that leaves is replaced by the last one, so they stay dense.
    tx_map: KVec<Atomic<u32>>,
    /// How many queues are enabled (tun's `numqueues`): written under RTNL,
    /// read by xmit.
    enabled: Atomic<u32>,
    /// How many files hold a queue, enabled or not (RTNL): the carrier is
    /// on while any does.
    bound: Atomic<u32>,
    /// Whether the device outlives its files (`TUNSETPERSIST`); devices made
    /// by `ip link add` or at module load start persistent.
    persist: Atomic<bool>,
    /// Who may attach without `CAP_NET_ADMIN` (`TUNSETOWNER`/`TUNSETGROUP`):
    /// a kernel uid/gid, or [`NOBODY`].
    owner: Atomic<u32>,
    group: Atomic<u32>,
    /// The `IFF_*` features the last `TUNSETIFF` asked for (`TUNGETIFF`).
    features: Atomic<u32>,
    /// Whether frames read and written carry tun's packet information
    /// (`struct tun_pi`; a `TUNSETIFF` without `IFF_NO_PI`).
    packet_info: Atomic<bool>,
    /// Whether written frames go through each queue's NAPI context and
    /// GRO (`IFF_NAPI`), for good.
    napi: bool,
    /// Tunnel mode (`xtunctl set DEV listen-port P`), for good: frames go
    /// to peers over UDP instead of to files.
    tunnel: SetOnce<KBox<Tunnel>>,
}

/// `sizeof(struct tun_pi)`: flags, then the protocol (big-endian).
const PI_LEN: usize = 4;
/// `TUN_PKT_STRIP`: the reader's buffer was too short for the frame.
const TUN_PKT_STRIP: u16 = 0x0001;

/// No owner or group (`INVALID_UID`, `INVALID_GID`).
pub(crate) const NOBODY: u32 = u32::MAX;

/// At most this many queues on one device (tun's `MAX_TAP_QUEUES`).
pub(crate) const MAX_QUEUES: usize = 256;

impl Port {
    /// A port with room for `queues` queues (more than one: multiqueue),
    /// whose written frames go through NAPI and GRO if `napi`.
    pub(crate) fn new(persist: bool, queues: usize, napi: bool) -> Result<Arc<Self>> {
        if queues == 0 || queues > MAX_QUEUES {
            return Err(EINVAL);
        }
        let mut slots = KVec::with_capacity(queues, GFP_KERNEL)?;
        let mut tx_map = KVec::with_capacity(queues, GFP_KERNEL)?;
        for _ in 0..queues {
            slots.push(SetOnce::new(), GFP_KERNEL)?;
            tx_map.push(Atomic::new(0), GFP_KERNEL)?;
        }
        let port = Self {
            dev: DevSlot::new(),
            queues: slots,
            tx_map,
            enabled: Atomic::new(0),
            bound: Atomic::new(0),
            persist: Atomic::new(persist),
            owner: Atomic::new(NOBODY),
            group: Atomic::new(NOBODY),
            features: Atomic::new(0),
            packet_info: Atomic::new(false),
            napi,
            tunnel: SetOnce::new(),
        };
        Ok(Arc::new(port, GFP_KERNEL)?)
    }

    /// The device, while it is registered.
    pub(crate) fn dev(&self) -> Option<DevRef> {
        self.dev.get()
    }

    /// Whether the device is still registered (a snapshot).
    pub(crate) fn dev_present(&self) -> bool {
        self.dev.is_present()
    }

    /// Whether the device takes several files (`IFF_MULTI_QUEUE`).
    pub(crate) fn is_multi_queue(&self) -> bool {
        self.queues.len() > 1
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

    /// How many files hold a queue, enabled or not.
    pub(crate) fn files(&self) -> u32 {
        self.bound.load(Relaxed)
    }

    pub(crate) fn is_napi(&self) -> bool {
        self.napi
    }

    pub(crate) fn has_packet_info(&self) -> bool {
        self.packet_info.load(Relaxed)
    }

    pub(crate) fn set_packet_info(&self, on: bool) {
        self.packet_info.store(on, Relaxed);
    }

    pub(crate) fn features(&self) -> u32 {
        self.features.load(Relaxed)
    }

    pub(crate) fn set_features(&self, features: u32) {
        self.features.store(features, Relaxed);
    }

    /// The tunnel, if the device is one.
    pub(crate) fn tunnel(&self) -> Option<&Tunnel> {
        self.tunnel.as_ref().map(|t| &**t)
    }

    /// Makes the device a tunnel listening on `listen_port`, for good:
    /// vxlan's features, MTU 1450 on a 1500 underlay, GRO cells, carrier
    /// on; the socket opens now if the device is up. `EBUSY` while a file
    /// is attached (RTNL orders this against attach).
    pub(crate) fn make_tunnel(this: &Arc<Self>, dev: &NetDev, listen_port: u16, rtnl: &Rtnl, ctx: &Process) -> Result {
        if this.files() > 0 {
            return Err(EBUSY);
        }
        let tunnel = KBox::new(Tunnel::new(listen_port)?, GFP_KERNEL)?;
        let gro = GroCells::new(dev, ctx)?;
        drop(tunnel.gro.replace(Some(KBox::new(gro, GFP_KERNEL)?), ctx));
        // From here on the device is a tunnel, even if opening fails below
        // (a later `ip link set up` tries again).
        if !this.tunnel.populate(tunnel) {
            return Err(EBUSY);
        }
        udp_tunnel::make_tunnel_device(dev, tunnel::OVERHEAD as usize, 0, 1500 - tunnel::OVERHEAD, false, rtnl)?;
        dev.set_carrier(true);
        match this.tunnel() {
            Some(tunnel) if dev.is_running() => tunnel.open(dev, this.clone(), ctx),
            _ => Ok(()),
        }
    }

    /// Every queue made so far.
    fn made_queues(&self) -> impl Iterator<Item = &Arc<Queue>> {
        self.queues.iter().filter_map(|slot| slot.as_ref())
    }

    /// The enabled queue at tx queue index `index`, as xmit sees it.
    fn tx_queue(&self, index: usize) -> Option<&Queue> {
        // As tun: a frame for an index past the enabled queues (the core
        // picked it before a queue left) is dropped.
        if index >= self.enabled.load(Acquire) as usize {
            return None;
        }
        // The count's `Acquire` pairs with `enable`'s `Release`: the map
        // entry and the queue written before it are seen.
        let slot = self.tx_map.get(index)?.load(Relaxed) as usize;
        self.queues.get(slot)?.as_ref().map(|queue| &**queue)
    }

    /// Waits for a frame on `queue`, whether the link is up or down (as
    /// tun). Fails with `EAGAIN` if the caller may not sleep, `EBADFD` once
    /// the device is gone.
    fn next_frame(&self, queue: &Queue, nonblock: bool, ctx: &Process) -> Result<Skb> {
        loop {
            if let Some(skb) = queue.frames().pop(ctx) {
                return Ok(skb);
            }
            if !self.dev.is_present() {
                return Err(ebadfd());
            }
            if nonblock {
                return Err(EAGAIN);
            }
            queue
                .readers()
                .wait_interruptible(ctx, || !queue.frames().is_empty() || !self.dev.is_present())?;
        }
    }

    /// Checks and builds a frame written by the program.
    fn frame_from_user(dev: &NetDev, src: &mut IovIterSource<'_>, ctx: &Process) -> Result<Skb> {
        let len = src.len();
        // As tun_get_user: a write too short for a frame is `EINVAL`, even
        // while the link is down.
        if len < ETH_HLEN {
            return Err(EINVAL);
        }
        if !dev.is_running() {
            return Err(EIO);
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

    fn open(this: &Arc<Self>, dev: &NetDev, ctx: &Process) -> Result {
        if let Some(tunnel) = this.tunnel() {
            return tunnel.open(dev, this.clone(), ctx);
        }
        // Pollers waiting to write learn that they may.
        for queue in this.made_queues() {
            queue.readers().wake(EPOLLOUT | EPOLLWRNORM);
        }
        Ok(())
    }

    fn stop(&self, dev: &NetDev, ctx: &Process) {
        if let Some(tunnel) = self.tunnel() {
            return tunnel.close(ctx);
        }
        // `netif_running()` is already false, so new xmits drop; without a
        // qdisc the core waits for none of those in flight (tun does not
        // purge here, so it needs no wait).
        netdev::wait_for_xmits(ctx);
        // Written frames stay for the NAPI poll, as tun's.
        for queue in self.made_queues() {
            queue.purge_frames(Some(dev), ctx);
        }
    }

    fn uninit(&self, rtnl: &Rtnl, ctx: &Process) {
        if let Some(tunnel) = self.tunnel() {
            tunnel.uninit(rtnl, ctx);
        }
        for queue in self.made_queues() {
            // As tun_detach_all: NAPI contexts go before their device
            // (one grace period each, as tun's), then what writers queued
            // for them.
            if let Some(napi) = queue.napi() {
                napi.delete(rtnl, ctx);
                queue.purge_written(ctx);
            }
            // Blocked readers and pollers see the device gone.
            queue.readers().wake(EPOLLERR);
        }
    }

    fn start_xmit(&self, dev: &NetDev, skb: TxSkb, ctx: &BhOff) -> Xmit {
        if let Some(tunnel) = self.tunnel() {
            return match tunnel.xmit(dev, skb.into_skb(), ctx) {
                true => Xmit::Sent,
                false => Xmit::Dropped,
            };
        }
        let limit = dev.tx_queue_len();
        let index = skb.queue_mapping();
        // The enabled and running checks pair with the grace period in
        // `disable` / `stop`: an xmit that saw both ends before the purge
        // that follows. The length check spares a frame bound for a full
        // queue the work of `detach`; `push` checks again, under the lock.
        let queue = match self.tx_queue(index) {
            Some(queue) if queue.is_enabled() && dev.is_running() && queue.frames().len() < limit => queue,
            _ => {
                dev.count_tx_dropped();
                // `skb` is dropped; `Dropped` tells the sender (`ENOBUFS`).
                return Xmit::Dropped;
            }
        };
        let Ok(skb) = skb.detach() else {
            dev.count_tx_dropped();
            return Xmit::Dropped;
        };
        if !queue.push(skb, limit, ctx) {
            dev.count_tx_dropped();
            return Xmit::Dropped; // another CPU filled the queue first
        }
        dev.tx_started(index);
        Xmit::Sent
    }
}

/// What files do with the port they are attached to; every change of the
/// queue set runs under RTNL.
impl Port {
    /// Attaches a file: a queue of its own, enabled. `ENODEV` if the device
    /// is gone; `EBUSY` if another file holds a single-queue device,
    /// `E2BIG` if files hold every queue of a multiqueue one (as tun).
    pub(crate) fn attach(&self, rtnl: &Rtnl, _ctx: &Process) -> Result<Arc<Queue>> {
        let dev = self.dev.get().ok_or(ENODEV)?;
        // A tunnel device's frames go to its peers, not to files.
        if self.tunnel().is_some() {
            return Err(EBUSY);
        }
        let Some(slot) = self.queues.iter().position(|slot| slot.as_ref().is_none_or(|q| !q.is_taken())) else {
            return Err(if self.is_multi_queue() { E2BIG } else { EBUSY });
        };
        if self.queues[slot].as_ref().is_none() {
            let queue = Arc::pin_init(Queue::new(slot), GFP_KERNEL)?;
            self.queues[slot].populate(queue);
        }
        let queue = self.queues[slot].as_ref().ok_or(EINVAL)?.clone(); // made above
        if self.napi {
            queue.add_napi(&dev, rtnl)?;
        }
        self.enable(&queue, &dev, rtnl)?;
        queue.take(rtnl);
        self.bound.store(self.bound.load(Relaxed) + 1, Relaxed);
        dev.set_carrier(true);
        Ok(queue)
    }

    /// Puts `queue` (held by a file, not enabled) back into the tx map
    /// (attach, `TUNSETQUEUE IFF_ATTACH_QUEUE`). Fails, changing nothing,
    /// if the core cannot make the queue's kobjects (`ENOMEM`).
    pub(crate) fn enable(&self, queue: &Queue, dev: &NetDev, rtnl: &Rtnl) -> Result {
        let count = self.enabled.load(Relaxed) as usize;
        // The core may pick the new index before the count below admits
        // it: xmit drops those few frames. (tun grows after publishing; we
        // grow first so that a failure leaves nothing to undo.)
        if self.is_multi_queue() {
            dev.set_real_queues(count + 1, rtnl)?;
        }
        // The last `disable` purged the queue.
        debug_assert!(queue.frames().is_empty());
        queue.set_position(count, rtnl);
        self.tx_map[count].store(queue.number() as u32, Relaxed);
        // Before writers see the queue enabled: a schedule on a disabled
        // context would be lost.
        if let Some(napi) = queue.napi() {
            napi.enable(rtnl);
        }
        queue.set_enabled(true, rtnl);
        // Xmit's `Acquire` of the count sees the map entry (`tx_queue`).
        self.enabled.store(count as u32 + 1, Release);
        Ok(())
    }

    /// Takes `queue` out of the tx map and drops its frames (detach,
    /// `TUNSETQUEUE IFF_DETACH_QUEUE`); the file keeps it.
    pub(crate) fn disable(&self, queue: &Queue, rtnl: &Rtnl, ctx: &Process) {
        if !queue.is_enabled() {
            return;
        }
        queue.set_enabled(false, rtnl);
        // As tun's `__tun_detach`: the last enabled queue takes the hole.
        let count = self.enabled.load(Relaxed) as usize;
        let last = self.tx_map[count - 1].load(Relaxed) as usize;
        let position = queue.position();
        self.tx_map[position].store(last as u32, Relaxed);
        if let Some(moved) = self.queues[last].as_ref() {
            moved.set_position(position, rtnl);
        }
        self.enabled.store(count as u32 - 1, Release);
        if let Some(napi) = queue.napi() {
            napi.disable(rtnl, ctx);
        }
        // As tun: no xmit or NAPI writer that saw the queue enabled is
        // still running once this returns, so nothing is queued after the
        // purge. A device already gone needs no wait: its unregistration
        // closed it and waited for its xmits, and writers fail without it.
        let dev = self.dev.get();
        if let Some(dev) = &dev {
            netdev::wait_for_xmits(ctx);
            // The kernel keeps at least one (tun asks for 0, which fails);
            // shrinking only removes kobjects, it cannot fail.
            if self.is_multi_queue() && count > 1 {
                let _ = dev.set_real_queues(count - 1, rtnl);
            }
        }
        queue.purge(dev.as_deref(), ctx);
    }

    /// Detaches the file holding `queue`; as tun, a device that is not
    /// persistent goes with its last file.
    pub(crate) fn detach(&self, queue: &Queue, rtnl: &Rtnl, ctx: &Process) {
        self.disable(queue, rtnl, ctx);
        queue.give_back(rtnl);
        let bound = self.bound.load(Relaxed) - 1;
        self.bound.store(bound, Relaxed);
        if bound > 0 {
            return;
        }
        if let Some(dev) = self.dev.get() {
            dev.set_carrier(false);
            if !self.is_persistent() {
                netdev::delete(rtnl, dev);
            }
        }
    }

    pub(crate) fn read(&self, queue: &Queue, dst: &mut IovIterDest<'_>, nonblock: bool, ctx: &Process) -> Result<usize> {
        if dst.is_empty() {
            return Ok(0); // as tun: a zero-length read consumes nothing
        }
        let room = dst.len();
        let packet_info = self.has_packet_info();
        // As tun, but checked before a frame is taken (tun drops it).
        if packet_info && dst.len() < PI_LEN {
            return Err(EINVAL);
        }
        let skb = self.next_frame(queue, nonblock, ctx)?;
        let mut len = skb.len();
        let mut copied = Ok(());
        if packet_info {
            let flags = if dst.len() < PI_LEN + len { TUN_PKT_STRIP } else { 0 };
            let [f0, f1] = flags.to_ne_bytes();
            let [p0, p1] = skb.protocol_be_bytes();
            if dst.copy_to_iter(&[f0, f1, p0, p1]) != PI_LEN {
                copied = Err(EFAULT);
            }
            len += PI_LEN;
        }
        let copied = copied.and_then(|()| skb.copy_to_user(dst));
        if let Some(dev) = self.dev.get() {
            match copied {
                Ok(()) => dev.count_tx(skb.len()),
                Err(_) => dev.count_tx_dropped(),
            }
        }
        copied?; // on error `skb` is freed as a drop
        skb.consume();
        // As tun's `read`: never more than the buffer took.
        Ok(len.min(room))
    }

    pub(crate) fn write(&self, queue: &Queue, src: &mut IovIterSource<'_>, ctx: &Process) -> Result<usize> {
        let written = src.len();
        let dev = self.dev.get().ok_or_else(ebadfd)?;
        // As tun: a tap ignores the packet information's contents.
        if self.has_packet_info() {
            let mut pi = [0u8; PI_LEN];
            if written < PI_LEN {
                dev.count_rx_dropped();
                return Err(EINVAL);
            }
            if src.copy_from_iter(&mut pi) != PI_LEN {
                dev.count_rx_dropped();
                return Err(EFAULT);
            }
        }
        let len = src.len();
        let skb = match Self::frame_from_user(&dev, src, ctx) {
            Ok(skb) => skb,
            Err(e) => {
                dev.count_rx_dropped();
                return Err(e);
            }
        };
        // `rx_headers` counts its own drop; once the stack or the NAPI
        // backlog took the frame, the device received it, whatever then
        // becomes of it (as tun).
        let mut skb = dev.rx_headers(skb)?;
        // Bottom halves stay off from here to the hand-over: a queue seen
        // enabled (and its position) stays so until then, as `disable`
        // waits a grace period before it shrinks the device's queues.
        let bh = ctx.bh_off();
        let Some(napi) = queue.napi() else {
            if queue.is_enabled() {
                // As tun; a detached queue's index may be past the rx
                // queues. (A NAPI queue's poll records it.)
                skb.record_rx_queue(queue.position());
            }
            dev.deliver(skb, &bh);
            dev.count_rx(len);
            return Ok(written);
        };
        // A device past `ndo_uninit` has no NAPI context to poll: its slot
        // was emptied before `netif_napi_del`'s grace period, so a writer
        // that saw it present queues before `uninit` purges.
        if !self.dev.is_present() {
            return Err(ebadfd());
        }
        match queue.push_written(napi, skb, &bh) {
            Ok(true) => dev.count_rx(len),
            // A full backlog is a drop on the wire, not a failed write.
            Ok(false) => dev.count_rx_dropped(),
            // A detached queue (`EBUSY`): a refused write, not a frame
            // lost, counted by nobody (as tun).
            Err(e) => return Err(e),
        }
        Ok(written)
    }

    pub(crate) fn poll(&self, queue: &Queue, table: &PollTable<'_>, _ctx: &Process) -> u32 {
        table.register(queue.readers());
        // As tun: a file whose device is gone reports only EPOLLERR.
        let Some(dev) = self.dev.get() else {
            return EPOLLERR;
        };
        let mut mask = 0;
        if !queue.frames().is_empty() {
            mask |= EPOLLIN | EPOLLRDNORM;
        }
        // As tun: writable only while up (a write while down fails with EIO).
        if dev.is_running() {
            mask |= EPOLLOUT | EPOLLWRNORM;
        }
        mask
    }
}

/// A tunnel device's datagrams come to its port, which knows the device.
impl Receiver for Port {
    fn receive(&self, dgram: Datagram, ctx: &BhOff) {
        match (self.dev.borrow(ctx), self.tunnel()) {
            (Some(dev), Some(tunnel)) => tunnel.receive(dev, dgram, ctx),
            _ => dgram.drop_it(),
        }
    }
}

/// A tunnel device's ageing: expiry, keepalives, peer events.
impl Tick for Port {
    fn tick(&self, ctx: &Process) -> Option<u64> {
        let tunnel = self.tunnel()?;
        let dev = self.dev.get()?;
        let events = tunnel.age(&dev, ctx);
        crate::control::announce(&dev, tunnel, events, ctx);
        Some(tunnel.tick_ms())
    }
}

impl LinkOps for Port {
    const CONFIG: netdev::Config = DEVICE;

    /// A device made by `ip link add` is persistent: it lives until
    /// `ip link del`, whatever files come and go.
    fn new_link(_rtnl: &Rtnl, queues: usize) -> Result<Arc<Self>> {
        Port::new(true, queues, false)
    }
}
