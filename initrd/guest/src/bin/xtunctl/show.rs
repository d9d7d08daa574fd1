//! The human output of `show` and `monitor`, in the manner of `wg show`: a
//! block per device, then a block per peer; what the kernel did not report
//! is left out.

use std::fmt::Write;

use crate::model::{Device, Event, EventKind, KeySlot, Peer};

/// Milliseconds as "3.2 s", "4 min 5 s" or "2 h 3 min" (rounded down).
pub fn duration(ms: u64) -> String {
    match ms {
        0..=59_999 => format!("{}.{} s", ms / 1000, ms / 100 % 10),
        60_000..=3_599_999 => format!("{} min {} s", ms / 60_000, ms / 1000 % 60),
        _ => format!("{} h {} min", ms / 3_600_000, ms / 60_000 % 60),
    }
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// One `  name: value` line if there is a value.
fn line<T: std::fmt::Display>(out: &mut String, name: &str, value: Option<T>) {
    if let Some(value) = value {
        writeln!(out, "  {name}: {value}").expect("writing to a String cannot fail");
    }
}

pub fn device(d: &Device) -> String {
    let mut out = format!("interface {}\n", d.ifname.as_deref().unwrap_or("?"));
    line(&mut out, "ifindex", Some(d.ifindex));
    line(&mut out, "mode", d.mode.as_ref());
    let s = &d.settings;
    line(&mut out, "listening port", s.listen_port);
    line(&mut out, "local", s.local);
    line(&mut out, "vni", s.vni);
    line(&mut out, "learn", s.learn.map(on_off));
    line(&mut out, "secure", s.secure.map(on_off));
    line(&mut out, "peer timeout", s.peer_timeout.map(|secs| format!("{secs} s")));
    line(&mut out, "max peers", s.max_peers);
    line(&mut out, "max macs", s.max_macs);
    line(&mut out, "peers", d.peers);
    line(&mut out, "rx-unknown-src", d.rx_unknown_src);
    line(&mut out, "rx-bad", d.rx_bad);
    line(&mut out, "rx-wrong-vni", d.rx_wrong_vni);
    line(&mut out, "tx-no-peer", d.tx_no_peer);
    line(&mut out, "rx-auth-fail", d.rx_auth_fail);
    line(&mut out, "rx-replay", d.rx_replay);
    line(&mut out, "tx-no-key", d.tx_no_key);
    for p in &d.peer_list {
        out.push('\n');
        out += &peer(p);
    }
    out
}

pub fn peer(p: &Peer) -> String {
    let mut out = format!("peer {}\n", p.id.map_or("?".to_string(), |id| id.to_string()));
    line(&mut out, "endpoint", p.endpoint);
    line(&mut out, "type", Some(if p.is_static { "static" } else { "learned" }));
    line(&mut out, "macs", (!p.macs.is_empty()).then(|| p.macs.join(", ")));
    line(&mut out, "last seen", p.last_seen_ms.map(|ms| format!("{} ago", duration(ms))));
    line(&mut out, "expires in", p.expires_ms.map(duration));
    line(&mut out, "keepalive", p.keepalive.map(|s| if s == 0 { "off".to_string() } else { format!("every {s} s") }));
    let count = |packets: Option<u64>, bytes: Option<u64>| Some(format!("{} packets, {} bytes", packets?, bytes?));
    line(&mut out, "rx", count(p.rx_packets, p.rx_bytes));
    line(&mut out, "tx", count(p.tx_packets, p.tx_bytes));
    line(&mut out, "rx-auth-fail", p.rx_auth_fail);
    line(&mut out, "rx-replay", p.rx_replay);
    for k in &p.key_slots {
        line(&mut out, &format!("key {}", k.slot.as_deref().unwrap_or("?")), Some(key_slot(k)));
    }
    out
}

/// "key-id 1, aes-256-gcm, send-counter 17, driver gcm-aes-aesni": what
/// the slot holds, never the key.
fn key_slot(k: &KeySlot) -> String {
    let parts = [
        k.key_id.map(|id| format!("key-id {id}")),
        k.cipher.clone(),
        k.send_counter.map(|n| format!("send-counter {n}")),
        k.driver.as_ref().map(|d| format!("driver {d}")),
    ];
    parts.into_iter().flatten().collect::<Vec<_>>().join(", ")
}

/// Every device block, a blank line between them.
pub fn devices(devices: &[Device]) -> String {
    devices.iter().map(device).collect::<Vec<_>>().join("\n")
}

/// One `monitor` line; `dev` names the event's device.
pub fn event(e: &Event, dev: &str) -> String {
    let id = e.peer.id.map_or("?".to_string(), |id| id.to_string());
    let endpoint = e.peer.endpoint.map_or("?".to_string(), |a| a.to_string());
    match e.kind {
        EventKind::PeerLearned => format!("peer-learned {dev} id {id} endpoint {endpoint}"),
        EventKind::PeerDel => {
            let reason = e.peer.del_reason.as_deref().unwrap_or("?");
            format!("peer-del {dev} id {id} endpoint {endpoint} reason {reason}")
        }
        EventKind::KeyExhausted => {
            // The spent key is the primary's.
            let primary = e.peer.key_slots.iter().find(|k| k.slot.as_deref() == Some("primary"));
            let key_id = primary.and_then(|k| k.key_id).map_or("?".to_string(), |id| id.to_string());
            format!("key-exhausted {dev} id {id} endpoint {endpoint} key-id {key_id}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        genl::{attr, message, Cmd, Dev},
        model::{fake, peers_of},
    };

    fn example() -> Device {
        let mut d = Device::parse(&fake::device(1)).unwrap();
        d.peer_list =
            peers_of(&message(Cmd::PeerGet, vec![fake::peer_nest(3, true), fake::peer_nest(4, false)])).unwrap();
        d
    }

    #[test]
    fn durations() {
        assert_eq!(duration(3200), "3.2 s");
        assert_eq!(duration(0), "0.0 s");
        assert_eq!(duration(59_999), "59.9 s");
        assert_eq!(duration(245_000), "4 min 5 s");
        assert_eq!(duration(7_380_000), "2 h 3 min");
    }

    #[test]
    fn human_output_is_a_device_block_then_peer_blocks() {
        let expected = "\
interface xt0
  ifindex: 5
  mode: tunnel
  listening port: 4789
  local: 192.168.1.2
  vni: 42
  learn: on
  secure: on
  peer timeout: 180 s
  max peers: 16384
  max macs: 1024
  peers: 1
  rx-unknown-src: 7
  rx-bad: 0
  rx-wrong-vni: 1
  tx-no-peer: 2
  rx-auth-fail: 3
  rx-replay: 4
  tx-no-key: 5

peer 3
  endpoint: 10.0.0.2:4789
  type: learned
  macs: 02:00:00:00:00:01, 02:00:00:00:00:02
  last seen: 3.2 s ago
  expires in: 2 min 56 s
  keepalive: every 25 s
  rx: 10 packets, 5000000000 bytes
  tx: 12 packets, 1480 bytes

peer 4
  endpoint: 10.0.0.2:4789
  type: static
  macs: 02:00:00:00:00:01, 02:00:00:00:00:02
  last seen: 3.2 s ago
  keepalive: every 25 s
  rx: 10 packets, 5000000000 bytes
  tx: 12 packets, 1480 bytes
";
        assert_eq!(device(&example()), expected);
    }

    #[test]
    fn missing_attributes_are_left_out() {
        let d = Device::parse(&message(Cmd::DevGet, vec![attr(Dev::Ifindex, 9u32), attr(Dev::Mode, 0u32)])).unwrap();
        assert_eq!(device(&d), "interface ?\n  ifindex: 9\n  mode: tap\n");
        assert_eq!(
            devices(&[d, Device::default()]),
            "interface ?\n  ifindex: 9\n  mode: tap\n\ninterface ?\n  ifindex: 0\n"
        );
    }

    #[test]
    fn json_has_snake_case_keys_and_nulls() {
        let json: serde_json::Value = serde_json::to_value([example()]).unwrap();
        let d = &json[0];
        assert_eq!(
            (d["ifname"].as_str(), d["mode"].as_str(), d["local"].as_str()),
            (Some("xt0"), Some("tunnel"), Some("192.168.1.2"))
        );
        assert_eq!(
            (d["listen_port"].as_u64(), d["learn"].as_bool(), d["rx_wrong_vni"].as_u64()),
            (Some(4789), Some(true), Some(1))
        );
        let (learned, fixed) = (&d["peer_list"][0], &d["peer_list"][1]);
        assert_eq!(learned["endpoint"], "10.0.0.2:4789");
        assert_eq!((learned["static"].as_bool(), learned["expires_ms"].as_u64()), (Some(false), Some(176_800)));
        assert_eq!((fixed["static"].as_bool(), fixed["expires_ms"].is_null()), (Some(true), true));
        assert_eq!(learned["macs"][1], "02:00:00:00:00:02");
        assert_eq!(learned["rx_bytes"].as_u64(), Some(5_000_000_000));
        assert!(learned.get("del_reason").is_none());
        let keys: Vec<&String> = d.as_object().unwrap().keys().collect();
        assert_eq!((d["secure"].as_bool(), d["tx_no_key"].as_u64()), (Some(true), Some(5)));
        assert_eq!(keys.len(), 20, "{keys:?}");
    }

    #[test]
    fn monitor_lines() {
        let learned = Event {
            kind: EventKind::PeerLearned,
            ifindex: 5,
            peer: Device::default().peer_list.pop().unwrap_or_default(),
        };
        assert_eq!(event(&learned, "xt0"), "peer-learned xt0 id ? endpoint ?");
        let mut peer = example().peer_list.remove(0);
        peer.del_reason = Some("expired".into());
        let del = Event { kind: EventKind::PeerDel, ifindex: 5, peer };
        assert_eq!(event(&del, "xt0"), "peer-del xt0 id 3 endpoint 10.0.0.2:4789 reason expired");
        let peer = Peer::parse(&fake::secure_peer_nest(7)).unwrap();
        let exhausted = Event { kind: EventKind::KeyExhausted, ifindex: 5, peer };
        assert_eq!(event(&exhausted, "xt0"), "key-exhausted xt0 id 7 endpoint 10.0.0.2:4789 key-id 1");
        let bare = Event { kind: EventKind::KeyExhausted, ifindex: 5, peer: Peer::default() };
        assert_eq!(event(&bare, "xt0"), "key-exhausted xt0 id ? endpoint ? key-id ?");
    }

    #[test]
    fn a_secure_peer_shows_its_counters_and_key_slots() {
        let expected = "\
peer 7
  endpoint: 10.0.0.2:4789
  type: static
  rx-auth-fail: 3
  rx-replay: 0
  key primary: key-id 1, aes-256-gcm, send-counter 17, driver gcm-aes-aesni
  key secondary: key-id 2, chacha20-poly1305, send-counter 0, driver rfc7539(chacha20-simd,poly1305-simd)
";
        assert_eq!(peer(&Peer::parse(&fake::secure_peer_nest(7)).unwrap()), expected);
        let json = serde_json::to_value(Peer::parse(&fake::secure_peer_nest(7)).unwrap()).unwrap();
        assert_eq!(json["rx_auth_fail"].as_u64(), Some(3));
        let primary = &json["key_slots"][0];
        assert_eq!((primary["slot"].as_str(), primary["key_id"].as_u64()), (Some("primary"), Some(1)));
        assert_eq!((primary["cipher"].as_str(), primary["send_counter"].as_u64()), (Some("aes-256-gcm"), Some(17)));
        assert_eq!(primary["driver"], "gcm-aes-aesni");
        assert_eq!(primary.as_object().unwrap().len(), 5);
    }
}
