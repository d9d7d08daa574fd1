//! xtunctl: configures xtun tunnel devices (issue 14: Ethernet in VXLAN
//! over UDP) through the kernel's `xtun` generic netlink family
//! (driver/netlink/xtun.yaml), as wg(8) does WireGuard: short, scriptable,
//! no daemon.
//!
//! - args.rs: the command line, parsed without the kernel;
//! - genl.rs: the family's numbers and the netlink socket (neli);
//! - key.rs: secure mode's keys: `genkey`, key files read and wiped;
//! - model.rs: devices (with the settings `set` changes), peers with their
//!   key slots, and events read from attributes;
//! - show.rs: the human output.

mod args;
mod genl;
mod model;
mod show;

use std::{
    ffi::{CStr, CString},
    io::Write,
    time::{Duration, Instant},
};

use args::{Command, NewKey, Opts, PeerRef};
use genl::{
    attr, dev_message, endpoint_attrs, key_message, message, nest, Cmd, Dev, Error, Genl, Keyconf, Peer, MCGRP_PEERS,
};
use model::{peers_of, Device, Event, Settings};
use xtun_guest::{cli, cli::*, key};

const USAGE: &str = "\
usage: xtunctl set DEV [listen-port PORT] [local ADDR] [vni N] [learn on|off]
                   [peer-timeout SECS] [max-peers N] [max-macs N] [secure on|off]
       xtunctl peer add DEV endpoint IP:PORT [id N] [mac MAC]... [keepalive SECS]
       xtunctl peer del DEV (endpoint IP:PORT | id N)
       xtunctl key add DEV peer ID [slot primary|secondary] key-id K
                   cipher aes-256-gcm|chacha20-poly1305
                   send-key FILE recv-key FILE [counter N]
       xtunctl key swap DEV peer ID
       xtunctl key del DEV peer ID slot primary|secondary
       xtunctl genkey
       xtunctl show [DEV] [--json]
       xtunctl monitor [--count N] [--timeout SECS]

Configures xtun tunnel devices through the xtun generic netlink family.

  set        change a device's tunnel settings (a tap device with no file
             attached becomes a tunnel device when it gets a listen port);
             secure on (before any peer is added): only authenticated
             datagrams, under per-peer keys
  peer add   add a static peer; `mac` (repeatable) puts MACs behind it;
             `id` gives its number (in secure mode it must: the same id
             at both ends)
  peer del   delete a peer, by endpoint or by the id `show` prints
  key add    install a key in a secure peer's slot (default primary, which
             sends and receives; secondary only receives), replacing what
             the slot held. Each FILE holds a 32-byte key in base64, as
             genkey (or wg genkey) prints it: send-key seals what goes to
             the peer, recv-key opens what comes from it (the peer's
             send-key). key-id (0-255) is the key's number on the wire;
             counter: the first send counter (default 0)
  key swap   swap the peer's primary and secondary keys
  key del    delete (and wipe) the key in a slot
  genkey     print a new random key in base64
  show       every xtun device (or DEV) with its peers and their key slots
             (never the keys); --json: an array of devices, keys in
             snake_case
  monitor    print peer events as they come, one line each:
               peer-learned DEV id N endpoint IP:PORT
               peer-del DEV id N endpoint IP:PORT reason REASON
               key-exhausted DEV id N endpoint IP:PORT key-id K
             --count N: exit after N events; --timeout SECS: exit after
             SECS, with status 1 if fewer than N came

An error the kernel reports is printed with its extack message; the exit
status is then 1 (2 for a bad command line).
";

fn main() {
    let command = cli::parse(USAGE, |p| {
        let (mut opts, mut words) = (Opts::default(), Vec::new());
        while let Some(arg) = p.next()? {
            match arg {
                Long("json") => opts.json = true,
                Long("count") => opts.count = Some(p.value()?.parse()?),
                Long("timeout") => opts.timeout = Some(p.value()?.parse()?),
                Short('h') | Long("help") => cli::help(USAGE),
                Value(word) => words.push(word.string()?),
                _ => return Err(arg.unexpected()),
            }
        }
        args::parse(&words, opts).map_err(cli::Error::from)
    });
    // Needs no kernel, so no module either.
    if command == Command::Genkey {
        match key::genkey() {
            Ok(text) => println!("{}", *text),
            Err(e) => fail(&format!("genkey: {e}")),
        }
        return;
    }
    let genl = Genl::connect().unwrap_or_else(|e| fail(&e.to_string()));
    if let Err(e) = run(&genl, &command) {
        fail(&format!("{}: {e}", command.name()));
    }
}

fn fail(why: &str) -> ! {
    eprintln!("xtunctl: {why}");
    std::process::exit(1);
}

fn run(genl: &Genl, command: &Command) -> Result<(), Error> {
    match command {
        Command::Set { dev, settings } => {
            genl.call(dev_message(Cmd::DevSet, ifindex(dev)?, settings_attrs(settings))).map(drop)
        }
        Command::PeerAdd { dev, id, endpoint, macs, keepalive } => {
            let mut peer: Vec<_> = id.map(|id| attr(Peer::Id, id)).into_iter().collect();
            peer.extend(endpoint_attrs(*endpoint));
            peer.extend(keepalive.map(|k| attr(Peer::Keepalive, k)));
            peer.extend(macs.iter().map(|mac| attr(Peer::Mac, *mac)));
            genl.call(dev_message(Cmd::PeerNew, ifindex(dev)?, vec![nest(Dev::Peer, &peer)])).map(drop)
        }
        Command::PeerDel { dev, peer } => {
            let peer = match peer {
                PeerRef::Endpoint(endpoint) => endpoint_attrs(*endpoint).to_vec(),
                PeerRef::Id(id) => vec![attr(Peer::Id, *id)],
            };
            genl.call(dev_message(Cmd::PeerDel, ifindex(dev)?, vec![nest(Dev::Peer, &peer)])).map(drop)
        }
        Command::KeyAdd { dev, peer, key } => {
            let send = key::read("send-key", &key.send_key)?;
            let recv = key::read("recv-key", &key.recv_key)?;
            let msg = key_message(Cmd::KeyNew, ifindex(dev)?, *peer, &new_key_attrs(key, &send, &recv));
            // `send` and `recv` are wiped when they drop here; the copies
            // neli made in `msg` and in its send buffer are not (neli gives
            // no access to them), and the process ends right after.
            genl.call(msg).map(drop)
        }
        Command::KeySwap { dev, peer } => genl.call(key_message(Cmd::KeySwap, ifindex(dev)?, *peer, &[])).map(drop),
        Command::KeyDel { dev, peer, slot } => {
            genl.call(key_message(Cmd::KeyDel, ifindex(dev)?, *peer, &[attr(Keyconf::Slot, *slot)])).map(drop)
        }
        Command::Genkey => unreachable!("main runs genkey without netlink"),
        Command::Show { dev, json } => {
            let devices = devices(genl, dev.as_deref())?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&devices).expect("a Device always serializes"));
            } else {
                print!("{}", show::devices(&devices));
            }
            Ok(())
        }
        Command::Monitor { count, timeout } => monitor(genl, *count, *timeout),
    }
}

/// dev-set's attributes for what `set` names.
fn settings_attrs(s: &Settings) -> Vec<genl::Attr<Dev>> {
    let mut attrs = Vec::new();
    attrs.extend(s.listen_port.map(|port| attr(Dev::ListenPort, port)));
    // Network order, as the spec says (byte-order: big-endian).
    attrs.extend(s.local.map(|ip| attr(Dev::LocalIpv4, ip.octets())));
    attrs.extend(s.vni.map(|vni| attr(Dev::Vni, vni)));
    attrs.extend(s.learn.map(|on| attr(Dev::Learn, u8::from(on))));
    attrs.extend(s.peer_timeout.map(|secs| attr(Dev::PeerTimeout, secs)));
    attrs.extend(s.max_peers.map(|n| attr(Dev::MaxPeers, n)));
    attrs.extend(s.max_macs.map(|n| attr(Dev::MaxMacs, n)));
    attrs.extend(s.secure.map(|on| attr(Dev::Secure, u8::from(on))));
    attrs
}

/// key-new's keyconf nest for what `key add` names, with the keys read
/// from its files.
fn new_key_attrs(k: &NewKey, send: &key::Key, recv: &key::Key) -> Vec<genl::Attr<Keyconf>> {
    let mut attrs = vec![
        attr(Keyconf::Slot, k.slot),
        attr(Keyconf::KeyId, k.key_id),
        attr(Keyconf::Cipher, k.cipher),
        // As slices: a by-value array would leave an unwiped copy behind.
        attr(Keyconf::SendKey, &send[..]),
        attr(Keyconf::RecvKey, &recv[..]),
    ];
    // A `uint`: the kernel takes 4 or 8 bytes.
    attrs.extend(k.counter.map(|n| attr(Keyconf::SendCounter, n)));
    attrs
}

/// DEV, or every device, each with its peers (a tap device has none).
fn devices(genl: &Genl, dev: Option<&str>) -> Result<Vec<Device>, Error> {
    let replies = match dev {
        Some(dev) => genl.call(dev_message(Cmd::DevGet, ifindex(dev)?, Vec::new()))?,
        None => genl.dump(message(Cmd::DevGet, Vec::new()))?,
    };
    let mut devices = replies.iter().map(Device::parse).collect::<Result<Vec<_>, _>>()?;
    for d in devices.iter_mut().filter(|d| d.is_tunnel()) {
        for reply in genl.dump(dev_message(Cmd::PeerGet, d.ifindex, Vec::new()))? {
            d.peer_list.extend(peers_of(&reply)?);
        }
        d.peer_list.sort_by_key(|p| p.id);
    }
    Ok(devices)
}

/// Prints peer events until `count` came (forever if None) or `timeout`
/// ran out; too few by then is an error.
fn monitor(genl: &Genl, count: Option<u64>, timeout: Option<Duration>) -> Result<(), Error> {
    genl.join(MCGRP_PEERS)?;
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut seen = 0;
    'wait: while count.is_none_or(|c| seen < c) {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            break;
        }
        for msg in genl.receive(left)? {
            let Some(event) = Event::parse(&msg)? else { continue };
            println!("{}", show::event(&event, &ifname(event.ifindex)));
            // Each line as it happens, also into a pipe.
            let _ = std::io::stdout().flush();
            seen += 1;
            if count == Some(seen) {
                break 'wait;
            }
        }
    }
    match count {
        Some(c) if seen < c => Err(Error::Other(format!("{seen} of {c} events before the timeout"))),
        _ => Ok(()),
    }
}

fn ifindex(dev: &str) -> Result<u32, Error> {
    let name = CString::new(dev).map_err(|_| Error::Other(format!("bad device name {dev:?}")))?;
    // SAFETY: `name` is a NUL-terminated string that outlives the call.
    match unsafe { libc::if_nametoindex(name.as_ptr()) } {
        0 => Err(Error::Other(format!("{dev}: no such device"))),
        index => Ok(index),
    }
}

/// The device's name, or its index if it is gone.
fn ifname(index: u32) -> String {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `buf` has the IF_NAMESIZE bytes if_indextoname may write.
    if unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) }.is_null() {
        return index.to_string();
    }
    // SAFETY: on success if_indextoname wrote a NUL-terminated name into `buf`.
    unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use neli::attr::Attribute;

    use super::*;

    #[test]
    fn set_sends_secure_as_a_u8() {
        let s = Settings { secure: Some(true), vni: Some(42), ..Settings::default() };
        let attrs = settings_attrs(&s);
        let secure = attrs.iter().find(|a| *a.nla_type().nla_type() == Dev::Secure).unwrap();
        assert_eq!(secure.payload().as_ref(), [1]);
        let off = settings_attrs(&Settings { secure: Some(false), ..Settings::default() });
        assert_eq!(off.len(), 1);
        assert_eq!(off[0].payload().as_ref(), [0]);
        assert!(settings_attrs(&Settings::default()).is_empty());
    }

    #[test]
    fn key_add_sends_the_slot_id_cipher_keys_and_counter() {
        let (send, recv) = (key::Key::new([1; 32]), key::Key::new([2; 32]));
        let mut k = NewKey {
            slot: 1,
            key_id: 9,
            cipher: 1,
            send_key: "a".into(),
            recv_key: "b".into(),
            counter: Some(1 << 40),
        };
        let attrs = new_key_attrs(&k, &send, &recv);
        let payload =
            |t: Keyconf| attrs.iter().find(|a| *a.nla_type().nla_type() == t).unwrap().payload().as_ref().to_vec();
        assert_eq!(payload(Keyconf::Slot), 1u32.to_ne_bytes());
        assert_eq!(payload(Keyconf::KeyId), 9u32.to_ne_bytes());
        assert_eq!(payload(Keyconf::Cipher), 1u32.to_ne_bytes());
        assert_eq!(payload(Keyconf::SendKey), [1; 32]);
        assert_eq!(payload(Keyconf::RecvKey), [2; 32]);
        assert_eq!(payload(Keyconf::SendCounter), (1u64 << 40).to_ne_bytes());
        // No counter: the kernel starts at 0.
        k.counter = None;
        let attrs = new_key_attrs(&k, &send, &recv);
        assert!(attrs.iter().all(|a| *a.nla_type().nla_type() != Keyconf::SendCounter));
        assert_eq!(attrs.len(), 5);
    }
}
