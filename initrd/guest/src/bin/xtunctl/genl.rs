//! The xtun generic netlink family through neli: its command and attribute
//! numbers, attribute builders, and one synchronous socket that sends a
//! request and collects the replies up to the kernel's ACK or NLMSG_DONE.
//!
//! neli's `NlSocketHandle` is used rather than its `NlRouter`: the router
//! (neli 0.7.5) drops the extended ACK when it converts an error message to
//! the caller's types, and the kernel's extack message is what tells the
//! user what was wrong. The family and its multicast group are looked up
//! with nlctrl's CTRL_CMD_GETFAMILY on the same socket.

use std::{cell::Cell, fmt, io, net::SocketAddrV4, os::fd::AsRawFd, time::Duration};

use neli::{
    attr::Attribute,
    consts::{
        genl::{CtrlAttr, CtrlAttrMcastGrp, CtrlCmd, Index, NlAttrType},
        nl::{GenlId, NlmF, NlmsgerrAttr},
        socket::NlFamily,
    },
    genl::{AttrTypeBuilder, Genlmsghdr, GenlmsghdrBuilder, Nlattr, NlattrBuilder, NoUserHeader},
    nl::{NlPayload, NlmsghdrBuilder},
    socket::synchronous::NlSocketHandle,
    types::{Buffer, GenlBuffer},
    utils::Groups,
    Size, ToBytes,
};

pub const FAMILY: &str = "xtun";
/// XTUN_FAMILY_VERSION.
const VERSION: u8 = 1;
/// nlctrl's version (the kernel's genl_ctrl family).
const CTRL_VERSION: u8 = 2;
pub const MCGRP_PEERS: &str = "peers";

// The numbers below are those of driver/gen/uapi/xtun_nl.h, which ynl-gen
// makes from driver/netlink/xtun.yaml; a unit test compares them.

/// `XTUN_CMD_*`.
#[neli::neli_enum(serialized_type = "u8")]
pub enum Cmd {
    DevGet = 1,
    DevSet = 2,
    PeerNew = 3,
    PeerDel = 4,
    PeerGet = 5,
    PeerLearnedNtf = 6,
    PeerDelNtf = 7,
    KeyNew = 8,
    KeySwap = 9,
    KeyDel = 10,
    KeyExhaustedNtf = 11,
}
impl neli::consts::genl::Cmd for Cmd {}

/// `XTUN_A_*`: the device attributes (attribute set `xtun`).
#[neli::neli_enum(serialized_type = "u16")]
pub enum Dev {
    Ifindex = 1,
    Ifname = 2,
    Mode = 3,
    ListenPort = 4,
    LocalIpv4 = 5,
    Vni = 6,
    Learn = 7,
    PeerTimeout = 8,
    MaxPeers = 9,
    MaxMacs = 10,
    Peers = 11,
    RxUnknownSrc = 12,
    RxBad = 13,
    RxWrongVni = 14,
    TxNoPeer = 15,
    Peer = 16,
    Secure = 17,
    RxAuthFail = 18,
    RxReplay = 19,
    TxNoKey = 20,
}
impl NlAttrType for Dev {}

/// `XTUN_A_PEER_*`: the attributes nested in `XTUN_A_PEER`.
#[neli::neli_enum(serialized_type = "u16")]
pub enum Peer {
    Id = 1,
    RemoteIpv4 = 2,
    RemotePort = 3,
    Static = 4,
    Keepalive = 5,
    Mac = 6,
    LastSeenMs = 7,
    ExpiresMs = 8,
    RxPackets = 9,
    RxBytes = 10,
    TxPackets = 11,
    TxBytes = 12,
    DelReason = 13,
    RxAuthFail = 14,
    RxReplay = 15,
    Keyconf = 16,
}
impl NlAttrType for Peer {}

/// `XTUN_A_KEYCONF_*`: a key slot, nested in `XTUN_A_PEER_KEYCONF`.
#[neli::neli_enum(serialized_type = "u16")]
pub enum Keyconf {
    Slot = 1,
    KeyId = 2,
    Cipher = 3,
    SendKey = 4,
    RecvKey = 5,
    SendCounter = 6,
    Driver = 7,
}
impl NlAttrType for Keyconf {}

/// `enum xtun_mode`.
pub const MODES: &[&str] = &["tap", "tunnel"];
/// `enum xtun_del_reason`.
pub const DEL_REASONS: &[&str] = &["userspace", "expired", "device-down"];
/// `enum xtun_cipher`.
pub const CIPHERS: &[&str] = &["aes-256-gcm", "chacha20-poly1305"];
/// `enum xtun_key_slot`.
pub const KEY_SLOTS: &[&str] = &["primary", "secondary"];

/// A message of the family, as sent and as received.
pub type Msg = Genlmsghdr<Cmd, Dev>;
pub type Attr<T> = Nlattr<T, Buffer>;

/// An attribute of type `t` holding `payload` as neli serializes it
/// (integers in host order; `[u8; N]` as is, for network order).
pub fn attr<T: NlAttrType, P: Size + ToBytes>(t: T, payload: P) -> Attr<T> {
    let nla_type = AttrTypeBuilder::default().nla_type(t).build().expect("the type is set");
    NlattrBuilder::default().nla_type(nla_type).nla_payload(payload).build().expect("type and payload are set")
}

/// A nest of type `t` holding `inner`; neli marks it NLA_F_NESTED, which
/// the kernel's strict validation requires.
pub fn nest<T: NlAttrType, I: NlAttrType>(t: T, inner: &[Attr<I>]) -> Attr<T> {
    inner.iter().fold(attr(t, Vec::<u8>::new()), |outer, a| outer.nest(a).expect("writing to a Vec cannot fail"))
}

/// `XTUN_A_PEER_REMOTE_IPV4` and `_PORT`: both in network order.
pub fn endpoint_attrs(endpoint: SocketAddrV4) -> [Attr<Peer>; 2] {
    [attr(Peer::RemoteIpv4, endpoint.ip().octets()), attr(Peer::RemotePort, endpoint.port().to_be_bytes())]
}

/// A message of any family (xtun's, nlctrl's) at its `version`.
fn genl_message<C, T>(cmd: C, version: u8, attrs: Vec<Attr<T>>) -> Genlmsghdr<C, T> {
    GenlmsghdrBuilder::<C, T, NoUserHeader>::default()
        .cmd(cmd)
        .version(version)
        .attrs(attrs.into_iter().collect::<GenlBuffer<_, _>>())
        .build()
        .expect("cmd, version and attrs are set")
}

/// A message of the xtun family.
pub fn message(cmd: Cmd, attrs: Vec<Attr<Dev>>) -> Msg {
    genl_message(cmd, VERSION, attrs)
}

/// A message about the device `ifindex`: XTUN_A_IFINDEX, then `attrs`.
pub fn dev_message(cmd: Cmd, ifindex: u32, attrs: Vec<Attr<Dev>>) -> Msg {
    message(cmd, [vec![attr(Dev::Ifindex, ifindex)], attrs].concat())
}

/// A key request (key-new, key-swap, key-del) about the peer `id` of the
/// device `ifindex`: its `keyconf` nest only if there is something in it.
pub fn key_message(cmd: Cmd, ifindex: u32, id: u32, keyconf: &[Attr<Keyconf>]) -> Msg {
    let mut peer = vec![attr(Peer::Id, id)];
    if !keyconf.is_empty() {
        peer.push(nest(Peer::Keyconf, keyconf));
    }
    dev_message(cmd, ifindex, vec![nest(Dev::Peer, &peer)])
}

/// What went wrong talking to the kernel.
#[derive(Debug, PartialEq)]
pub enum Error {
    /// The kernel refused: its errno (positive), extack message, and the
    /// attribute at fault: its offset in the request, and its name.
    Kernel { errno: i32, extack: Option<String>, offset: Option<usize>, attr: Option<String> },
    /// The family is not registered: the module is not loaded.
    NoFamily,
    /// Anything else: the socket, a message that does not parse.
    Other(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Error::Kernel { errno, extack, attr, .. } => {
                if let Some(attr) = attr {
                    write!(f, "{attr}: ")?;
                }
                match extack {
                    Some(msg) => write!(f, "{msg} ({})", strerror(*errno)),
                    None => write!(f, "{}", strerror(*errno)),
                }
            }
            Error::NoFamily => write!(f, "xtun module not loaded (genl family {FAMILY} not found)"),
            Error::Other(msg) => write!(f, "{msg}"),
        }
    }
}

impl From<String> for Error {
    fn from(why: String) -> Error {
        Error::Other(why)
    }
}

/// "No such device", without io::Error's " (os error 19)".
pub fn strerror(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn other(e: impl fmt::Display) -> Error {
    Error::Other(format!("netlink: {e}"))
}

fn kernel_error(code: i32, ext_ack: &GenlBuffer<NlmsgerrAttr, Buffer>) -> Error {
    let ext_ack = ext_ack.get_attr_handle();
    let extack = ext_ack.get_attribute(NlmsgerrAttr::Msg).map(string_of).filter(|m| !m.is_empty());
    let offset = ext_ack.get_attr_payload_as::<u32>(NlmsgerrAttr::Offset).ok().map(|o| o as usize);
    Error::Kernel { errno: -code, extack, offset, attr: None }
}

/// "remote-port" for `RemotePort`: an attribute's name in the spec.
pub fn spec_name(variant: &impl fmt::Debug) -> String {
    let mut name = String::new();
    for (i, c) in format!("{variant:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('-');
        }
        name.push(c.to_ascii_lowercase());
    }
    name
}

/// The attribute of `attrs` (the first starting `at` bytes into the
/// request) that holds the byte at `offset`, and where it starts.
fn holding<'a, T: NlAttrType + 'a>(
    attrs: impl IntoIterator<Item = &'a Attr<T>>,
    mut at: usize,
    offset: usize,
) -> Option<(&'a Attr<T>, usize)> {
    for a in attrs {
        let end = at + a.padded_size();
        if (at..end).contains(&offset) {
            return Some((a, at));
        }
        at = end;
    }
    None
}

/// The attribute of `msg` that starts `offset` bytes into the request (the
/// extack's NLMSGERR_ATTR_OFFS): "vni", "peer.remote-port" in the peer
/// nest, or "peer.keyconf.key-id" in its key nest.
fn attr_at(msg: &Msg, offset: usize) -> Option<String> {
    // struct nlmsghdr, then struct genlmsghdr, then the attributes.
    let (a, at) = holding(msg.attrs().iter(), 16 + 4, offset)?;
    let name = spec_name(a.nla_type().nla_type());
    if at == offset {
        return Some(name);
    }
    if *a.nla_type().nla_type() != Dev::Peer {
        return None;
    }
    // A nest's own attributes start after its 4-byte header.
    let peer = a.get_attr_handle::<Peer>().ok()?;
    let (p, at) = holding(peer.iter(), at + 4, offset)?;
    let name = format!("{name}.{}", spec_name(p.nla_type().nla_type()));
    if at == offset {
        return Some(name);
    }
    if *p.nla_type().nla_type() != Peer::Keyconf {
        return None;
    }
    let conf = p.get_attr_handle::<Keyconf>().ok()?;
    let (k, at) = holding(conf.iter(), at + 4, offset)?;
    (at == offset).then(|| format!("{name}.{}", spec_name(k.nla_type().nla_type())))
}

/// Names the attribute at fault in a kernel error about `msg`.
fn naming(e: Error, msg: &Msg) -> Error {
    match e {
        Error::Kernel { errno, extack, offset: Some(offset), attr: None } => {
            Error::Kernel { errno, extack, offset: Some(offset), attr: attr_at(msg, offset) }
        }
        e => e,
    }
}

/// A generic netlink socket with the xtun family looked up.
pub struct Genl {
    sock: NlSocketHandle,
    family: u16,
    /// The family's multicast groups: (name, id).
    groups: Vec<(String, u32)>,
    seq: Cell<u32>,
}

impl Genl {
    /// A socket with the xtun family looked up.
    pub fn connect() -> Result<Genl, Error> {
        let mut genl = Genl::open()?;
        genl.lookup(FAMILY)?;
        Ok(genl)
    }

    fn open() -> Result<Genl, Error> {
        let sock = NlSocketHandle::connect(NlFamily::Generic, None, Groups::empty()).map_err(other)?;
        sock.enable_ext_ack(true).map_err(other)?;
        Ok(Genl { sock, family: 0, groups: Vec::new(), seq: Cell::new(1) })
    }

    /// Looks up the family `name` and its multicast groups (nlctrl's
    /// CTRL_CMD_GETFAMILY).
    fn lookup(&mut self, name: &str) -> Result<(), Error> {
        let request = genl_message(CtrlCmd::Getfamily, CTRL_VERSION, vec![attr(CtrlAttr::FamilyName, name)]);
        let replies = match self.transact(GenlId::Ctrl.into(), NlmF::ACK, request) {
            Err(Error::Kernel { errno: libc::ENOENT, .. }) => return Err(Error::NoFamily),
            other => other?,
        };
        let reply = replies.first().ok_or_else(|| other("nlctrl sent no reply"))?;
        let attrs = reply.attrs().get_attr_handle();
        self.family = attrs.get_attr_payload_as::<u16>(CtrlAttr::FamilyId).map_err(other)?;
        if let Ok(groups) = attrs.get_nested_attributes::<Index>(CtrlAttr::McastGroups) {
            for group in groups.iter() {
                let group = group.get_attr_handle::<CtrlAttrMcastGrp>().map_err(other)?;
                let name = group.get_attr_payload_as_with_len::<String>(CtrlAttrMcastGrp::Name).map_err(other)?;
                let id = group.get_attr_payload_as::<u32>(CtrlAttrMcastGrp::Id).map_err(other)?;
                self.groups.push((name, id));
            }
        }
        Ok(())
    }

    /// A `do` request: its replies (none for a command that only acts).
    pub fn call(&self, msg: Msg) -> Result<Vec<Msg>, Error> {
        self.transact(self.family, NlmF::ACK, msg.clone()).map_err(|e| naming(e, &msg))
    }

    /// A `dump` request: every reply message.
    pub fn dump(&self, msg: Msg) -> Result<Vec<Msg>, Error> {
        self.transact(self.family, NlmF::DUMP, msg.clone()).map_err(|e| naming(e, &msg))
    }

    /// Sends `msg` and collects the replies to it until the ACK (a `do`
    /// with NLM_F_ACK) or NLMSG_DONE (a dump), or the error in their place.
    fn transact<C, T>(&self, nl_type: u16, flags: NlmF, msg: Genlmsghdr<C, T>) -> Result<Vec<Genlmsghdr<C, T>>, Error>
    where
        C: neli::consts::genl::Cmd + fmt::Debug,
        T: NlAttrType + fmt::Debug,
    {
        let seq = self.seq.get();
        self.seq.set(seq.wrapping_add(1));
        let request = NlmsghdrBuilder::default()
            .nl_type(nl_type)
            .nl_flags(flags | NlmF::REQUEST)
            .nl_seq(seq)
            .nl_payload(NlPayload::Payload(msg))
            .build()
            .expect("type, flags and payload are set");
        self.sock.send(&request).map_err(other)?;
        let mut replies = Vec::new();
        loop {
            let (messages, _) = self.sock.recv::<u16, Genlmsghdr<C, T>>().map_err(other)?;
            for message in messages {
                let mut message = message.map_err(other)?;
                // Anything else (a notification) is not an answer to this.
                if *message.nl_seq() != seq {
                    continue;
                }
                if let Some(err) = message.get_err() {
                    return Err(kernel_error(*err.error(), err.ext_ack()));
                }
                match message.nl_payload() {
                    NlPayload::Payload(reply) => replies.push(reply.clone()),
                    // NLMSG_DONE of a dump, with the error that ended it if any.
                    NlPayload::DumpExtAck(done) if *done.error() != 0 => {
                        return Err(kernel_error(*done.error(), done.ext_ack()))
                    }
                    NlPayload::Ack(_) | NlPayload::DumpExtAck(_) | NlPayload::Empty => return Ok(replies),
                    NlPayload::Err(_) => unreachable!("get_err took it"),
                }
            }
        }
    }

    /// Joins the family's multicast group `name`.
    pub fn join(&self, name: &str) -> Result<(), Error> {
        let (_, id) = self
            .groups
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| Error::Other(format!("the {FAMILY} family has no multicast group {name:?}")))?;
        self.sock.add_mcast_membership(Groups::new_groups(&[*id])).map_err(other)
    }

    /// Waits up to `timeout` (forever if None) for messages of the family
    /// (the notifications of a joined group); empty if the time ran out.
    pub fn receive(&self, timeout: Option<Duration>) -> Result<Vec<Msg>, Error> {
        let mut fds = libc::pollfd { fd: self.sock.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as i32);
        // SAFETY: `fds` is a valid array of one pollfd.
        match unsafe { libc::poll(&mut fds, 1, ms) } {
            0 => return Ok(Vec::new()),
            n if n < 0 => return Err(other(io::Error::last_os_error())),
            _ => {}
        }
        let (messages, _) = self.sock.recv::<u16, Msg>().map_err(other)?;
        let mut received = Vec::new();
        for message in messages {
            let message = message.map_err(other)?;
            if *message.nl_type() == self.family {
                received.extend(message.get_payload().cloned());
            }
        }
        Ok(received)
    }
}

/// The payload of `a`, which must be exactly N bytes.
pub fn bytes<T: NlAttrType, const N: usize>(a: &Attr<T>) -> Result<[u8; N], String> {
    a.payload().as_ref().try_into().map_err(|_| bad_len(a))
}

/// A `uint` attribute: 4 or 8 bytes, host order.
pub fn uint<T: NlAttrType>(a: &Attr<T>) -> Result<u64, String> {
    match a.payload().as_ref().len() {
        4 => a.get_payload_as::<u32>().map(u64::from).map_err(|e| e.to_string()),
        8 => a.get_payload_as::<u64>().map_err(|e| e.to_string()),
        _ => Err(bad_len(a)),
    }
}

pub fn u32_of<T: NlAttrType>(a: &Attr<T>) -> Result<u32, String> {
    bytes(a).map(u32::from_ne_bytes)
}

pub fn string_of<T: NlAttrType>(a: &Attr<T>) -> String {
    String::from_utf8_lossy(a.payload().as_ref()).trim_end_matches('\0').to_string()
}

fn bad_len<T: NlAttrType>(a: &Attr<T>) -> String {
    format!("attribute {:?} has {} bytes", a.nla_type().nla_type(), a.payload().as_ref().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The enums of the generated uapi header, each as its (name, value)
    /// entries, in order.
    fn header_enums() -> Vec<Vec<(String, i64)>> {
        let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../driver/gen/uapi/xtun_nl.h"));
        let (mut enums, mut next) = (Vec::new(), None);
        for line in text.lines().map(str::trim) {
            if line.starts_with("enum") {
                enums.push(Vec::new());
                next = Some(0);
            } else if line.starts_with('}') {
                next = None;
            } else if let Some(n) = next.as_mut() {
                let entry = line.trim_end_matches(',');
                // Blank lines and the __X_MAX / X_MAX bookkeeping.
                if entry.is_empty() || entry.starts_with("__") || entry.ends_with(')') {
                    continue;
                }
                let name = match entry.split_once(" = ") {
                    Some((name, value)) => {
                        *n = value.parse().unwrap();
                        name
                    }
                    None => entry,
                };
                enums.last_mut().unwrap().push((name.to_string(), *n));
                *n += 1;
            }
        }
        enums
    }

    /// "PeerLearnedNtf" or "device-down" as the header spells it.
    fn c_name(rust: &str) -> String {
        spec_name(&Quoted(rust)).to_uppercase().replace('-', "_")
    }

    /// The header's enum whose first entry is `first`.
    fn header_enum(first: &str) -> Vec<(String, i64)> {
        header_enums().into_iter().find(|e| e.first().is_some_and(|(n, _)| n == first)).unwrap()
    }

    /// Every entry of the header's enum is the variant of that number, by
    /// name, and `known` (how many the Rust enum has) is their count.
    fn same<T: fmt::Debug>(first: &str, prefix: &str, variant: impl Fn(i64) -> T, known: usize) {
        let entries = header_enum(first);
        for (name, value) in &entries {
            assert_eq!(format!("{prefix}{}", c_name(&format!("{:?}", variant(*value)))), *name, "number {value}");
        }
        assert_eq!(entries.len(), known, "{prefix}*: the header has {} entries", entries.len());
    }

    #[test]
    fn numbers_are_those_of_the_uapi_header() {
        let cmds = (0..=u8::MAX).filter(|n| !matches!(Cmd::from(*n), Cmd::UnrecognizedConst(_))).count();
        let devs = (0..=u16::MAX).filter(|n| !matches!(Dev::from(*n), Dev::UnrecognizedConst(_))).count();
        let peers = (0..=u16::MAX).filter(|n| !matches!(Peer::from(*n), Peer::UnrecognizedConst(_))).count();
        let confs = (0..=u16::MAX).filter(|n| !matches!(Keyconf::from(*n), Keyconf::UnrecognizedConst(_))).count();
        same("XTUN_CMD_DEV_GET", "XTUN_CMD_", |n| Cmd::from(n as u8), cmds);
        same("XTUN_A_IFINDEX", "XTUN_A_", |n| Dev::from(n as u16), devs);
        same("XTUN_A_PEER_ID", "XTUN_A_PEER_", |n| Peer::from(n as u16), peers);
        same("XTUN_A_KEYCONF_SLOT", "XTUN_A_KEYCONF_", |n| Keyconf::from(n as u16), confs);
        same("XTUN_MODE_TAP", "XTUN_MODE_", |n| Quoted(MODES[n as usize]), MODES.len());
        same("XTUN_DEL_REASON_USERSPACE", "XTUN_DEL_REASON_", |n| Quoted(DEL_REASONS[n as usize]), DEL_REASONS.len());
        same("XTUN_CIPHER_AES_256_GCM", "XTUN_CIPHER_", |n| Quoted(CIPHERS[n as usize]), CIPHERS.len());
        same("XTUN_KEY_SLOT_PRIMARY", "XTUN_KEY_SLOT_", |n| Quoted(KEY_SLOTS[n as usize]), KEY_SLOTS.len());
    }

    /// Debug-prints a string without quotes, as a variant's name.
    struct Quoted<'a>(&'a str);
    impl fmt::Debug for Quoted<'_> {
        fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    fn ctrl(attrs: Vec<Attr<CtrlAttr>>) -> Genlmsghdr<CtrlCmd, CtrlAttr> {
        genl_message(CtrlCmd::Getfamily, CTRL_VERSION, attrs)
    }

    /// The socket code against the host kernel's own family, nlctrl: a
    /// lookup, a dump to NLMSG_DONE, a refused request with its extack.
    #[test]
    fn talks_to_nlctrl() {
        let mut genl = Genl::open().unwrap();
        genl.lookup("nlctrl").unwrap();
        assert_eq!(genl.family, u16::from(GenlId::Ctrl));
        assert!(genl.groups.iter().any(|(name, _)| name == "notify"), "{:?}", genl.groups);
        assert_eq!(genl.lookup("no-such-family").unwrap_err(), Error::NoFamily);

        let families = genl.transact(genl.family, NlmF::DUMP, ctrl(Vec::new())).unwrap();
        let names: Vec<String> = families
            .iter()
            .filter_map(|f| f.attrs().get_attr_handle().get_attribute(CtrlAttr::FamilyName).map(string_of))
            .collect();
        assert!(names.iter().any(|n| n == "nlctrl"), "{names:?}");

        // CTRL_ATTR_FAMILY_ID is a u16: one byte fails the kernel's policy.
        let bad = ctrl(vec![attr(CtrlAttr::FamilyId, [1u8])]);
        let Err(Error::Kernel { errno, extack, offset, .. }) = genl.transact(genl.family, NlmF::ACK, bad) else {
            panic!("accepted")
        };
        assert!(errno > 0, "errno {errno}");
        assert!(extack.is_some_and(|m| !m.is_empty()));
        // The one attribute, right after the two headers.
        assert_eq!(offset, Some(20));
        // The socket is still in step: the next request gets its own answer.
        assert_eq!(genl.transact(genl.family, NlmF::DUMP, ctrl(Vec::new())).unwrap().len(), families.len());

        // nlctrl's group tells of families coming and going: none here.
        genl.join("notify").unwrap();
        let start = std::time::Instant::now();
        assert!(genl.receive(Some(Duration::from_millis(50))).unwrap().is_empty());
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert!(genl.join("no-such-group").is_err());
    }

    /// Offsets as the kernel counts them: headers 16 + 4 bytes, attributes
    /// padded to 4, a nest's own attributes after its 4-byte header.
    #[test]
    fn names_the_attribute_at_an_offset() {
        let mut peer = endpoint_attrs("10.0.0.2:4789".parse().unwrap()).to_vec();
        peer.push(attr(Peer::Keepalive, 25u32));
        let msg = message(Cmd::PeerNew, vec![attr(Dev::Ifindex, 4u32), nest(Dev::Peer, &peer)]);
        let names: Vec<Option<String>> = [20, 28, 32, 40, 48, 30, 56].iter().map(|o| attr_at(&msg, *o)).collect();
        let expected = [
            Some("ifindex"),
            Some("peer"),
            Some("peer.remote-ipv4"),
            Some("peer.remote-port"),
            Some("peer.keepalive"),
            None,
            None,
        ];
        assert_eq!(names, expected.map(|n| n.map(String::from)));
    }

    /// peer.keyconf nested in peer: ifindex 20..28, peer 28.., its id
    /// 32..40, keyconf 40.., its slot 44..52 and key-id 52..60.
    #[test]
    fn names_an_attribute_in_the_key_nest() {
        let conf = [attr(Keyconf::Slot, 1u32), attr(Keyconf::KeyId, 300u32)];
        let msg = key_message(Cmd::KeyNew, 4, 7, &conf);
        let names: Vec<Option<String>> = [28, 32, 40, 44, 52, 42, 60].iter().map(|o| attr_at(&msg, *o)).collect();
        let expected = [
            Some("peer"),
            Some("peer.id"),
            Some("peer.keyconf"),
            Some("peer.keyconf.slot"),
            Some("peer.keyconf.key-id"),
            None,
            None,
        ];
        assert_eq!(names, expected.map(|n| n.map(String::from)));
    }

    #[test]
    fn key_messages_nest_the_keyconf_in_the_peer() {
        let key = [7u8; 32];
        let conf = [attr(Keyconf::KeyId, 1u32), attr(Keyconf::SendKey, &key[..])];
        let msg = key_message(Cmd::KeyNew, 4, 7, &conf);
        assert_eq!(*msg.cmd(), Cmd::KeyNew);
        let attrs = msg.attrs().get_attr_handle();
        assert_eq!(attrs.get_attr_payload_as::<u32>(Dev::Ifindex).unwrap(), 4);
        let peer = attrs.get_nested_attributes::<Peer>(Dev::Peer).unwrap();
        assert_eq!(peer.get_attr_payload_as::<u32>(Peer::Id).unwrap(), 7);
        let keyconf = peer.get_attribute(Peer::Keyconf).unwrap();
        assert!(keyconf.nla_type().nla_nested());
        let conf = keyconf.get_attr_handle::<Keyconf>().unwrap();
        assert_eq!(conf.get_attr_payload_as::<u32>(Keyconf::KeyId).unwrap(), 1);
        assert_eq!(conf.get_attribute(Keyconf::SendKey).unwrap().payload().as_ref(), key);

        // key-swap names only the peer.
        let swap = key_message(Cmd::KeySwap, 4, 7, &[]);
        let attrs = swap.attrs().get_attr_handle();
        let peer = attrs.get_nested_attributes::<Peer>(Dev::Peer).unwrap();
        assert_eq!(peer.iter().map(|a| *a.nla_type().nla_type()).collect::<Vec<_>>(), [Peer::Id]);
    }

    #[test]
    fn c_names() {
        assert_eq!(c_name("PeerLearnedNtf"), "PEER_LEARNED_NTF");
        assert_eq!(c_name("RemoteIpv4"), "REMOTE_IPV4");
        assert_eq!(c_name("device-down"), "DEVICE_DOWN");
        assert_eq!(c_name("aes-256-gcm"), "AES_256_GCM");
    }

    #[test]
    fn nests_are_marked_nested_and_addresses_in_network_order() {
        let peer = nest(Dev::Peer, &endpoint_attrs("10.0.0.2:4789".parse().unwrap()));
        assert!(peer.nla_type().nla_nested());
        let inner = peer.get_attr_handle::<Peer>().unwrap();
        assert_eq!(inner.get_attribute(Peer::RemoteIpv4).unwrap().payload().as_ref(), [10, 0, 0, 2]);
        assert_eq!(inner.get_attribute(Peer::RemotePort).unwrap().payload().as_ref(), [0x12, 0xb5]);
    }

    #[test]
    fn kernel_errors_print_extack_then_errno_text() {
        let e =
            Error::Kernel { errno: libc::EEXIST, extack: Some("peer already exists".into()), offset: None, attr: None };
        assert_eq!(e.to_string(), "peer already exists (File exists)");
        let e = Error::Kernel { errno: libc::ENODEV, extack: None, offset: None, attr: None };
        assert_eq!(e.to_string(), "No such device");
        let e = Error::Kernel {
            errno: libc::ERANGE,
            extack: Some("integer out of range".into()),
            offset: Some(28),
            attr: None,
        };
        let msg = message(Cmd::DevSet, vec![attr(Dev::Ifindex, 4u32), attr(Dev::Vni, 1u32 << 24)]);
        assert_eq!(naming(e, &msg).to_string(), "vni: integer out of range (Numerical result out of range)");
        assert_eq!(Error::NoFamily.to_string(), "xtun module not loaded (genl family xtun not found)");
    }
}
