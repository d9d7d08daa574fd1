//! An on-path attacker for the secure mode's tests: a UDP relay between a
//! tunnel's client and its server that flips bytes of, duplicates, reorders
//! or replays the client's datagrams. The client's peer is the relay, and
//! the server sees the relay as the client. The one line it prints at the
//! end says what it sent, for the test to compare with the counters.

use std::{
    io::{ErrorKind, Write},
    net::{SocketAddr, UdpSocket},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant, SystemTime},
};

use xtun_guest::{cli, cli::*, vxlan::Rng};

const USAGE: &str = "\
usage: xtun-mitm --listen IP:PORT --server IP:PORT MODE [--count N] [--seed N]

A UDP relay between a tunnel's client and its server that mangles the
client's datagrams on purpose. Datagrams to --listen from the server go
back to the client; those from anyone else go on to the server, and their
sender becomes the client. MODE acts on client-to-server datagrams only:
  pass              forward them unchanged
  flip OFF[,OFF...] XOR 0x20 into byte OFF of each UDP payload, the offsets
                    taken in turn datagram by datagram; OFF is taken modulo
                    the length, a negative OFF counts from the end (-1 is
                    the last byte), `random` is a random byte (--seed)
  dup               forward each twice (a replay)
  reverse N         forward each batch of N in reverse order (reordering);
                    a partial batch after 200 ms of silence, and at the end
  replay-old N      forward each, and after every N of them the first one
                    again (an old replay)
Options:
  --count N   stop after N client datagrams
  --seed N    the seed of flip's `random` (default from the clock; printed
              first as `# xtun-mitm seed N`)
It prints nothing else until SIGTERM, SIGINT or --count ends it, then:
`mitm forwarded=N mangled=N duplicated=N to_client=N`: client datagrams
sent on to the server, those of them with a byte flipped, extra copies
sent (dup, replay-old), server datagrams sent back to the client.
";

/// How long `reverse` holds a partial batch after the last client datagram.
const SILENCE: Duration = Duration::from_millis(200);
/// The longest a receive waits. signal-hook's handler has SA_RESTART: a
/// receive without a timeout would sleep on after SIGTERM; with one it
/// returns (EINTR, signal(7)) or times out, and the loop sees the flag.
const TICK: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Offset {
    At(i64),
    Random,
}

#[derive(Debug, PartialEq)]
enum Mode {
    Pass,
    Flip(Vec<Offset>),
    Dup,
    Reverse(usize),
    ReplayOld(u64),
}

struct Args {
    listen: String,
    server: SocketAddr,
    mode: Mode,
    count: Option<u64>,
    seed: Option<u64>,
}

fn parse_offsets(text: &str) -> Result<Vec<Offset>, Error> {
    text.split(',')
        .map(|o| match o {
            "random" => Ok(Offset::Random),
            _ => o.parse().map(Offset::At).map_err(|_| format!("flip: bad offset {o:?}").into()),
        })
        .collect()
}

fn parse_args() -> Args {
    cli::parse(USAGE, |p| {
        let (mut listen, mut server, mut mode, mut count, mut seed) = (None, None, None, None, None);
        let at_least_one = |n: u64, what: &str| {
            if n == 0 {
                Err(Error::from(format!("{what} must be at least 1")))
            } else {
                Ok(n)
            }
        };
        while let Some(arg) = p.next()? {
            match arg {
                Long("listen") => listen = Some(p.value()?.string()?),
                Long("server") => server = Some(p.value()?.parse()?),
                Long("count") => count = Some(at_least_one(p.value()?.parse()?, "--count")?),
                Long("seed") => seed = Some(p.value()?.parse()?),
                Short('h') | Long("help") => cli::help(USAGE),
                Value(word) if mode.is_none() => {
                    // value() takes the next word even when it starts with
                    // '-', as a negative offset does.
                    mode = Some(match word.string()?.as_str() {
                        "pass" => Mode::Pass,
                        "flip" => Mode::Flip(parse_offsets(&p.value()?.string()?)?),
                        "dup" => Mode::Dup,
                        "reverse" => Mode::Reverse(at_least_one(p.value()?.parse()?, "reverse's N")? as usize),
                        "replay-old" => Mode::ReplayOld(at_least_one(p.value()?.parse()?, "replay-old's N")?),
                        other => return Err(format!("unknown mode {other:?}").into()),
                    })
                }
                _ => return Err(arg.unexpected()),
            }
        }
        Ok(Args {
            listen: listen.ok_or("--listen IP:PORT is required")?,
            server: server.ok_or("--server IP:PORT is required")?,
            mode: mode.ok_or("no MODE given")?,
            count,
            seed,
        })
    })
}

/// One datagram to send to the server.
#[derive(Debug, PartialEq)]
struct Out {
    bytes: Vec<u8>,
    /// A byte of it was flipped.
    mangled: bool,
    /// An extra copy of a datagram already forwarded (dup, replay-old).
    copy: bool,
}

impl Out {
    fn new(bytes: Vec<u8>) -> Out {
        Out { bytes, mangled: false, copy: false }
    }
    fn copy(bytes: Vec<u8>) -> Out {
        Out { bytes, mangled: false, copy: true }
    }
}

/// What MODE does to the client's datagrams, apart from the sockets.
struct Mangler {
    mode: Mode,
    /// Client datagrams seen so far.
    seen: u64,
    /// `reverse`'s partial batch.
    held: Vec<Vec<u8>>,
    /// `replay-old`'s first datagram.
    first: Option<Vec<u8>>,
    rng: Rng,
}

impl Mangler {
    fn new(mode: Mode, seed: u64) -> Mangler {
        Mangler { mode, seen: 0, held: Vec::new(), first: None, rng: Rng::new(seed) }
    }

    /// The datagrams to send the server for the client's datagram `d`.
    fn on_client(&mut self, mut d: Vec<u8>) -> Vec<Out> {
        let index = self.seen;
        self.seen += 1;
        match &self.mode {
            Mode::Pass => vec![Out::new(d)],
            Mode::Flip(offsets) => {
                let offset = offsets[(index % offsets.len() as u64) as usize];
                if d.is_empty() {
                    return vec![Out::new(d)];
                }
                let at = match offset {
                    Offset::At(o) => o.rem_euclid(d.len() as i64) as usize,
                    Offset::Random => self.rng.below(d.len() as u64) as usize,
                };
                d[at] ^= 0x20;
                vec![Out { bytes: d, mangled: true, copy: false }]
            }
            Mode::Dup => vec![Out::new(d.clone()), Out::copy(d)],
            Mode::Reverse(n) => {
                self.held.push(d);
                if self.held.len() == *n {
                    self.flush()
                } else {
                    Vec::new()
                }
            }
            Mode::ReplayOld(n) => {
                let first = self.first.get_or_insert_with(|| d.clone()).clone();
                let mut out = vec![Out::new(d)];
                if self.seen.is_multiple_of(*n) {
                    out.push(Out::copy(first));
                }
                out
            }
        }
    }

    /// Whether datagrams wait in a partial batch.
    fn holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// The held datagrams, last first.
    fn flush(&mut self) -> Vec<Out> {
        self.held.drain(..).rev().map(Out::new).collect()
    }
}

#[derive(Default)]
struct Counts {
    forwarded: u64,
    mangled: u64,
    duplicated: u64,
    to_client: u64,
}

fn send(socket: &UdpSocket, bytes: &[u8], to: SocketAddr) -> bool {
    match socket.send_to(bytes, to) {
        Ok(_) => true,
        Err(e) => {
            eprintln!("xtun-mitm: sending {} bytes to {to}: {e}", bytes.len());
            false
        }
    }
}

fn send_to_server(socket: &UdpSocket, server: SocketAddr, outs: Vec<Out>, counts: &mut Counts) {
    for out in outs {
        if send(socket, &out.bytes, server) {
            if out.copy {
                counts.duplicated += 1;
            } else {
                counts.forwarded += 1;
                counts.mangled += out.mangled as u64;
            }
        }
    }
}

fn main() {
    let a = parse_args();
    let socket = UdpSocket::bind(&a.listen).unwrap_or_else(|e| {
        eprintln!("xtun-mitm: cannot bind {}: {e}", a.listen);
        std::process::exit(1);
    });
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone()).expect("SIGTERM and SIGINT can be caught");
    }
    let seed = match (&a.mode, a.seed) {
        (Mode::Flip(offsets), seed) if offsets.contains(&Offset::Random) => {
            let seed = seed.unwrap_or_else(|| {
                SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
            });
            println!("# xtun-mitm seed {seed} (replay with --seed {seed})");
            seed
        }
        (_, seed) => seed.unwrap_or(1),
    };
    let mut mangler = Mangler::new(a.mode, seed);
    let mut counts = Counts::default();
    let mut client = None;
    let mut last_from_client = Instant::now();
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) && a.count.is_none_or(|n| mangler.seen < n) {
        let wait = match mangler.holding() {
            true => (last_from_client + SILENCE)
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(1), TICK),
            false => TICK,
        };
        socket.set_read_timeout(Some(wait)).expect("a non-zero timeout is valid");
        match socket.recv_from(&mut buf) {
            Ok((n, from)) if from == a.server => {
                // Nowhere to send it before the client's first datagram.
                if let Some(client) = client {
                    counts.to_client += send(&socket, &buf[..n], client) as u64;
                }
            }
            Ok((n, from)) => {
                client = Some(from);
                last_from_client = Instant::now();
                send_to_server(&socket, a.server, mangler.on_client(buf[..n].to_vec()), &mut counts);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
            Err(e) => {
                eprintln!("xtun-mitm: receiving on {}: {e}", a.listen);
                std::process::exit(1);
            }
        }
        if mangler.holding() && last_from_client.elapsed() >= SILENCE {
            send_to_server(&socket, a.server, mangler.flush(), &mut counts);
        }
    }
    // Nothing stays held: a test counts every datagram the client sent.
    send_to_server(&socket, a.server, mangler.flush(), &mut counts);
    let Counts { forwarded, mangled, duplicated, to_client } = counts;
    println!("mitm forwarded={forwarded} mangled={mangled} duplicated={duplicated} to_client={to_client}");
    std::io::stdout().flush().expect("stdout takes the last line");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(outs: &[Out]) -> Vec<Vec<u8>> {
        outs.iter().map(|o| o.bytes.clone()).collect()
    }

    fn flip(offsets: &str) -> Mangler {
        Mangler::new(Mode::Flip(parse_offsets(offsets).unwrap()), 1)
    }

    #[test]
    fn flip_xors_0x20_at_each_offset_in_turn() {
        let mut m = flip("0,2,1");
        let d = vec![0u8; 4];
        assert_eq!(m.on_client(d.clone()), [Out { bytes: vec![0x20, 0, 0, 0], mangled: true, copy: false }]);
        assert_eq!(bytes(&m.on_client(d.clone())), [vec![0, 0, 0x20, 0]]);
        assert_eq!(bytes(&m.on_client(d.clone())), [vec![0, 0x20, 0, 0]]);
        // Back to the first offset.
        assert_eq!(bytes(&m.on_client(d)), [vec![0x20, 0, 0, 0]]);
    }

    #[test]
    fn flip_takes_offsets_modulo_the_length() {
        let mut m = flip("5,4");
        assert_eq!(bytes(&m.on_client(vec![0; 3])), [vec![0, 0, 0x20]]);
        assert_eq!(bytes(&m.on_client(vec![0; 4])), [vec![0x20, 0, 0, 0]]);
    }

    #[test]
    fn flip_counts_negative_offsets_from_the_end() {
        let mut m = flip("-1,-3,-5");
        assert_eq!(bytes(&m.on_client(vec![0; 4])), [vec![0, 0, 0, 0x20]]);
        assert_eq!(bytes(&m.on_client(vec![0; 4])), [vec![0, 0x20, 0, 0]]);
        // Past the start: modulo the length too (-5 of 4 bytes is -1).
        assert_eq!(bytes(&m.on_client(vec![0; 4])), [vec![0, 0, 0, 0x20]]);
    }

    #[test]
    fn flip_leaves_an_empty_datagram_alone() {
        let mut m = flip("0");
        assert_eq!(m.on_client(Vec::new()), [Out::new(Vec::new())]);
    }

    #[test]
    fn flip_random_flips_one_byte_the_seed_chooses() {
        let run = |seed| {
            let mut m = Mangler::new(Mode::Flip(vec![Offset::Random]), seed);
            (0..20).map(|_| m.on_client(vec![0; 64]).remove(0).bytes).collect::<Vec<_>>()
        };
        let first = run(7);
        for d in &first {
            assert_eq!(d.iter().filter(|&&b| b == 0x20).count(), 1);
            assert_eq!(d.iter().filter(|&&b| b != 0).count(), 1);
        }
        assert_eq!(run(7), first, "the same seed flips the same bytes");
    }

    #[test]
    fn offsets_parse() {
        assert_eq!(
            parse_offsets("0,-1,17,random").unwrap(),
            [Offset::At(0), Offset::At(-1), Offset::At(17), Offset::Random]
        );
        for bad in ["", "x", "1,", "1,,2", "0x10"] {
            assert!(parse_offsets(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reverse_sends_each_full_batch_last_first() {
        let mut m = Mangler::new(Mode::Reverse(3), 1);
        assert!(m.on_client(vec![1]).is_empty());
        assert!(m.on_client(vec![2]).is_empty());
        assert!(m.holding());
        assert_eq!(bytes(&m.on_client(vec![3])), [[3], [2], [1]]);
        assert!(!m.holding());
        assert!(m.on_client(vec![4]).is_empty());
        assert!(m.on_client(vec![5]).is_empty());
        assert_eq!(bytes(&m.on_client(vec![6])), [[6], [5], [4]]);
    }

    #[test]
    fn reverse_flushes_a_partial_batch_last_first() {
        let mut m = Mangler::new(Mode::Reverse(4), 1);
        m.on_client(vec![1]);
        m.on_client(vec![2]);
        assert_eq!(m.flush(), [Out::new(vec![2]), Out::new(vec![1])]);
        assert!(!m.holding());
        assert!(m.flush().is_empty());
        // A new batch starts after the flush.
        for i in 3..6 {
            assert!(m.on_client(vec![i]).is_empty());
        }
        assert_eq!(bytes(&m.on_client(vec![6])), [[6], [5], [4], [3]]);
    }

    #[test]
    fn reverse_of_one_is_pass() {
        let mut m = Mangler::new(Mode::Reverse(1), 1);
        assert_eq!(m.on_client(vec![1]), [Out::new(vec![1])]);
        assert!(!m.holding());
    }

    #[test]
    fn dup_sends_a_copy() {
        let mut m = Mangler::new(Mode::Dup, 1);
        assert_eq!(m.on_client(vec![9, 8]), [Out::new(vec![9, 8]), Out::copy(vec![9, 8])]);
    }

    #[test]
    fn replay_old_resends_the_first_after_every_n() {
        let mut m = Mangler::new(Mode::ReplayOld(2), 1);
        assert_eq!(m.on_client(vec![1]), [Out::new(vec![1])]);
        assert_eq!(m.on_client(vec![2]), [Out::new(vec![2]), Out::copy(vec![1])]);
        assert_eq!(m.on_client(vec![3]), [Out::new(vec![3])]);
        assert_eq!(m.on_client(vec![4]), [Out::new(vec![4]), Out::copy(vec![1])]);
    }

    #[test]
    fn pass_forwards_unchanged() {
        let mut m = Mangler::new(Mode::Pass, 1);
        assert_eq!(m.on_client(vec![1, 2, 3]), [Out::new(vec![1, 2, 3])]);
    }
}
