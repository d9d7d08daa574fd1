// SPDX-License-Identifier: GPL-2.0

//! Generic netlink for the `xtun` family: registration, requests (their
//! attributes, already checked against the policies generated from
//! `netlink/xtun.yaml`), replies, dumps and multicast notifications. The
//! handlers the generated ops table names are defined here and call the
//! safe ones in `control.rs`.
//!
//! C headers: [`include/net/genetlink.h`](srctree/include/net/genetlink.h),
//! [`include/net/netlink.h`](srctree/include/net/netlink.h).

use core::{marker::PhantomData, ptr::NonNull};
use kernel::{bindings, error::to_result, prelude::*};

use crate::context::Process;
use crate::netdev::NetRef;

/// `struct genl_info`, `struct netlink_callback`, `struct nlattr`: only
/// ever behind pointers here.
#[repr(C)]
pub(crate) struct CInfo([u8; 0]);
#[repr(C)]
pub(crate) struct CCallback([u8; 0]);
#[repr(C)]
struct CAttr([u8; 0]);

extern "C" {
    fn xtun_genl_register() -> c_int;
    fn xtun_genl_unregister();
    fn xtun_genl_info_net_get(info: *const CInfo) -> *mut bindings::net;
    fn xtun_genl_info_attr(info: *const CInfo, ty: c_int) -> *const CAttr;
    fn xtun_genl_set_err_msg(info: *mut CInfo, msg: *const c_char);
    fn xtun_genl_set_bad_attr(info: *mut CInfo, attr: *const CAttr);
    fn xtun_genl_msg_new() -> *mut bindings::sk_buff;
    fn xtun_genl_put_reply(skb: *mut bindings::sk_buff, info: *mut CInfo, cmd: u8) -> *mut c_void;
    fn xtun_genl_put_dump(skb: *mut bindings::sk_buff, cb: *mut CCallback, cmd: u8) -> *mut c_void;
    fn xtun_genl_put_notify(skb: *mut bindings::sk_buff, cmd: u8) -> *mut c_void;
    fn xtun_genl_end(skb: *mut bindings::sk_buff, hdr: *mut c_void);
    fn xtun_genl_cancel(skb: *mut bindings::sk_buff, hdr: *mut c_void);
    fn xtun_genl_reply(skb: *mut bindings::sk_buff, info: *mut CInfo) -> c_int;
    fn xtun_genl_has_listeners(net: *mut bindings::net) -> bool;
    fn xtun_genl_notify(net: *mut bindings::net, skb: *mut bindings::sk_buff);
    fn xtun_genl_free(skb: *mut bindings::sk_buff);
    fn xtun_genl_wipe_keys(info: *mut CInfo);
    fn xtun_nla_nest_start(skb: *mut bindings::sk_buff, ty: c_int) -> *mut c_void;
    fn xtun_nla_nest_end(skb: *mut bindings::sk_buff, start: *mut c_void);
    fn xtun_nla_nest_cancel(skb: *mut bindings::sk_buff, start: *mut c_void);
    fn xtun_dump_args(cb: *mut CCallback) -> *mut c_long;
    fn xtun_dump_attr(cb: *mut CCallback, ty: c_int) -> *const CAttr;
    fn xtun_dump_net_get(cb: *mut CCallback) -> *mut bindings::net;
    fn nla_put(skb: *mut bindings::sk_buff, ty: c_int, len: c_int, data: *const c_void) -> c_int;
}

/// The family, registered while this lives (module lifetime).
pub(crate) struct Registration(());

impl Registration {
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: the generated family is static; unregistered on drop.
        to_result(unsafe { xtun_genl_register() })?;
        Ok(Self(()))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: registered in `register`; waits for running handlers.
        unsafe { xtun_genl_unregister() };
    }
}

/// One attribute of a request: its type and payload (lengths checked by
/// the policy).
#[derive(Clone, Copy)]
pub(crate) struct Attr<'a> {
    raw: *const CAttr,
    ty: u16,
    data: &'a [u8],
}

/// `struct nlattr` is 4 bytes: length, type; attributes are 4-aligned.
const NLA_HDRLEN: usize = 4;
const NLA_TYPE_MASK: u16 = !(1 << 15 | 1 << 14);

impl<'a> Attr<'a> {
    /// # Safety
    ///
    /// `raw` is null or an attribute valid for `'a` whose length fits it.
    unsafe fn from_raw(raw: *const CAttr) -> Option<Self> {
        if raw.is_null() {
            return None;
        }
        let p = raw.cast::<u8>();
        // SAFETY: a valid attribute starts with its 4-byte header.
        let hdr = unsafe { core::slice::from_raw_parts(p, NLA_HDRLEN) };
        let len = usize::from(u16::from_ne_bytes([hdr[0], hdr[1]]));
        let ty = u16::from_ne_bytes([hdr[2], hdr[3]]) & NLA_TYPE_MASK;
        // SAFETY: the attribute is `len` bytes long, header included
        // (netlink validated it before the handler ran).
        let data = unsafe { core::slice::from_raw_parts(p.add(NLA_HDRLEN), len.saturating_sub(NLA_HDRLEN)) };
        Some(Self { raw, ty, data })
    }

    pub(crate) fn kind(&self) -> u16 {
        self.ty
    }

    pub(crate) fn bytes(&self) -> &'a [u8] {
        self.data
    }

    pub(crate) fn u8(&self) -> u8 {
        self.data.first().copied().unwrap_or(0)
    }

    pub(crate) fn u16(&self) -> u16 {
        self.data.get(..2).map_or(0, |b| u16::from_ne_bytes([b[0], b[1]]))
    }

    pub(crate) fn be16(&self) -> u16 {
        u16::from_be(self.u16())
    }

    pub(crate) fn u32(&self) -> u32 {
        self.data.get(..4).map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A `uint` (4 or 8 bytes, as the policy checked).
    pub(crate) fn uint(&self) -> u64 {
        match self.data {
            [a, b, c, d, e, f, g, h] => u64::from_ne_bytes([*a, *b, *c, *d, *e, *f, *g, *h]),
            _ => u64::from(self.u32()),
        }
    }

    /// An address in network order, as its bytes.
    pub(crate) fn in_addr(&self) -> [u8; 4] {
        self.data.get(..4).map_or([0; 4], |b| [b[0], b[1], b[2], b[3]])
    }

    /// The attributes inside a nest.
    pub(crate) fn nested(&self) -> Nested<'a> {
        Nested { rest: self.data }
    }
}

/// An iterator over the attributes in a nest.
pub(crate) struct Nested<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Nested<'a> {
    type Item = Attr<'a>;

    fn next(&mut self) -> Option<Attr<'a>> {
        if self.rest.len() < NLA_HDRLEN {
            return None;
        }
        let len = usize::from(u16::from_ne_bytes([self.rest[0], self.rest[1]]));
        if len < NLA_HDRLEN || len > self.rest.len() {
            return None;
        }
        // SAFETY: `len` bytes of `rest` hold a whole attribute, valid as
        // long as `rest`.
        let attr = unsafe { Attr::from_raw(self.rest.as_ptr().cast()) };
        let aligned = (len + 3) & !3;
        self.rest = self.rest.get(aligned..).unwrap_or(&[]);
        attr
    }
}

/// A `doit` request, for the duration of its handler.
pub(crate) struct Request<'a> {
    info: NonNull<CInfo>,
    /// The op's policy `maxattr`: `info->attrs` has entries up to it.
    maxattr: u16,
    _p: PhantomData<&'a CInfo>,
}

impl<'a> Request<'a> {
    /// Zeroes every key in the request (peer/keyconf send-key, recv-key),
    /// so that neither the freed request nor an error reply (which echoes
    /// the request) holds them. Takes `self` by value: no attribute of the
    /// request is borrowed while its bytes change.
    pub(crate) fn wipe_keys(self) {
        // SAFETY: the request is live for the handler; nothing borrows its
        // attributes any more (`self` is consumed, and `Attr`s borrow it).
        unsafe { xtun_genl_wipe_keys(self.info.as_ptr()) };
    }

    /// A top-level attribute, borrowed from the request (so that
    /// [`Request::wipe_keys`] can know none is left).
    pub(crate) fn attr(&self, ty: u16) -> Option<Attr<'_>> {
        if ty > self.maxattr {
            return None;
        }
        // SAFETY: `info` is valid for the handler; `attrs` has an entry per
        // type up to the op's maxattr (checked above).
        unsafe { Attr::from_raw(xtun_genl_info_attr(self.info.as_ptr(), c_int::from(ty))) }
    }

    /// The namespace of the requesting socket.
    pub(crate) fn net(&self) -> NetRef {
        // SAFETY: `info` is valid; `get_net` counts our reference.
        unsafe { NetRef::from_counted(xtun_genl_info_net_get(self.info.as_ptr())) }
    }

    /// Says why the request failed (extack), for the caller's `Err`.
    pub(crate) fn fail(&self, err: Error, msg: &'static CStr) -> Error {
        // SAFETY: `info` is valid; `msg` is static.
        unsafe { xtun_genl_set_err_msg(self.info.as_ptr(), msg.as_char_ptr()) };
        err
    }

    /// As [`Request::fail`], pointing at the attribute at fault.
    pub(crate) fn fail_attr(&self, err: Error, attr: &Attr<'_>, msg: &'static CStr) -> Error {
        // SAFETY: `info` is valid; `attr.raw` is inside the request (or a
        // nest of it), which lives as long as `info`.
        unsafe { xtun_genl_set_bad_attr(self.info.as_ptr(), attr.raw) };
        self.fail(err, msg)
    }

    /// Sends a reply of command `cmd`, its attributes put by `build`.
    pub(crate) fn reply(&self, cmd: u8, build: impl FnOnce(&mut Msg) -> Result) -> Result {
        let mut msg = Msg::new()?;
        // SAFETY: `msg.skb` is a new message; `info` valid.
        let hdr = unsafe { xtun_genl_put_reply(msg.skb.as_ptr(), self.info.as_ptr(), cmd) };
        if hdr.is_null() {
            return Err(EMSGSIZE);
        }
        build(&mut msg)?;
        // SAFETY: `hdr` was put into this message; the reply takes it.
        unsafe {
            xtun_genl_end(msg.skb.as_ptr(), hdr);
            to_result(xtun_genl_reply(msg.into_raw(), self.info.as_ptr()))
        }
    }
}

/// A message being built.
///
/// # Invariants
///
/// `skb` is a netlink message we own.
pub(crate) struct Msg {
    skb: NonNull<bindings::sk_buff>,
    owned: bool,
}

impl Msg {
    fn new() -> Result<Self> {
        // SAFETY: handlers and notifiers run in process context.
        let skb = NonNull::new(unsafe { xtun_genl_msg_new() }).ok_or(ENOMEM)?;
        Ok(Self { skb, owned: true })
    }

    fn into_raw(mut self) -> *mut bindings::sk_buff {
        self.owned = false;
        self.skb.as_ptr()
    }

    fn put_raw(&mut self, ty: u16, data: &[u8]) -> Result {
        // SAFETY: the message is ours; `data` is valid for its length.
        to_result(unsafe {
            nla_put(self.skb.as_ptr(), c_int::from(ty), data.len() as c_int, data.as_ptr().cast())
        })
        .map_err(|_| EMSGSIZE)
    }

    pub(crate) fn put_u8(&mut self, ty: u16, v: u8) -> Result {
        self.put_raw(ty, &[v])
    }

    pub(crate) fn put_u16(&mut self, ty: u16, v: u16) -> Result {
        self.put_raw(ty, &v.to_ne_bytes())
    }

    pub(crate) fn put_be16(&mut self, ty: u16, v: u16) -> Result {
        self.put_raw(ty, &v.to_be_bytes())
    }

    pub(crate) fn put_u32(&mut self, ty: u16, v: u32) -> Result {
        self.put_raw(ty, &v.to_ne_bytes())
    }

    /// An address given as its bytes in network order.
    pub(crate) fn put_in_addr(&mut self, ty: u16, v: [u8; 4]) -> Result {
        self.put_raw(ty, &v)
    }

    /// A `uint` attribute: 4 bytes if the value fits, else 8 (`nla_put_uint`).
    pub(crate) fn put_uint(&mut self, ty: u16, v: u64) -> Result {
        match u32::try_from(v) {
            Ok(v) => self.put_u32(ty, v),
            Err(_) => self.put_raw(ty, &v.to_ne_bytes()),
        }
    }

    pub(crate) fn put_flag(&mut self, ty: u16) -> Result {
        self.put_raw(ty, &[])
    }

    pub(crate) fn put_bytes(&mut self, ty: u16, v: &[u8]) -> Result {
        self.put_raw(ty, v)
    }

    pub(crate) fn put_str(&mut self, ty: u16, v: &CStr) -> Result {
        self.put_raw(ty, v.to_bytes_with_nul())
    }

    /// A nest of attributes put by `build` (cancelled if it fails).
    pub(crate) fn nest(&mut self, ty: u16, build: impl FnOnce(&mut Msg) -> Result) -> Result {
        // SAFETY: the message is ours.
        let start = unsafe { xtun_nla_nest_start(self.skb.as_ptr(), c_int::from(ty)) };
        if start.is_null() {
            return Err(EMSGSIZE);
        }
        match build(self) {
            // SAFETY: `start` was put into this message just now.
            Ok(()) => unsafe { xtun_nla_nest_end(self.skb.as_ptr(), start) },
            Err(e) => {
                // SAFETY: as above.
                unsafe { xtun_nla_nest_cancel(self.skb.as_ptr(), start) };
                return Err(e);
            }
        }
        Ok(())
    }
}

impl Drop for Msg {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: ours, never sent.
            unsafe { xtun_genl_free(self.skb.as_ptr()) };
        }
    }
}

/// A dump in progress: one call fills one message, and `cursor` says where
/// the next call goes on.
pub(crate) struct Dump<'a> {
    skb: NonNull<bindings::sk_buff>,
    cb: NonNull<CCallback>,
    /// As [`Request`]'s; 0 for a dump without a policy (no attributes).
    maxattr: u16,
    _p: PhantomData<&'a CCallback>,
}

impl<'a> Dump<'a> {
    /// A request attribute of the dump.
    pub(crate) fn attr(&self, ty: u16) -> Option<Attr<'a>> {
        if ty == 0 || ty > self.maxattr {
            return None;
        }
        // SAFETY: `cb` is valid for the call; the dump's request attributes
        // were parsed against the op's policy, up to its maxattr (checked
        // above; the shim checks for none at all).
        unsafe { Attr::from_raw(xtun_dump_attr(self.cb.as_ptr(), c_int::from(ty))) }
    }

    pub(crate) fn net(&self) -> NetRef {
        // SAFETY: `cb` is valid; `get_net` counts our reference.
        unsafe { NetRef::from_counted(xtun_dump_net_get(self.cb.as_ptr())) }
    }

    /// Where the previous call stopped (`cb->args[i]`, 0 at first).
    pub(crate) fn cursor(&mut self, i: usize) -> &mut c_long {
        assert!(i < 6);
        // SAFETY: `cb->args` has 6 entries and is ours for the dump.
        unsafe { &mut *xtun_dump_args(self.cb.as_ptr()).add(i) }
    }

    /// Puts one message of command `cmd`; `Ok(false)` if it did not fit
    /// (nothing of it stays: the next call retries it).
    pub(crate) fn message(&mut self, cmd: u8, build: impl FnOnce(&mut Msg) -> Result) -> Result<bool> {
        // SAFETY: the dump's skb and callback are valid for the call.
        let hdr = unsafe { xtun_genl_put_dump(self.skb.as_ptr(), self.cb.as_ptr(), cmd) };
        if hdr.is_null() {
            return Ok(false);
        }
        let mut msg = Msg { skb: self.skb, owned: false };
        match build(&mut msg) {
            Ok(()) => {
                // SAFETY: `hdr` was put just now.
                unsafe { xtun_genl_end(self.skb.as_ptr(), hdr) };
                Ok(true)
            }
            Err(e) => {
                // SAFETY: as above.
                unsafe { xtun_genl_cancel(self.skb.as_ptr(), hdr) };
                if e == EMSGSIZE {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// The dump's return value: bytes put so far (0 ends it).
    pub(crate) fn len(&self) -> c_int {
        // SAFETY: valid for the call.
        unsafe { (*self.skb.as_ptr()).len as c_int }
    }
}

/// Multicasts a message of command `cmd` to the family's `peers` group in
/// `net`, if anyone listens.
pub(crate) fn notify(net: &NetRef, cmd: u8, _ctx: &Process, build: impl FnOnce(&mut Msg) -> Result) -> Result {
    // SAFETY: `net` is valid.
    if !unsafe { xtun_genl_has_listeners(net.as_raw()) } {
        return Ok(());
    }
    let mut msg = Msg::new()?;
    // SAFETY: a new message of ours.
    let hdr = unsafe { xtun_genl_put_notify(msg.skb.as_ptr(), cmd) };
    if hdr.is_null() {
        return Err(EMSGSIZE);
    }
    build(&mut msg)?;
    // SAFETY: `hdr` is in the message; multicast takes the message.
    unsafe {
        xtun_genl_end(msg.skb.as_ptr(), hdr);
        xtun_genl_notify(net.as_raw(), msg.into_raw());
    }
    Ok(())
}

/// Runs a `doit` handler in process context.
///
/// # Safety
///
/// `info` is the valid `genl_info` of a handler call.
unsafe fn doit(info: *mut CInfo, maxattr: u16, f: fn(&Request<'_>, &Process) -> Result) -> c_int {
    // SAFETY: generic netlink runs handlers in process context, no lock held
    // that we take (`parallel_ops`).
    let ctx = unsafe { Process::new() };
    let Some(info) = NonNull::new(info) else { return EINVAL.to_errno() };
    let req = Request { info, maxattr, _p: PhantomData };
    match f(&req, &ctx) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Runs a `doit` handler that consumes its request (to wipe it).
///
/// # Safety
///
/// As `doit`.
unsafe fn doit_owned(info: *mut CInfo, maxattr: u16, f: fn(Request<'_>, &Process) -> Result) -> c_int {
    // SAFETY: as `doit`.
    let ctx = unsafe { Process::new() };
    let Some(info) = NonNull::new(info) else { return EINVAL.to_errno() };
    match f(Request { info, maxattr, _p: PhantomData }, &ctx) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Runs a `dumpit` handler: its return is the bytes put, 0 at the end.
///
/// # Safety
///
/// `skb` and `cb` are a dump call's.
unsafe fn dumpit(
    skb: *mut bindings::sk_buff,
    cb: *mut CCallback,
    maxattr: u16,
    f: fn(&mut Dump<'_>, &Process) -> Result,
) -> c_int {
    // SAFETY: as `doit`.
    let ctx = unsafe { Process::new() };
    let (Some(skb), Some(cb)) = (NonNull::new(skb), NonNull::new(cb)) else { return EINVAL.to_errno() };
    let mut dump = Dump { skb, cb, maxattr, _p: PhantomData };
    match f(&mut dump, &ctx) {
        Ok(()) => dump.len(),
        Err(e) => e.to_errno(),
    }
}

// The handlers the generated ops table (gen/xtun_nl_gen.c) names, each
// with its op's policy maxattr from that table (`.maxattr`): XTUN_A_IFINDEX
// for dev-get and peer-get, XTUN_A_SECURE for dev-set, XTUN_A_PEER for the
// peer and key ops; dev-get's dump has none.
const MAXATTR_IFINDEX: u16 = crate::nl::XTUN_A_IFINDEX;
const MAXATTR_DEV_SET: u16 = crate::nl::XTUN_A_SECURE;
const MAXATTR_PEER: u16 = crate::nl::XTUN_A_PEER;

#[no_mangle]
unsafe extern "C" fn xtun_nl_dev_get_doit(_skb: *mut bindings::sk_buff, info: *mut CInfo) -> c_int {
    // SAFETY: called by generic netlink with a valid `info`.
    unsafe { doit(info, MAXATTR_IFINDEX, crate::control::dev_get) }
}

#[no_mangle]
unsafe extern "C" fn xtun_nl_dev_get_dumpit(skb: *mut bindings::sk_buff, cb: *mut CCallback) -> c_int {
    // SAFETY: called by generic netlink for a dump.
    unsafe { dumpit(skb, cb, 0, crate::control::dev_dump) }
}

#[no_mangle]
unsafe extern "C" fn xtun_nl_dev_set_doit(_skb: *mut bindings::sk_buff, info: *mut CInfo) -> c_int {
    // SAFETY: as above.
    unsafe { doit(info, MAXATTR_DEV_SET, crate::control::dev_set) }
}

#[no_mangle]
unsafe extern "C" fn xtun_nl_peer_new_doit(_skb: *mut bindings::sk_buff, info: *mut CInfo) -> c_int {
    // SAFETY: as above.
    unsafe { doit(info, MAXATTR_PEER, crate::control::peer_new) }
}

#[no_mangle]
unsafe extern "C" fn xtun_nl_peer_del_doit(_skb: *mut bindings::sk_buff, info: *mut CInfo) -> c_int {
    // SAFETY: as above.
    unsafe { doit(info, MAXATTR_PEER, crate::control::peer_del) }
}

#[no_mangle]
unsafe extern "C" fn xtun_nl_key_new_doit(_skb: *mut bindings::sk_buff, info: *mut CInfo) -> c_int {
    // SAFETY: as above.
    unsafe { doit_owned(info, MAXATTR_PEER, crate::control::key_new) }
}

#[no_mangle]
unsafe extern "C" fn xtun_nl_key_swap_doit(_skb: *mut bindings::sk_buff, info: *mut CInfo) -> c_int {
    // SAFETY: as above.
    unsafe { doit(info, MAXATTR_PEER, crate::control::key_swap) }
}

#[no_mangle]
unsafe extern "C" fn xtun_nl_key_del_doit(_skb: *mut bindings::sk_buff, info: *mut CInfo) -> c_int {
    // SAFETY: as above.
    unsafe { doit(info, MAXATTR_PEER, crate::control::key_del) }
}

#[no_mangle]
unsafe extern "C" fn xtun_nl_peer_get_dumpit(skb: *mut bindings::sk_buff, cb: *mut CCallback) -> c_int {
    // SAFETY: as above.
    unsafe { dumpit(skb, cb, MAXATTR_IFINDEX, crate::control::peer_dump) }
}
