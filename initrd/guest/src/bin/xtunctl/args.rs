//! The command line, in wg(8)'s manner (`set xt0 vni 42 learn on`): the
//! words after the options become a [`Command`], without asking the
//! kernel anything. Ranges (vni < 2^24, port >= 1, ...) are the kernel's
//! to check: its policy says what is wrong, and xtunctl prints that.

use std::{net::SocketAddrV4, str::FromStr, time::Duration};

use xtun_guest::parse_mac;

use crate::model::Settings;

/// The options, which may stand anywhere among the words.
#[derive(Debug, Default)]
pub struct Opts {
    pub json: bool,
    pub count: Option<u64>,
    pub timeout: Option<u64>,
}

#[derive(Debug, PartialEq)]
pub enum Command {
    Set { dev: String, settings: Settings },
    PeerAdd { dev: String, endpoint: SocketAddrV4, macs: Vec<[u8; 6]>, keepalive: Option<u32> },
    PeerDel { dev: String, peer: PeerRef },
    Show { dev: Option<String>, json: bool },
    Monitor { count: Option<u64>, timeout: Option<Duration> },
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

fn set(w: &mut Words) -> Result<Command, String> {
    let dev = dev(w, "set")?;
    let mut s = Settings::default();
    while let Some(key) = w.next().map(String::as_str) {
        match key {
            "listen-port" => once(&mut s.listen_port, key, number(w, key)?)?,
            "local" => once(&mut s.local, key, number(w, key)?)?,
            "vni" => once(&mut s.vni, key, number(w, key)?)?,
            "learn" => {
                let on = match value(w, key)? {
                    "on" => true,
                    "off" => false,
                    other => return Err(format!("learn is on or off, not {other:?}")),
                };
                once(&mut s.learn, key, on)?
            }
            "peer-timeout" => once(&mut s.peer_timeout, key, number(w, key)?)?,
            "max-peers" => once(&mut s.max_peers, key, number(w, key)?)?,
            "max-macs" => once(&mut s.max_macs, key, number(w, key)?)?,
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
    let (mut address, mut macs, mut keepalive) = (None, Vec::new(), None);
    while let Some(key) = w.next().map(String::as_str) {
        match key {
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
    Ok(Command::PeerAdd { dev, endpoint, macs, keepalive })
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
        let Command::Set { dev, settings } =
            p("set xt0 listen-port 4789 local 10.0.0.1 vni 42 learn on peer-timeout 30 max-peers 8 max-macs 9")
                .unwrap()
        else {
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
            }
        );
        let Command::Set { settings, .. } = p("set xt0 learn off").unwrap() else { panic!() };
        assert_eq!(settings, Settings { learn: Some(false), ..Settings::default() });
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
