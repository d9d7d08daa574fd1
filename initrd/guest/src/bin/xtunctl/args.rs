//! The command line, in wg(8)'s manner (`set xt0 vni 42 learn on`): the
//! words after the options become a [`Command`], without asking the
//! kernel anything. Ranges (vni < 2^24, port >= 1, ...) are the kernel's
//! to check: its policy says what is wrong, and xtunctl prints that.

use std::{net::SocketAddrV4, str::FromStr, time::Duration};

use xtun_guest::parse_mac;

use crate::{
    genl::{CIPHERS, KEY_SLOTS},
    model::Settings,
};

/// The options, which may stand anywhere among the words.
#[derive(Debug, Default)]
pub struct Opts {
    pub json: bool,
    pub count: Option<u64>,
    pub timeout: Option<u64>,
}

#[derive(Debug, PartialEq)]
pub enum Command {
    Set {
        dev: String,
        settings: Settings,
    },
    PeerAdd {
        dev: String,
        id: Option<u32>,
        endpoint: SocketAddrV4,
        macs: Vec<[u8; 6]>,
        keepalive: Option<u32>,
    },
    PeerDel {
        dev: String,
        peer: PeerRef,
    },
    /// `peer` is the peer's id.
    KeyAdd {
        dev: String,
        peer: u32,
        key: NewKey,
    },
    KeySwap {
        dev: String,
        peer: u32,
    },
    /// `slot` indexes KEY_SLOTS.
    KeyDel {
        dev: String,
        peer: u32,
        slot: u32,
    },
    Genkey,
    Show {
        dev: Option<String>,
        json: bool,
    },
    Monitor {
        count: Option<u64>,
        timeout: Option<Duration>,
    },
}

/// What `key add` installs; the keys stay in their files until the
/// command runs.
#[derive(Debug, PartialEq)]
pub struct NewKey {
    /// Indexes KEY_SLOTS.
    pub slot: u32,
    pub key_id: u32,
    /// Indexes CIPHERS.
    pub cipher: u32,
    pub send_key: String,
    pub recv_key: String,
    /// The first send counter; the kernel's default is 0.
    pub counter: Option<u64>,
}

/// Which peer `peer del` deletes.
#[derive(Debug, PartialEq)]
pub enum PeerRef {
    Endpoint(SocketAddrV4),
    Id(u32),
}

impl Command {
    /// How error messages name the command.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Set { .. } => "set",
            Command::PeerAdd { .. } => "peer add",
            Command::PeerDel { .. } => "peer del",
            Command::KeyAdd { .. } => "key add",
            Command::KeySwap { .. } => "key swap",
            Command::KeyDel { .. } => "key del",
            Command::Genkey => "genkey",
            Command::Show { .. } => "show",
            Command::Monitor { .. } => "monitor",
        }
    }
}

type Words<'a> = std::slice::Iter<'a, String>;

pub fn parse(words: &[String], opts: Opts) -> Result<Command, String> {
    let mut w = words.iter();
    let command = match w.next().map(String::as_str) {
        Some("set") => set(&mut w)?,
        Some("peer") => match w.next().map(String::as_str) {
            Some("add") => peer_add(&mut w)?,
            Some("del") => peer_del(&mut w)?,
            Some(other) => return Err(format!("unknown peer command {other:?} (add or del)")),
            None => return Err("peer needs add or del".into()),
        },
        Some("key") => match w.next().map(String::as_str) {
            Some("add") => key_add(&mut w)?,
            Some("swap") => key_swap(&mut w)?,
            Some("del") => key_del(&mut w)?,
            Some(other) => return Err(format!("unknown key command {other:?} (add, swap or del)")),
            None => return Err("key needs add, swap or del".into()),
        },
        Some("genkey") => Command::Genkey,
        Some("show") => Command::Show { dev: w.next().cloned(), json: opts.json },
        Some("monitor") => Command::Monitor { count: opts.count, timeout: opts.timeout.map(Duration::from_secs) },
        Some(other) => return Err(format!("unknown command {other:?}")),
        None => return Err("no command".into()),
    };
    if let Some(extra) = w.next() {
        return Err(format!("{}: unexpected {extra:?}", command.name()));
    }
    if opts.json && !matches!(command, Command::Show { .. }) {
        return Err("--json is for show".into());
    }
    if (opts.count.is_some() || opts.timeout.is_some()) && !matches!(command, Command::Monitor { .. }) {
        return Err("--count and --timeout are for monitor".into());
    }
    Ok(command)
}

fn dev(w: &mut Words, command: &str) -> Result<String, String> {
    w.next().cloned().ok_or_else(|| format!("{command} needs a device name"))
}

/// The value after `key`.
fn value<'a>(w: &mut Words<'a>, key: &str) -> Result<&'a str, String> {
    w.next().map(String::as_str).ok_or_else(|| format!("{key} needs a value"))
}

fn number<T: FromStr>(w: &mut Words, key: &str) -> Result<T, String> {
    let text = value(w, key)?;
    text.parse().map_err(|_| format!("bad {key} {text:?}"))
}

/// Sets `slot` once: a key given twice is a mistake.
fn once<T>(slot: &mut Option<T>, key: &str, value: T) -> Result<(), String> {
    if slot.replace(value).is_some() {
        return Err(format!("{key} given twice"));
    }
    Ok(())
}

/// The value after `key`, one of `names`: its index.
fn choice(w: &mut Words, key: &str, names: &[&str]) -> Result<u32, String> {
    let text = value(w, key)?;
    match names.iter().position(|name| *name == text) {
        Some(index) => Ok(index as u32),
        None => Err(format!("{key} is {}, not {text:?}", names.join(" or "))),
    }
}

fn on_off(w: &mut Words, key: &str) -> Result<bool, String> {
    match value(w, key)? {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("{key} is on or off, not {other:?}")),
    }
}

fn set(w: &mut Words) -> Result<Command, String> {
    let dev = dev(w, "set")?;
    let mut s = Settings::default();
    while let Some(key) = w.next().map(String::as_str) {
        match key {
            "listen-port" => once(&mut s.listen_port, key, number(w, key)?)?,
            "local" => once(&mut s.local, key, number(w, key)?)?,
            "vni" => once(&mut s.vni, key, number(w, key)?)?,
            "learn" => once(&mut s.learn, key, on_off(w, key)?)?,
            "peer-timeout" => once(&mut s.peer_timeout, key, number(w, key)?)?,
            "max-peers" => once(&mut s.max_peers, key, number(w, key)?)?,
            "max-macs" => once(&mut s.max_macs, key, number(w, key)?)?,
            "secure" => once(&mut s.secure, key, on_off(w, key)?)?,
            other => return Err(format!("set: unknown setting {other:?}")),
        }
    }
    if s == Settings::default() {
        return Err("set: nothing to set".into());
    }
    Ok(Command::Set { dev, settings: s })
}

fn endpoint(w: &mut Words) -> Result<SocketAddrV4, String> {
    let text = value(w, "endpoint")?;
    text.parse().map_err(|_| format!("bad endpoint {text:?} (IPv4:PORT)"))
}

fn peer_add(w: &mut Words) -> Result<Command, String> {
    let dev = dev(w, "peer add")?;
    let (mut id, mut address, mut macs, mut keepalive) = (None, None, Vec::new(), None);
    while let Some(key) = w.next().map(String::as_str) {
        match key {
            "id" => once(&mut id, key, number(w, key)?)?,
            "endpoint" => once(&mut address, key, endpoint(w)?)?,
            "mac" => {
                let text = value(w, key)?;
                macs.push(parse_mac(text).ok_or_else(|| format!("bad mac {text:?}"))?);
            }
            "keepalive" => once(&mut keepalive, key, number(w, key)?)?,
            other => return Err(format!("peer add: unknown setting {other:?}")),
        }
    }
    let endpoint = address.ok_or("peer add needs endpoint IP:PORT")?;
    Ok(Command::PeerAdd { dev, id, endpoint, macs, keepalive })
}

fn peer_del(w: &mut Words) -> Result<Command, String> {
    let dev = dev(w, "peer del")?;
    let peer = match w.next().map(String::as_str) {
        Some("endpoint") => PeerRef::Endpoint(endpoint(w)?),
        Some("id") => PeerRef::Id(number(w, "id")?),
        _ => return Err("peer del needs endpoint IP:PORT or id N".into()),
    };
    Ok(Command::PeerDel { dev, peer })
}

/// `peer ID`, which every key command starts with.
fn key_peer(w: &mut Words, command: &str) -> Result<(String, u32), String> {
    let dev = dev(w, command)?;
    match w.next().map(String::as_str) {
        Some("peer") => Ok((dev, number(w, "peer")?)),
        _ => Err(format!("{command} needs peer ID")),
    }
}

fn key_add(w: &mut Words) -> Result<Command, String> {
    let (dev, peer) = key_peer(w, "key add")?;
    let (mut slot, mut key_id, mut cipher, mut send_key, mut recv_key, mut counter) =
        (None, None, None, None, None, None);
    while let Some(key) = w.next().map(String::as_str) {
        match key {
            "slot" => once(&mut slot, key, choice(w, key, KEY_SLOTS)?)?,
            "key-id" => once(&mut key_id, key, number(w, key)?)?,
            "cipher" => once(&mut cipher, key, choice(w, key, CIPHERS)?)?,
            "send-key" => once(&mut send_key, key, value(w, key)?.to_string())?,
            "recv-key" => once(&mut recv_key, key, value(w, key)?.to_string())?,
            "counter" => once(&mut counter, key, number(w, key)?)?,
            other => return Err(format!("key add: unknown setting {other:?}")),
        }
    }
    let key = NewKey {
        slot: slot.unwrap_or(0),
        key_id: key_id.ok_or("key add needs key-id K")?,
        cipher: cipher.ok_or("key add needs cipher C")?,
        send_key: send_key.ok_or("key add needs send-key FILE")?,
        recv_key: recv_key.ok_or("key add needs recv-key FILE")?,
        counter,
    };
    Ok(Command::KeyAdd { dev, peer, key })
}

fn key_swap(w: &mut Words) -> Result<Command, String> {
    let (dev, peer) = key_peer(w, "key swap")?;
    Ok(Command::KeySwap { dev, peer })
}

fn key_del(w: &mut Words) -> Result<Command, String> {
    let (dev, peer) = key_peer(w, "key del")?;
    match w.next().map(String::as_str) {
        Some("slot") => Ok(Command::KeyDel { dev, peer, slot: choice(w, "slot", KEY_SLOTS)? }),
        _ => Err("key del needs slot primary or slot secondary".into()),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn p(line: &str) -> Result<Command, String> {
        p_with(line, Opts::default())
    }

    fn p_with(line: &str, opts: Opts) -> Result<Command, String> {
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&words, opts)
    }

    #[test]
    fn set_takes_any_settings_once() {
        let Command::Set { dev, settings } = p(
            "set xt0 listen-port 4789 local 10.0.0.1 vni 42 learn on peer-timeout 30 max-peers 8 max-macs 9 secure on",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(dev, "xt0");
        assert_eq!(
            settings,
            Settings {
                listen_port: Some(4789),
                local: Some(Ipv4Addr::new(10, 0, 0, 1)),
                vni: Some(42),
                learn: Some(true),
                peer_timeout: Some(30),
                max_peers: Some(8),
                max_macs: Some(9),
                secure: Some(true),
            }
        );
        let Command::Set { settings, .. } = p("set xt0 learn off").unwrap() else { panic!() };
        assert_eq!(settings, Settings { learn: Some(false), ..Settings::default() });
        let Command::Set { settings, .. } = p("set xt0 secure off").unwrap() else { panic!() };
        assert_eq!(settings, Settings { secure: Some(false), ..Settings::default() });
        assert_eq!(p("set xt0 secure 1").unwrap_err(), "secure is on or off, not \"1\"");
        assert_eq!(p("set xt0 vni 1 vni 2").unwrap_err(), "vni given twice");
        assert_eq!(p("set xt0 learn yes").unwrap_err(), "learn is on or off, not \"yes\"");
        assert_eq!(p("set xt0 listen-port 70000").unwrap_err(), "bad listen-port \"70000\"");
        assert_eq!(p("set xt0 vni").unwrap_err(), "vni needs a value");
        assert_eq!(p("set xt0").unwrap_err(), "set: nothing to set");
        assert_eq!(p("set").unwrap_err(), "set needs a device name");
        assert!(p("set xt0 colour blue").unwrap_err().contains("unknown setting"));
        assert!(p("set xt0 local 10.0.0.300").is_err());
    }

    #[test]
    fn peer_add_needs_an_endpoint_and_takes_many_macs() {
        let cmd = p("peer add xt0 mac 02:00:00:00:00:01 endpoint 10.0.0.2:4789 mac 02:00:00:00:00:02 keepalive 25");
        assert_eq!(
            cmd.unwrap(),
            Command::PeerAdd {
                dev: "xt0".into(),
                id: None,
                endpoint: "10.0.0.2:4789".parse().unwrap(),
                macs: vec![[2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]],
                keepalive: Some(25),
            }
        );
        assert_eq!(p("peer add xt0 mac 02:00:00:00:00:01").unwrap_err(), "peer add needs endpoint IP:PORT");
        assert!(p("peer add xt0 endpoint 10.0.0.2").unwrap_err().contains("IPv4:PORT"));
        assert!(p("peer add xt0 endpoint [::1]:5").is_err());
        assert_eq!(p("peer add xt0 endpoint 1.2.3.4:5 mac 02:00").unwrap_err(), "bad mac \"02:00\"");
    }

    #[test]
    fn peer_add_takes_an_id_for_secure_mode() {
        let Command::PeerAdd { id, .. } = p("peer add xt0 endpoint 10.0.0.2:4789 id 7").unwrap() else { panic!() };
        assert_eq!(id, Some(7));
        // 0 is the kernel's to refuse (its policy: min 1), with its message.
        let Command::PeerAdd { id, .. } = p("peer add xt0 id 0 endpoint 10.0.0.2:4789").unwrap() else { panic!() };
        assert_eq!(id, Some(0));
        assert_eq!(p("peer add xt0 id 1 id 2 endpoint 10.0.0.2:4789").unwrap_err(), "id given twice");
        assert_eq!(p("peer add xt0 id -1 endpoint 10.0.0.2:4789").unwrap_err(), "bad id \"-1\"");
        assert_eq!(p("peer add xt0 id 4294967296").unwrap_err(), "bad id \"4294967296\"");
    }

    #[test]
    fn key_add_needs_id_cipher_and_both_key_files() {
        let cmd = p("key add xt0 peer 7 key-id 1 cipher aes-256-gcm send-key /tmp/k1 recv-key /tmp/k2").unwrap();
        let key = NewKey {
            slot: 0,
            key_id: 1,
            cipher: 0,
            send_key: "/tmp/k1".into(),
            recv_key: "/tmp/k2".into(),
            counter: None,
        };
        assert_eq!(cmd, Command::KeyAdd { dev: "xt0".into(), peer: 7, key });
        let Command::KeyAdd { key, .. } =
            p("key add xt0 peer 7 recv-key b send-key a cipher chacha20-poly1305 slot secondary key-id 255 counter 18446744073709551615").unwrap()
        else {
            panic!()
        };
        assert_eq!((key.slot, key.key_id, key.cipher, key.counter), (1, 255, 1, Some(u64::MAX)));
        assert_eq!((key.send_key.as_str(), key.recv_key.as_str()), ("a", "b"));

        let full = "key add xt0 peer 7 key-id 1 cipher aes-256-gcm send-key a recv-key b";
        assert_eq!(p(&full.replace(" key-id 1", "")).unwrap_err(), "key add needs key-id K");
        assert_eq!(p(&full.replace(" cipher aes-256-gcm", "")).unwrap_err(), "key add needs cipher C");
        assert_eq!(p(&full.replace(" send-key a", "")).unwrap_err(), "key add needs send-key FILE");
        assert_eq!(p(&full.replace(" recv-key b", "")).unwrap_err(), "key add needs recv-key FILE");
        assert_eq!(p(&full.replace("peer 7 ", "")).unwrap_err(), "key add needs peer ID");
        assert_eq!(p("key add xt0 peer x").unwrap_err(), "bad peer \"x\"");
        assert_eq!(
            p(&full.replace("aes-256-gcm", "aes-128-gcm")).unwrap_err(),
            "cipher is aes-256-gcm or chacha20-poly1305, not \"aes-128-gcm\""
        );
        assert_eq!(p(&format!("{full} slot third")).unwrap_err(), "slot is primary or secondary, not \"third\"");
        assert_eq!(p(&format!("{full} key-id 2")).unwrap_err(), "key-id given twice");
        assert_eq!(p(&format!("{full} send-key")).unwrap_err(), "send-key needs a value");
        assert!(p(&format!("{full} colour blue")).unwrap_err().contains("unknown setting"));
        assert_eq!(p("key add").unwrap_err(), "key add needs a device name");
    }

    #[test]
    fn key_swap_and_del_name_the_peer_and_del_its_slot() {
        assert_eq!(p("key swap xt0 peer 7").unwrap(), Command::KeySwap { dev: "xt0".into(), peer: 7 });
        assert_eq!(p("key swap xt0").unwrap_err(), "key swap needs peer ID");
        assert_eq!(p("key swap xt0 peer 7 slot primary").unwrap_err(), "key swap: unexpected \"slot\"");
        assert_eq!(
            p("key del xt0 peer 7 slot secondary").unwrap(),
            Command::KeyDel { dev: "xt0".into(), peer: 7, slot: 1 }
        );
        assert_eq!(
            p("key del xt0 peer 7 slot primary").unwrap(),
            Command::KeyDel { dev: "xt0".into(), peer: 7, slot: 0 }
        );
        assert_eq!(p("key del xt0 peer 7").unwrap_err(), "key del needs slot primary or slot secondary");
        assert!(p("key").unwrap_err().contains("add, swap or del"));
        assert!(p("key rotate xt0").unwrap_err().contains("add, swap or del"));
    }

    #[test]
    fn genkey_takes_nothing() {
        assert_eq!(p("genkey").unwrap(), Command::Genkey);
        assert_eq!(p("genkey xt0").unwrap_err(), "genkey: unexpected \"xt0\"");
    }

    #[test]
    fn peer_del_by_endpoint_or_id() {
        let by_id = p("peer del xt0 id 7").unwrap();
        assert_eq!(by_id, Command::PeerDel { dev: "xt0".into(), peer: PeerRef::Id(7) });
        let by_endpoint = p("peer del xt0 endpoint 10.0.0.2:4789").unwrap();
        assert_eq!(
            by_endpoint,
            Command::PeerDel { dev: "xt0".into(), peer: PeerRef::Endpoint("10.0.0.2:4789".parse().unwrap()) }
        );
        assert!(p("peer del xt0").is_err());
        assert_eq!(p("peer del xt0 id 7 id 8").unwrap_err(), "peer del: unexpected \"id\"");
        assert!(p("peer").is_err());
        assert!(p("peer move xt0").unwrap_err().contains("add or del"));
    }

    #[test]
    fn show_and_monitor_take_their_options_only() {
        assert_eq!(p("show").unwrap(), Command::Show { dev: None, json: false });
        let json = Opts { json: true, ..Opts::default() };
        assert_eq!(p_with("show xt0", json).unwrap(), Command::Show { dev: Some("xt0".into()), json: true });
        assert!(p("show xt0 xt1").is_err());
        let opts = Opts { count: Some(2), timeout: Some(10), ..Opts::default() };
        assert_eq!(
            p_with("monitor", opts).unwrap(),
            Command::Monitor { count: Some(2), timeout: Some(Duration::from_secs(10)) }
        );
        assert_eq!(p_with("set xt0 vni 1", Opts { json: true, ..Opts::default() }).unwrap_err(), "--json is for show");
        assert!(p_with("show", Opts { count: Some(1), ..Opts::default() }).is_err());
        assert!(p("").is_err());
        assert!(p("frobnicate").unwrap_err().contains("unknown command"));
    }
}
