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
mod netdev;
mod port;
mod skb;
mod wait;

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
    // open: each pins the module), then the net device.
    _chardev: Pin<KBox<chardev::Registration<Port>>>,
    _netdev: netdev::Registration<Port>,
}

impl kernel::Module for XtunModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let port = Arc::pin_init(Port::new(), GFP_KERNEL)?;
        // The driver picks the name, the same on every boot (as `lo`).
        let netdev = netdev::Registration::register(
            c"xtun",
            netdev::NameType::Predictable,
            &port::DEVICE,
            port.clone(),
        )?;
        let chardev = KBox::pin_init(chardev::Registration::register(c"xtun", port), GFP_KERNEL)?;
        Ok(Self {
            _chardev: chardev,
            _netdev: netdev,
        })
    }
}
