// SPDX-License-Identifier: GPL-2.0

//! xtun: tap-like Ethernet devices (kind `xtun`: the module's own `xtun`,
//! `ip link add`, tun's `TUNSETIFF`) backed by the misc character device
//! `/dev/xtun`.
//!
//! A frame the kernel sends on a device is read whole from the file attached
//! to it; a frame written there enters the stack as if it arrived on the wire.
//!
//! ```c
//! int fd = open("/dev/xtun", O_RDWR);
//! char frame[1518];
//! ssize_t n = read(fd, frame, sizeof(frame)); /* attaches to `xtun`; a frame */
//! write(fd, frame, n);                       /* one frame into the stack */
//! ```
//!
//! Layout: `netdev`, `skb`, `wait`, `chardev`, `context` and `cred` wrap
//! the kernel's C API (every `unsafe` lives there, with the C glue in
//! `xtun_shim.c`, except this file's one promise that module init runs in
//! process context); `port` (per device) and `file` (per open file) hold
//! the driver's logic and policy in safe Rust.
//!
//! Tunnel mode (`xtunctl set DEV listen-port P`): `udp_tunnel` and `genl`
//! wrap the kernel's UDP tunnel and generic netlink APIs (C glue in
//! `xtun_udp.c`, `xtun_genl.c`, tables generated from `netlink/xtun.yaml`);
//! `tunnel` (the data path), `peers` (tables) and `control` (netlink
//! handlers) are safe Rust.

use kernel::{prelude::*, sync::Arc};

mod aead;
mod chardev;
mod context;
#[deny(unsafe_code)]
mod control;
mod cred;
#[deny(unsafe_code)]
mod file;
mod genl;
mod napi;
mod netdev;
#[path = "gen/xtun_nl.rs"]
mod nl;
#[deny(unsafe_code)]
mod peers;
#[deny(unsafe_code)]
mod port;
#[deny(unsafe_code)]
mod queue;
#[deny(unsafe_code)]
mod replay;
#[deny(unsafe_code)]
mod secure;
mod skb;
#[deny(unsafe_code)]
mod tunnel;
mod udp_tunnel;
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
    // open: each pins the module), then the kind, with every xtun device
    // (whose ageing work may still announce peers), then the netlink
    // family (waiting for running handlers, which find no device).
    _chardev: Pin<KBox<chardev::Registration<XtunFile>>>,
    _link: LinkRegistration<Port>,
    _genl: genl::Registration,
    // Last: waits for the keys the devices dropped to be freed.
    _aead: aead::FreeQueue,
}

impl kernel::Module for XtunModule {
    fn init(ctx: &'static ThisModule) -> Result<Self> {
        let _ = ctx;
        let aead = aead::FreeQueue::new()?;
        let link = LinkRegistration::<Port>::register()?;
        // The device a file gets without TUNSETIFF, persistent, in the
        // initial namespace; the driver picks the name, the same on every
        // boot (as `lo`). If this fails, dropping `link` deletes the kind's
        // devices (none, unless `ip link add` raced us).
        let default_port = Port::new(true, 1, false)?;
        // SAFETY: the kernel runs module init in process context, holding
        // no lock we know of (as any `init`).
        let process = unsafe { context::Process::new() };
        {
            let rtnl = RtnlGuard::lock(&process);
            netdev::create(&rtnl, &NetRef::init(), file::DEFAULT_NAME, NameType::Predictable, 1, default_port)?;
        }
        let genl = genl::Registration::register()?;
        let driver = Arc::new(Driver, GFP_KERNEL)?;
        let chardev = KBox::pin_init(chardev::Registration::register(c"xtun", driver), GFP_KERNEL)?;
        Ok(Self { _chardev: chardev, _link: link, _genl: genl, _aead: aead })
    }
}
