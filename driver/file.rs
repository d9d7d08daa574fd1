// SPDX-License-Identifier: GPL-2.0

//! An open `/dev/xtun`: which port it is attached to, and tun's ioctls
//! (`include/uapi/linux/if_tun.h`) for Ethernet frames. No `unsafe` here.
//!
//! - `TUNSETIFF` with `IFF_TAP` (`IFF_NO_PI`, `IFF_MULTI_QUEUE`, `IFF_NAPI`
//!   as tun's) attaches to the named xtun device
//!   of the opener's namespace, or creates it (a template such as `tap%d`,
//!   or `xtun%d` for an empty name), as tun does; a device of another kind
//!   is `EINVAL`, a second `TUNSETIFF` on one file `EEXIST`.
//! - A file used without `TUNSETIFF` (read, write; poll only reports
//!   `EPOLLERR` until then, as tun) attaches on first use to the device
//!   named `xtun` in its namespace (made at module load in
//!   the initial one), under tun's owner rule, so programs that only read
//!   and write keep working; many files can be open at once, each attached
//!   to its own device.
//! - Creating a device needs `CAP_NET_ADMIN` in the namespace; attaching
//!   to one whose owner or group is set needs to be that owner, in that
//!   group, or `CAP_NET_ADMIN` (tun's rule).

use kernel::{
    bindings,
    ioctl::{_IOR, _IOW},
    iov::{IovIterDest, IovIterSource},
    prelude::*,
    sync::{Arc, SetOnce},
    uaccess::{UserPtr, UserSlice},
};

use crate::chardev::{ebadfd, CharDevOps};
use crate::context::Process;
use crate::cred;
use crate::netdev::{self, Found, NameType, NetRef, Rtnl, RtnlGuard, ETH_ALEN};
use crate::port::{Port, MAX_QUEUES, NOBODY};
use crate::queue::Queue;
use crate::wait::{events::EPOLLERR, PollTable};

/// What every open file shares (nothing yet: a file used without
/// `TUNSETIFF` finds the module's device by name, in its own namespace).
pub(crate) struct Driver;

/// The device made at module load.
pub(crate) const DEFAULT_NAME: &CStr = c"xtun";

/// `IFNAMSIZ`, and `sizeof(struct ifreq)`, which tun copies in and out whole.
const IFNAMSIZ: usize = 16;
const IFREQ_LEN: usize = core::mem::size_of::<bindings::ifreq>();

// ioctl commands, as `include/uapi/linux/if_tun.h` defines them.
const TUN: u32 = b'T' as u32;
const TUNSETNOCSUM: u32 = _IOW::<c_int>(TUN, 200);
const TUNSETDEBUG: u32 = _IOW::<c_int>(TUN, 201);
const TUNSETIFF: u32 = _IOW::<c_int>(TUN, 202);
const TUNSETPERSIST: u32 = _IOW::<c_int>(TUN, 203);
const TUNSETOWNER: u32 = _IOW::<c_int>(TUN, 204);
const TUNSETGROUP: u32 = _IOW::<c_int>(TUN, 206);
const TUNGETFEATURES: u32 = _IOR::<c_uint>(TUN, 207);
const TUNGETIFF: u32 = _IOR::<c_uint>(TUN, 210);
const TUNSETQUEUE: u32 = _IOW::<c_int>(TUN, 217);
const SIOCSIFHWADDR: u32 = 0x8924;
const SIOCGIFHWADDR: u32 = 0x8927;

// `ifr_flags` bits.
const IFF_TUN: u32 = 0x0001;
const IFF_TAP: u32 = 0x0002;
const IFF_NAPI: u32 = 0x0010;
const IFF_NAPI_FRAGS: u32 = 0x0020;
const IFF_NO_CARRIER: u32 = 0x0040;
const IFF_MULTI_QUEUE: u32 = 0x0100;
const IFF_ATTACH_QUEUE: u32 = 0x0200;
const IFF_DETACH_QUEUE: u32 = 0x0400;
const IFF_VNET_HDR: u32 = 0x4000;
const IFF_NO_PI: u32 = 0x1000;
const IFF_ONE_QUEUE: u32 = 0x2000;
const IFF_TUN_EXCL: u32 = 0x8000;
const IFF_PERSIST: u32 = 0x0800;
/// `IFF_NO_PI`'s bit, which means "no socket filter" in `TUNSETQUEUE`.
const IFF_NOFILTER: u32 = 0x1000;
/// What tun does and xtun does not (yet): `TUNSETIFF` asking for any of it
/// (`IFF_NAPI_FRAGS` needs `IFF_NAPI`, and tun refuses it without, too)
/// is `EINVAL`, tun's answer to a request it cannot serve. Other bits tun
/// ignores, and so do we (`IFF_ONE_QUEUE` among them).
const UNSUPPORTED: u32 = IFF_TUN | IFF_NAPI_FRAGS | IFF_NO_CARRIER | IFF_VNET_HDR;
/// The features `TUNGETIFF` reports back, as tun's `tun_flags`.
const FEATURES: u32 = IFF_ONE_QUEUE | IFF_MULTI_QUEUE | IFF_NAPI;

/// `ARPHRD_ETHER`: the address family of an Ethernet hardware address.
const ARPHRD_ETHER: u16 = 1;

/// One open `/dev/xtun`.
pub(crate) struct XtunFile {
    /// The opener's namespace, where `TUNSETIFF` looks and creates.
    net: NetRef,
    /// The port this file is attached to, and its queue there; set once,
    /// under RTNL.
    binding: SetOnce<Binding>,
}

/// What an attached file holds.
struct Binding {
    port: Arc<Port>,
    queue: Arc<Queue>,
}

/// A `struct ifreq`: the name and the union's first bytes.
struct IfReq([u8; IFREQ_LEN]);

impl IfReq {
    fn read(arg: usize) -> Result<Self> {
        let mut buf = [0u8; IFREQ_LEN];
        UserSlice::new(UserPtr::from_addr(arg), IFREQ_LEN).reader().read_slice(&mut buf)?;
        Ok(Self(buf))
    }

    fn write(&self, arg: usize) -> Result {
        UserSlice::new(UserPtr::from_addr(arg), IFREQ_LEN).writer().write_slice(&self.0)
    }

    /// The name, cut at its NUL (the last byte is forced to one, as tun).
    fn name(&mut self) -> &CStr {
        self.0[IFNAMSIZ - 1] = 0;
        CStr::from_bytes_until_nul(&self.0[..IFNAMSIZ]).expect("NUL-terminated above")
    }

    fn set_name(&mut self, name: &CStr) {
        let bytes = name.to_bytes_with_nul();
        let n = bytes.len().min(IFNAMSIZ);
        self.0[..IFNAMSIZ].fill(0);
        self.0[..n].copy_from_slice(&bytes[..n]);
    }

    fn flags(&self) -> u32 {
        u16::from_ne_bytes([self.0[IFNAMSIZ], self.0[IFNAMSIZ + 1]]) as u32
    }

    fn set_flags(&mut self, flags: u32) {
        self.0[IFNAMSIZ..IFNAMSIZ + 2].copy_from_slice(&(flags as u16).to_ne_bytes());
    }

    /// `ifr_hwaddr`: a `struct sockaddr` (family, then the address).
    fn hwaddr(&self) -> (u16, [u8; ETH_ALEN]) {
        let family = u16::from_ne_bytes([self.0[IFNAMSIZ], self.0[IFNAMSIZ + 1]]);
        let mut mac = [0; ETH_ALEN];
        mac.copy_from_slice(&self.0[IFNAMSIZ + 2..IFNAMSIZ + 2 + ETH_ALEN]);
        (family, mac)
    }

    fn set_hwaddr(&mut self, mac: &[u8; ETH_ALEN]) {
        self.0[IFNAMSIZ..IFNAMSIZ + 2].copy_from_slice(&ARPHRD_ETHER.to_ne_bytes());
        self.0[IFNAMSIZ + 2..IFNAMSIZ + 16].fill(0);
        self.0[IFNAMSIZ + 2..IFNAMSIZ + 2 + ETH_ALEN].copy_from_slice(mac);
    }
}

/// Whether xtun serves a `TUNSETIFF` with `flags`: a tap without packet
/// information, nothing from [`UNSUPPORTED`].
fn serves(flags: u32) -> bool {
    flags & IFF_TAP != 0 && flags & UNSUPPORTED == 0
}

/// tun's `tun_not_capable`: a port with an owner or group admits only
/// them, unless the caller has `CAP_NET_ADMIN` in the device's namespace.
fn may_attach(port: &Port, net: &NetRef) -> bool {
    let (owner, group) = port.owner();
    let refused = (owner != NOBODY && owner != cred::euid()) || (group != NOBODY && !cred::in_group(group));
    !refused || net.admin_capable()
}

impl XtunFile {
    /// What the file is attached to; a file never attached takes the
    /// module's device.
    fn binding(&self, ctx: &Process) -> Result<&Binding> {
        if self.binding.as_ref().is_none() {
            let rtnl = RtnlGuard::lock(ctx);
            if self.binding.as_ref().is_none() {
                // As `TUNSETIFF "xtun"` without creating: the file's own
                // namespace, and tun's owner rule.
                let Found::Ours(port) = netdev::find::<Port>(&rtnl, &self.net, DEFAULT_NAME) else {
                    return Err(ebadfd());
                };
                // As a `TUNSETIFF` without `IFF_MULTI_QUEUE`.
                if port.is_multi_queue() {
                    return Err(EINVAL);
                }
                if !may_attach(&port, &self.net) {
                    return Err(EPERM);
                }
                let queue = port.attach(&rtnl, ctx)?;
                // As a `TUNSETIFF` with `IFF_TAP|IFF_NO_PI`: raw frames.
                if port.files() == 1 {
                    port.set_features(0);
                    port.set_packet_info(false);
                }
                self.binding.populate(Binding { port, queue });
            }
        }
        self.binding.as_ref().ok_or(EINVAL) // populated above
    }

    /// What the ioctls act on: `EBADFD` if unattached, or if the device is
    /// gone (as tun, whose file is detached then).
    fn attached(&self) -> Result<&Binding> {
        match self.binding.as_ref() {
            Some(binding) if binding.port.dev_present() => Ok(binding),
            _ => Err(ebadfd()),
        }
    }

    fn set_iff(&self, arg: usize, ctx: &Process) -> Result<isize> {
        let mut req = IfReq::read(arg)?;
        let flags = req.flags();
        let rtnl = RtnlGuard::lock(ctx);
        if self.binding.as_ref().is_some() {
            return Err(EEXIST); // as tun: one TUNSETIFF per file
        }
        let binding = self.find_or_create(&mut req, flags, &rtnl, ctx)?;
        let Some(dev) = binding.port.dev() else {
            binding.port.detach(&binding.queue, &rtnl, ctx); // never: RTNL held since
            return Err(ENODEV);
        };
        // As tun: the first file sets the device's flags, later queues
        // of a multiqueue device do not.
        if binding.port.files() == 1 {
            binding.port.set_features(flags & FEATURES);
            binding.port.set_packet_info(flags & IFF_NO_PI == 0);
        }
        req.set_name(dev.name(&rtnl));
        drop(dev);
        self.binding.populate(binding);
        drop(rtnl);
        req.write(arg)?;
        Ok(0)
    }

    /// Attaches to the device `req` names, or creates it.
    fn find_or_create(&self, req: &mut IfReq, flags: u32, rtnl: &Rtnl, ctx: &Process) -> Result<Binding> {
        let given = !req.name().is_empty();
        let multi_queue = flags & IFF_MULTI_QUEUE != 0;
        if given {
            match netdev::find::<Port>(rtnl, &self.net, req.name()) {
                // As tun: an exclusive request fails on any existing name.
                Found::Ours(_) | Found::Other if flags & IFF_TUN_EXCL != 0 => return Err(EBUSY),
                Found::Other => return Err(EINVAL),
                Found::Ours(_) if !serves(flags) => return Err(EINVAL),
                Found::Ours(port) if port.is_multi_queue() != multi_queue => return Err(EINVAL),
                Found::Ours(port) => {
                    if !may_attach(&port, &self.net) {
                        return Err(EPERM);
                    }
                    let queue = port.attach(rtnl, ctx)?;
                    if let Some(dev) = port.dev() {
                        dev.notify_state_change(rtnl);
                    }
                    return Ok(Binding { port, queue });
                }
                Found::Nothing => {}
            }
        }
        if !self.net.admin_capable() {
            return Err(EPERM);
        }
        if !serves(flags) {
            return Err(EINVAL);
        }
        // As tun: a multiqueue device gets all its queues at once.
        let queues = if multi_queue { MAX_QUEUES } else { 1 };
        let port = Port::new(false, queues, flags & IFF_NAPI != 0)?;
        let (name, name_type) = if given { (req.name(), NameType::User) } else { (c"xtun%d", NameType::Enum) };
        netdev::create(rtnl, &self.net, name, name_type, queues, port.clone())?;
        match port.attach(rtnl, ctx) {
            Ok(queue) => Ok(Binding { port, queue }),
            Err(e) => {
                // Not reachable today (a new port is free), but never leave
                // a device nobody holds.
                if let Some(dev) = port.dev() {
                    netdev::delete(rtnl, dev);
                }
                Err(e)
            }
        }
    }

    /// `TUNSETQUEUE`: takes the file's queue out of the device's tx queues
    /// (`IFF_DETACH_QUEUE`) or puts it back (`IFF_ATTACH_QUEUE`). As tun,
    /// `EINVAL` for an unattached file, a device gone, a queue already so,
    /// detaching on a single-queue device, or neither flag.
    fn set_queue(&self, arg: usize, ctx: &Process) -> Result<isize> {
        let flags = IfReq::read(arg)?.flags();
        let rtnl = RtnlGuard::lock(ctx);
        let binding = self.binding.as_ref().ok_or(EINVAL)?;
        let (port, queue) = (&binding.port, &binding.queue);
        let dev = port.dev().ok_or(EINVAL)?;
        if flags & IFF_ATTACH_QUEUE != 0 {
            if queue.is_enabled() {
                return Err(EINVAL);
            }
            port.enable(queue, &dev, &rtnl)?;
        } else if flags & IFF_DETACH_QUEUE != 0 {
            if !port.is_multi_queue() || !queue.is_enabled() {
                return Err(EINVAL);
            }
            port.disable(queue, &rtnl, ctx);
        } else {
            return Err(EINVAL);
        }
        dev.notify_state_change(&rtnl);
        Ok(0)
    }

    /// `TUNSETPERSIST`, `TUNSETOWNER`, `TUNSETGROUP`: `EBADFD` first if
    /// unattached (as tun), then `change`, then a state-change notification.
    fn set_ownership(&self, ctx: &Process, change: impl FnOnce(&Port) -> Result) -> Result<isize> {
        let rtnl = RtnlGuard::lock(ctx);
        let port = &self.attached()?.port;
        change(port)?;
        if let Some(dev) = port.dev() {
            dev.notify_state_change(&rtnl);
        }
        Ok(0)
    }

    fn get_iff(&self, arg: usize, ctx: &Process) -> Result<isize> {
        let mut req = IfReq([0; IFREQ_LEN]);
        let rtnl = RtnlGuard::lock(ctx);
        let Binding { port, queue } = self.attached()?;
        let dev = port.dev().ok_or_else(ebadfd)?;
        req.set_name(dev.name(&rtnl));
        drop(dev);
        let persist = if port.is_persistent() { IFF_PERSIST } else { 0 };
        let detached = if queue.is_enabled() { 0 } else { IFF_DETACH_QUEUE };
        // As tun: no socket filter, IFF_NOFILTER, which is IFF_NO_PI's bit.
        // The device's NAPI mode, whatever a later file asked for.
        let features = (port.features() & !IFF_NAPI) | if port.is_napi() { IFF_NAPI } else { 0 };
        req.set_flags(IFF_TAP | features | persist | detached | IFF_NOFILTER);
        drop(rtnl);
        req.write(arg)?;
        Ok(0)
    }

    fn hwaddr(&self, cmd: u32, arg: usize, ctx: &Process) -> Result<isize> {
        let mut req = IfReq::read(arg)?;
        let rtnl = RtnlGuard::lock(ctx);
        let dev = self.attached()?.port.dev().ok_or_else(ebadfd)?;
        if cmd == SIOCSIFHWADDR {
            let (family, mac) = req.hwaddr();
            return dev.set_hwaddr(family, &mac, &rtnl).map(|()| 0);
        }
        let mac = dev.hwaddr(&rtnl);
        req.set_name(dev.name(&rtnl));
        req.set_hwaddr(&mac);
        drop(dev);
        drop(rtnl);
        req.write(arg)?;
        Ok(0)
    }
}

impl CharDevOps for XtunFile {
    type Shared = Driver;

    fn open(shared: &Arc<Driver>, ctx: &Process) -> Result<KBox<Self>> {
        let _ = shared;
        let file = Self { net: NetRef::current(ctx), binding: SetOnce::new() };
        Ok(KBox::new(file, GFP_KERNEL)?)
    }

    fn release(self: KBox<Self>, ctx: &Process) {
        if let Some(Binding { port, queue }) = self.binding.as_ref() {
            let rtnl = RtnlGuard::lock(ctx);
            port.detach(queue, &rtnl, ctx);
        }
    }

    fn read(&self, dst: &mut IovIterDest<'_>, nonblock: bool, ctx: &Process) -> Result<usize> {
        let Binding { port, queue } = self.binding(ctx)?;
        port.read(queue, dst, nonblock, ctx)
    }

    fn write(&self, src: &mut IovIterSource<'_>, ctx: &Process) -> Result<usize> {
        let Binding { port, queue } = self.binding(ctx)?;
        port.write(queue, src, ctx)
    }

    fn poll(&self, table: &PollTable<'_>, ctx: &Process) -> u32 {
        // As tun: an unattached file reports only EPOLLERR. Poll never
        // attaches (no side effect, no RTNL under epoll's locks).
        match self.binding.as_ref() {
            Some(Binding { port, queue }) => port.poll(queue, table, ctx),
            None => EPOLLERR,
        }
    }

    fn ioctl(&self, cmd: u32, arg: usize, ctx: &Process) -> Result<isize> {
        match cmd {
            TUNSETIFF => self.set_iff(arg, ctx),
            TUNGETIFF => self.get_iff(arg, ctx),
            TUNSETQUEUE => self.set_queue(arg, ctx),
            // As tun: accepted, no effect (checksums; debug messages).
            TUNSETNOCSUM | TUNSETDEBUG => self.attached().map(|_| 0),
            TUNGETFEATURES => {
                let features = IFF_TAP | IFF_NO_PI | FEATURES;
                UserSlice::new(UserPtr::from_addr(arg), 4).writer().write_slice(&features.to_ne_bytes())?;
                Ok(0)
            }
            TUNSETPERSIST => self.set_ownership(ctx, |port| {
                port.set_persistent(arg != 0);
                Ok(())
            }),
            TUNSETOWNER => self.set_ownership(ctx, |port| {
                port.set_owner(cred::kuid(arg as u32).ok_or(EINVAL)?);
                Ok(())
            }),
            TUNSETGROUP => self.set_ownership(ctx, |port| {
                port.set_group(cred::kgid(arg as u32).ok_or(EINVAL)?);
                Ok(())
            }),
            SIOCGIFHWADDR | SIOCSIFHWADDR => self.hwaddr(cmd, arg, ctx),
            // As tun: EBADFD before anything else on an unattached file.
            _ => Err(self.attached().err().unwrap_or(EINVAL)),
        }
    }
}
