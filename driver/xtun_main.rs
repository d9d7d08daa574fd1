// SPDX-License-Identifier: GPL-2.0

//! xtun: a tap-like pair of a misc character device `/dev/xtun` and an
//! Ethernet net device `xtun`.
//!
//! A frame the kernel sends on `xtun` is read whole from `/dev/xtun`; a frame
//! written to `/dev/xtun` enters the stack as if it arrived on the wire.
//!
//! ```c
//! int fd = open("/dev/xtun", O_RDWR);       /* carrier goes on */
//! char frame[1518];
//! ssize_t n = read(fd, frame, sizeof(frame)); /* one Ethernet frame */
//! write(fd, frame, n);                       /* one frame into the stack */
//! ```
//!
//! Layout: `netdev`, `skb`, `wait`, `chardev` and `context` wrap the
//! kernel's C API (all `unsafe` lives there, with the C glue in
//! `xtun_shim.c`); `port` holds the driver's logic and policy in safe Rust.

use kernel::{prelude::*, sync::Arc};

mod chardev;
mod context;
mod cred;
mod file;
mod netdev;
mod port;
mod skb;
mod wait;

use file::{Driver, XtunFile};
use netdev::{LinkRegistration, NameType, NetRef, RtnlGuard};
use port::Port;

module! {
    type: XtunModule,
    name: "xtun",
    authors: ["xtun developers"],
    description: "tap-like Ethernet device backed by /dev/xtun",
    license: "GPL",
}


struct XtunModule {
    // Fields drop in order: the character device goes first (no file can be
    // open: each pins the module), then the kind, with every xtun device.
    _chardev: Pin<KBox<chardev::Registration<XtunFile>>>,
    _link: LinkRegistration<Port>,
}

impl kernel::Module for XtunModule {
    fn init(ctx: &'static ThisModule) -> Result<Self> {
        let _ = ctx;
        let link = LinkRegistration::<Port>::register()?;
        // The device a file gets without TUNSETIFF, persistent, in the
        // initial namespace; the driver picks the name, the same on every
        // boot (as `lo`). If this fails, dropping `link` deletes the kind's
        // devices (none, unless `ip link add` raced us).
        let default_port = Arc::pin_init(Port::new(true), GFP_KERNEL)?;
        // SAFETY: module init runs in process context, holding no lock.
        let process = unsafe { context::Process::new() };
        {
            let rtnl = RtnlGuard::lock(&process);
            netdev::create(&rtnl, &NetRef::init(), file::DEFAULT_NAME, NameType::Predictable, default_port)?;
        }
        let driver = Arc::new(Driver, GFP_KERNEL)?;
        let chardev = KBox::pin_init(chardev::Registration::register(c"xtun", driver), GFP_KERNEL)?;
        Ok(Self { _chardev: chardev, _link: link })
    }
}
