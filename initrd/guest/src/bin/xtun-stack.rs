//! A userspace TCP/IP stack (smoltcp) on /dev/xtun, at 10.99.0.2 on the far
//! side of the xtun interface. It answers ARP and ICMP echo itself.

use std::{
    io::Write,
    time::{Duration, Instant as StdInstant},
};

use smoltcp::{
    iface::{Config, Interface, SocketHandle, SocketSet},
    phy,
    socket::tcp,
    time::Instant,
    wire::{EthernetAddress, IpAddress, IpCidr, Ipv4Address},
};
use xtun_guest::{cli, cli::*, parse_cidr, parse_ipv4, parse_mac, phy::XtunPhy};

const USAGE: &str = "\
usage: xtun-stack serve PORT         HTTP/1.0 server: GET /<N> returns N bytes of
                                     `xtun-stack pattern N`; 16 connections at once
       xtun-stack get IP PORT PATH   HTTP/1.0 client; body to stdout, MB/s to stderr
       xtun-stack pattern N          the N-byte body `serve` sends, to compare
options (serve, get):
  --ip A.B.C.D/N      the stack's address (10.99.0.2/24)
  --mac MAC           its MAC (02:00:00:99:00:02)
  --gateway A.B.C.D   its default route (10.99.0.1)
  --dev xtun|tap:NAME the device: xtun, or the kernel's tap NAME for comparisons
`serve` prints \"xtun-stack: listening on IP:PORT\" to stderr once it accepts
connections.
";

const CONNECTIONS: usize = 16;
const BUFFER: usize = 64 * 1024;

/// Where the stack sits: its device and addresses.
struct Net {
    dev: String,
    mac: [u8; 6],
    ip: [u8; 4],
    prefix: u8,
    gateway: [u8; 4],
}

enum Cmd {
    Serve(u16),
    Get([u8; 4], u16, String),
    Pattern(usize),
}

fn main() {
    let (cmd, net) = cli::parse(USAGE, parse_args);
    let result = match cmd {
        Cmd::Serve(port) => serve(&net, port),
        Cmd::Get(ip, port, path) => get(&net, ip, port, &path),
        Cmd::Pattern(n) => std::io::stdout().write_all(&pattern(0, n)).map_err(|e| e.to_string()),
    };
    if let Err(e) = result {
        eprintln!("xtun-stack: {e}");
        std::process::exit(1);
    }
}

fn parse_args(p: &mut Parser) -> Result<(Cmd, Net), Error> {
    let ipv4 = |s: &str| parse_ipv4(s).ok_or("want A.B.C.D");
    let mut net = Net { dev: "xtun".into(), mac: [2, 0, 0, 0x99, 0, 2], ip: [10, 99, 0, 2], prefix: 24, gateway: [10, 99, 0, 1] };
    let mut words = Vec::new();
    while let Some(arg) = p.next()? {
        match arg {
            Long("dev") => net.dev = p.value()?.string()?,
            Long("mac") => net.mac = p.value()?.parse_with(|m| parse_mac(m).ok_or("want six hex bytes like 02:00:00:99:00:02"))?,
            Long("ip") => (net.ip, net.prefix) = p.value()?.parse_with(|c| parse_cidr(c).ok_or("want A.B.C.D/N"))?,
            Long("gateway") => net.gateway = p.value()?.parse_with(ipv4)?,
            Value(word) => words.push(word),
            Short('h') | Long("help") => cli::help(USAGE),
            _ => return Err(arg.unexpected()),
        }
    }
    let cmd = match words.iter().map(|w| w.to_str().unwrap_or("")).collect::<Vec<_>>()[..] {
        ["serve", _] => Cmd::Serve(words[1].parse()?),
        ["get", _, _, path] => Cmd::Get(words[1].parse_with(ipv4)?, words[2].parse()?, path.to_string()),
        ["pattern", _] => Cmd::Pattern(words[1].parse()?),
        [] => return Err("missing command: serve, get or pattern".into()),
        ["serve", ..] => return Err("want: serve PORT".into()),
        ["get", ..] => return Err("want: get IP PORT PATH".into()),
        ["pattern", ..] => return Err("want: pattern N".into()),
        [cmd, ..] => return Err(format!("unknown command {cmd:?}").into()),
    };
    Ok((cmd, net))
}

/// Bytes `offset..offset+len` of the body: a hash of the position, so a
/// reordered, repeated or dropped segment changes the content.
fn pattern(offset: usize, len: usize) -> Vec<u8> {
    (offset..offset + len).map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 24) as u8).collect()
}

fn now() -> Instant {
    Instant::now()
}

struct Stack {
    phy: XtunPhy,
    iface: Interface,
    sockets: SocketSet<'static>,
}

impl Stack {
    fn new(net: &Net) -> Result<Stack, String> {
        let mut phy = XtunPhy::open(&net.dev).map_err(|e| format!("open {}: {e}", net.dev))?;
        let (ip, prefix, gateway) = (net.ip, net.prefix, net.gateway);
        let mut config = Config::new(EthernetAddress(net.mac).into());
        config.random_seed = u64::from(std::process::id()) ^ 0x9e37_79b9_7f4a_7c15;
        let mut iface = Interface::new(config, &mut phy, now());
        iface.update_ip_addrs(|addrs| {
            addrs.push(IpCidr::new(IpAddress::v4(ip[0], ip[1], ip[2], ip[3]), prefix)).expect("one address fits");
        });
        iface
            .routes_mut()
            .add_default_ipv4_route(Ipv4Address::new(gateway[0], gateway[1], gateway[2], gateway[3]))
            .map_err(|e| format!("route: {e}"))?;
        Ok(Stack { phy, iface, sockets: SocketSet::new(vec![]) })
    }

    fn add_socket(&mut self) -> SocketHandle {
        let mut socket = tcp::Socket::new(tcp::SocketBuffer::new(vec![0; BUFFER]), tcp::SocketBuffer::new(vec![0; BUFFER]));
        // Acknowledge at once: a delayed ACK stalls a Linux sender that
        // waits for it (smoltcp acks no more eagerly on every 2nd segment).
        socket.set_ack_delay(None);
        self.sockets.add(socket)
    }

    /// Runs the interface: frames in, timers, frames out.
    fn poll(&mut self) -> Result<(), String> {
        self.iface.poll(now(), &mut self.phy, &mut self.sockets);
        match self.phy.error.take() {
            Some(e) => Err(format!("/dev/xtun: {e}")),
            None => Ok(()),
        }
    }

    /// Sleeps on the device until a frame, the next smoltcp timer, or
    /// `max_wait`. Call it after handling the sockets: data they queued
    /// makes smoltcp ask for an immediate poll.
    fn wait(&mut self, max_wait: Duration) {
        if self.phy.link_down {
            // Writes fail with EIO while down: wait a little before retrying.
            std::thread::sleep(Duration::from_millis(20));
            return;
        }
        let max_wait = max_wait.into();
        let delay = self.iface.poll_delay(now(), &self.sockets).map_or(max_wait, |d| d.min(max_wait));
        // smoltcp's own wait (as tap-tcp-serve's); an error such as EINTR
        // only ends the wait early.
        let _ = phy::wait(self.phy.raw_fd(), Some(delay));
    }
}

/// Per-connection state of the HTTP server.
#[derive(Default)]
struct Conn {
    request: Vec<u8>,
    body_len: Option<usize>,
    header: Vec<u8>,
    sent: usize,
}

fn serve(net: &Net, port: u16) -> Result<(), String> {
    let mut stack = Stack::new(net)?;
    let handles: Vec<SocketHandle> = (0..CONNECTIONS).map(|_| stack.add_socket()).collect();
    let mut conns: Vec<Conn> = (0..CONNECTIONS).map(|_| Conn::default()).collect();
    let mut served = 0u64;
    for handle in &handles {
        stack.sockets.get_mut::<tcp::Socket>(*handle).listen(port).map_err(|e| format!("listen: {e}"))?;
    }
    // Tests and xtun-bench wait for this line: from now on a SYN finds a socket.
    let [a, b, c, d] = net.ip;
    eprintln!("xtun-stack: listening on {a}.{b}.{c}.{d}:{port}");
    loop {
        stack.poll()?;
        for (handle, conn) in handles.iter().zip(conns.iter_mut()) {
            let socket = stack.sockets.get_mut::<tcp::Socket>(*handle);
            // We close first, so we hold TIME_WAIT; free the socket for the
            // next connection instead (the client has everything by then).
            if socket.state() == tcp::State::TimeWait {
                socket.abort();
            }
            if !socket.is_open() {
                *conn = Conn::default();
                socket.listen(port).map_err(|e| format!("listen: {e}"))?;
                continue;
            }
            if conn.body_len.is_none() && socket.can_recv() {
                let mut buf = [0u8; 1024];
                let n = socket.recv_slice(&mut buf).map_err(|e| format!("recv: {e}"))?;
                conn.request.extend_from_slice(&buf[..n]);
                if let Some(len) = parse_request(&conn.request) {
                    conn.body_len = Some(len);
                    conn.header = format!("HTTP/1.0 200 OK\r\nContent-Length: {len}\r\nContent-Type: application/octet-stream\r\n\r\n").into_bytes();
                } else if conn.request.len() > 4096 {
                    socket.abort();
                }
            }
            let Some(body_len) = conn.body_len else { continue };
            let total = conn.header.len() + body_len;
            while conn.sent < total && socket.can_send() {
                let chunk = if conn.sent < conn.header.len() {
                    conn.header[conn.sent..].to_vec()
                } else {
                    let off = conn.sent - conn.header.len();
                    pattern(off, (body_len - off).min(16 * 1024))
                };
                let n = socket.send_slice(&chunk).map_err(|e| format!("send: {e}"))?;
                conn.sent += n;
                if n == 0 {
                    break;
                }
            }
            if conn.sent == total && socket.may_send() {
                socket.close();
                served += 1;
                if served % 50 == 0 {
                    eprintln!("xtun-stack: {served} responses served");
                }
            }
        }
        stack.wait(Duration::from_secs(1));
    }
}

/// "GET /<N> HTTP/1.x ... \r\n\r\n" -> N (the body size asked for).
fn parse_request(request: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(request).ok()?;
    if !text.contains("\r\n\r\n") {
        return None;
    }
    let path = text.strip_prefix("GET /")?.split_whitespace().next()?;
    Some(path.parse().unwrap_or(0))
}

fn get(net: &Net, ip: [u8; 4], port: u16, path: &str) -> Result<(), String> {
    let mut stack = Stack::new(net)?;
    let handle = stack.add_socket();
    let local_port = 49152 + (std::process::id() % 16384) as u16;
    let remote = (IpAddress::v4(ip[0], ip[1], ip[2], ip[3]), port);
    stack
        .sockets
        .get_mut::<tcp::Socket>(handle)
        .connect(stack.iface.context(), remote, local_port)
        .map_err(|e| format!("connect: {e}"))?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {}.{}.{}.{}\r\n\r\n", ip[0], ip[1], ip[2], ip[3]);
    let (mut sent, mut response) = (false, Vec::new());
    let start = StdInstant::now();
    let deadline = start + Duration::from_secs(120);
    loop {
        stack.poll()?;
        let socket = stack.sockets.get_mut::<tcp::Socket>(handle);
        if !sent && socket.can_send() {
            socket.send_slice(request.as_bytes()).map_err(|e| format!("send: {e}"))?;
            sent = true;
        }
        while socket.can_recv() {
            let mut buf = [0u8; 16384];
            let n = socket.recv_slice(&mut buf).map_err(|e| format!("recv: {e}"))?;
            response.extend_from_slice(&buf[..n]);
        }
        if sent && !socket.may_recv() && socket.state() != tcp::State::SynSent {
            socket.close();
            break;
        }
        if StdInstant::now() > deadline {
            return Err(format!("timed out after {} bytes", response.len()));
        }
        stack.wait(Duration::from_secs(1));
    }
    // Let our FIN out and its ACK in before we exit.
    let linger = StdInstant::now() + Duration::from_millis(500);
    while StdInstant::now() < linger {
        let state = stack.sockets.get::<tcp::Socket>(handle).state();
        if matches!(state, tcp::State::Closed | tcp::State::TimeWait) {
            break;
        }
        stack.poll()?;
        stack.wait(Duration::from_millis(20));
    }
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no HTTP header in the response")?;
    let head = String::from_utf8_lossy(&response[..split]);
    if !head.starts_with("HTTP/1.") || !head.lines().next().unwrap_or("").contains(" 200") {
        return Err(format!("bad response: {}", head.lines().next().unwrap_or("")));
    }
    let body = &response[split + 4..];
    let secs = start.elapsed().as_secs_f64();
    eprintln!("xtun-stack: {} bytes in {secs:.2} s: {:.2} MB/s", body.len(), body.len() as f64 / secs / 1e6);
    std::io::stdout().write_all(body).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Result<(Cmd, Net), Error> {
        parse_args(&mut Parser::from_args(words))
    }

    #[test]
    fn command_lines() {
        assert!(matches!(args(&["serve", "8080", "--dev", "tap:xtap0"]), Ok((Cmd::Serve(8080), Net { dev, .. })) if dev == "tap:xtap0"));
        assert!(matches!(
            args(&["get", "10.99.0.1", "8081", "/blob", "--ip=10.99.0.3/16"]),
            Ok((Cmd::Get([10, 99, 0, 1], 8081, path), Net { ip: [10, 99, 0, 3], prefix: 16, .. })) if path == "/blob"
        ));
        assert!(matches!(args(&["pattern", "5"]), Ok((Cmd::Pattern(5), _))));
        let bad: &[&[&str]] = &[
            &[],
            &["serve"],
            &["serve", "8080", "--bogus"],
            &["serve", "x"],
            &["serve", "8080", "extra"],
            &["get", "1.2.3", "80", "/"],
            &["pattern", "5", "--ip", "1.2.3.4/33"],
            &["serve", "8080", "--mac", "02:00"],
        ];
        for words in bad {
            assert!(args(words).is_err(), "{words:?} was accepted");
        }
    }

    #[test]
    fn request_parsing() {
        assert_eq!(parse_request(b"GET /1048576 HTTP/1.1\r\nHost: x\r\n\r\n"), Some(1048576));
        assert_eq!(parse_request(b"GET /1048576 HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(parse_request(b"GET / HTTP/1.0\r\n\r\n"), Some(0));
        assert_eq!(parse_request(b"POST /5 HTTP/1.0\r\n\r\n"), None);
    }

    #[test]
    fn pattern_is_position_dependent_and_resumable() {
        let whole = pattern(0, 70000);
        assert_eq!(&whole[65536..], &pattern(65536, 70000 - 65536)[..]);
        assert_ne!(&whole[..1460], &whole[1460..2920]);
        assert_ne!(&whole[..251], &whole[251..502]);
    }
}
