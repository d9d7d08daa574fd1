// SPDX-License-Identifier: GPL-2.0

//! One queue of a port: the frames xmit hands to one file, and the readers
//! and pollers waiting for them (tun's `tun_file` ring). A single-queue
//! device has one, a multiqueue device (`IFF_MULTI_QUEUE`) one per
//! attached file. With `IFF_NAPI`, frames written to the queue's file go
//! to GRO through the queue's NAPI context, as tun's. No `unsafe` here.

use kernel::{
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        Arc, SetOnce,
    },
};

use crate::context::{BhOff, Process};
use crate::napi::{Napi, NapiCtx, NapiPoll};
use crate::netdev::{NetDev, Rtnl};
use crate::skb::{Skb, SkbQueue};
use crate::wait::{events::*, WaitQueue};

#[pin_data]
pub(crate) struct Queue {
    /// The queue's place in its port's table, for good.
    number: usize,
    /// Frames sent by the stack, waiting for `read`.
    #[pin]
    frames: SkbQueue,
    /// Readers and pollers waiting for a frame or for the device to go.
    #[pin]
    readers: WaitQueue,
    /// Frames written to the file, waiting for the NAPI poll (`IFF_NAPI`).
    #[pin]
    written: SkbQueue,
    /// The NAPI context of an `IFF_NAPI` queue, made at its first attach.
    napi: SetOnce<Napi<Queue>>,
    /// Whether xmit may queue here: set when the queue joins the port's tx
    /// map, cleared when it leaves, before the grace period and purge.
    enabled: Atomic<bool>,
    /// Whether a file holds the queue (enabled or not): taken at attach,
    /// given back at detach only after the purge (both under RTNL).
    taken: Atomic<bool>,
    /// Where the queue sits in the port's tx map while enabled (RTNL).
    position: Atomic<u32>,
}

impl Queue {
    pub(crate) fn new(number: usize) -> impl PinInit<Self> {
        pin_init!(Self {
            number,
            frames <- SkbQueue::new(),
            readers <- WaitQueue::new(),
            written <- SkbQueue::new(),
            napi: SetOnce::new(),
            enabled: Atomic::new(false),
            taken: Atomic::new(false),
            position: Atomic::new(0),
        })
    }

    pub(crate) fn number(&self) -> usize {
        self.number
    }

    pub(crate) fn frames(&self) -> &SkbQueue {
        &self.frames
    }

    pub(crate) fn readers(&self) -> &WaitQueue {
        &self.readers
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.enabled.load(Acquire)
    }

    pub(crate) fn set_enabled(&self, on: bool, _rtnl: &Rtnl) {
        self.enabled.store(on, Release);
    }

    /// Whether a file holds the queue (stable under RTNL).
    pub(crate) fn is_taken(&self) -> bool {
        self.taken.load(Relaxed)
    }

    /// Takes the queue for a file.
    pub(crate) fn take(&self, _rtnl: &Rtnl) {
        self.taken.store(true, Relaxed);
    }

    /// Gives the queue back, empty.
    pub(crate) fn give_back(&self, _rtnl: &Rtnl) {
        self.taken.store(false, Relaxed);
    }

    pub(crate) fn position(&self) -> usize {
        self.position.load(Relaxed) as usize
    }

    pub(crate) fn set_position(&self, position: usize, _rtnl: &Rtnl) {
        self.position.store(position as u32, Relaxed);
    }

    /// Queues a frame from xmit, bounded by `limit`: false (the frame
    /// dropped) if the queue is full or not enabled. The caller counts.
    pub(crate) fn push(&self, skb: Skb, limit: usize, ctx: &BhOff) -> bool {
        // `enabled` pairs with the grace period in `Port::disable`: an xmit
        // that saw the queue enabled ends before the purge that follows.
        if !self.is_enabled() || self.frames.push_bounded(skb, limit, ctx).is_err() {
            return false;
        }
        self.readers.wake_if_waiting(EPOLLIN | EPOLLRDNORM);
        true
    }

    /// Drops every queued frame: frames for the reader, each counted as a
    /// tx drop on `dev` if it is still there, and written frames the NAPI
    /// poll did not take. Callers first make xmit and writers
    /// stop queueing here, then wait out those already running.
    pub(crate) fn purge(&self, dev: Option<&NetDev>, ctx: &Process) {
        self.purge_frames(dev, ctx);
        self.purge_written(ctx);
    }

    /// Drops the frames waiting for the reader, each counted as a tx drop
    /// on `dev` if it is still there.
    pub(crate) fn purge_frames(&self, dev: Option<&NetDev>, ctx: &Process) {
        while let Some(skb) = self.frames.pop(ctx) {
            if let Some(dev) = dev {
                dev.count_tx_dropped();
            }
            drop(skb);
        }
    }

    /// Drops the written frames the NAPI poll did not take: counted in rx
    /// when queued, and not again (as tun's purge of its write queue).
    pub(crate) fn purge_written(&self, ctx: &Process) {
        while let Some(skb) = self.written.pop(ctx) {
            drop(skb);
        }
    }

    /// Gives the queue a NAPI context on `dev`, once (`IFF_NAPI`).
    pub(crate) fn add_napi(self: &Arc<Self>, dev: &NetDev, rtnl: &Rtnl) -> Result {
        // Checked and filled under RTNL, so `populate` cannot find it full
        // (which would drop a listed context).
        if self.napi.as_ref().is_none() {
            self.napi.populate(Napi::add(dev, self.clone(), rtnl)?);
        }
        Ok(())
    }

    /// The NAPI context, if the queue has one.
    pub(crate) fn napi(&self) -> Option<&Napi<Queue>> {
        self.napi.as_ref()
    }

    /// Queues a written frame (its headers set) for the NAPI poll, and
    /// schedules it: `EBUSY` if the queue is not enabled (as tun), false
    /// if the backlog is full (the frame dropped; the caller counts).
    pub(crate) fn push_written(&self, napi: &Napi<Queue>, skb: Skb, ctx: &BhOff) -> Result<bool> {
        // `enabled` pairs with the grace period in `Port::disable`, as in
        // `push`: the caller holds bottom halves off from here on.
        if !self.is_enabled() {
            return Err(EBUSY);
        }
        let queued = self.written.push_bounded(skb, NAPI_BACKLOG, ctx).is_ok();
        napi.schedule(ctx);
        Ok(queued)
    }
}

/// At most this many written frames wait for the NAPI poll (the core's
/// default `netdev_max_backlog`): a writer faster than the softirq loses
/// frames, counted, rather than memory without bound.
const NAPI_BACKLOG: usize = 1000;

impl NapiPoll for Queue {
    /// As tun's `tun_napi_poll`: written frames to GRO, up to the budget.
    fn poll(&self, napi: &NapiCtx, budget: usize, ctx: &BhOff) -> usize {
        let mut done = 0;
        while done < budget {
            let Some(mut skb) = self.written.pop_bh_off(ctx) else {
                break;
            };
            // Here, not when written: a frame may wait while another queue
            // leaves and moves this one, and the poll (an RCU reader) ends
            // before `Port::disable` shrinks the device's rx queues.
            if self.is_enabled() {
                skb.record_rx_queue(self.position());
            }
            napi.gro_receive(skb);
            done += 1;
        }
        if done < budget {
            napi.complete(done);
        }
        done
    }
}
