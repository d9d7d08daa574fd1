// SPDX-License-Identifier: GPL-2.0

//! One queue of a port: the frames xmit hands to one file, and the readers
//! and pollers waiting for them (tun's `tun_file` ring). A single-queue
//! device has one, a multiqueue device (`IFF_MULTI_QUEUE`) one per
//! attached file. No `unsafe` here.

use kernel::{
    prelude::*,
    sync::atomic::{Acquire, Atomic, Relaxed, Release},
};

use crate::context::{BhOff, Process};
use crate::netdev::NetDev;
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

    /// RTNL: the port's attach and detach.
    pub(crate) fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Release);
    }

    /// Whether a file holds the queue (RTNL).
    pub(crate) fn is_taken(&self) -> bool {
        self.taken.load(Relaxed)
    }

    /// Takes the queue for a file (RTNL).
    pub(crate) fn take(&self) {
        self.taken.store(true, Relaxed);
    }

    /// Gives the queue back, empty (RTNL).
    pub(crate) fn give_back(&self) {
        self.taken.store(false, Relaxed);
    }

    pub(crate) fn position(&self) -> usize {
        self.position.load(Relaxed) as usize
    }

    pub(crate) fn set_position(&self, position: usize) {
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

    /// Drops every queued frame, counting each as a tx drop on `dev`, if it
    /// is still there. Callers first make xmit stop queueing here, then
    /// wait out the xmits already running.
    pub(crate) fn purge(&self, dev: Option<&NetDev>, ctx: &Process) {
        while let Some(skb) = self.frames.pop(ctx) {
            if let Some(dev) = dev {
                dev.count_tx_dropped();
            }
            drop(skb);
        }
    }
}
