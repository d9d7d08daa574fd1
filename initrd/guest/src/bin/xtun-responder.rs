//! Answers ARP requests and ICMP echo requests for one IPv4 address on the
//! far side of xtun, so `ping -I xtun <ip>` gets replies and the kernel's
//! neighbour table learns `<ip>` at `--mac`.

use std::net::Ipv4Addr;

use xtun_guest::{cli, cli::*, format_mac, parse_mac, reply::answer, Xtun};

const USAGE: &str = "\
usage: xtun-responder --ip A.B.C.D [--mac MAC] [--verbose]

Answers ARP and ICMP echo requests for A.B.C.D on the far side of xtun,
as MAC (default 02:00:00:99:00:02). --verbose logs every reply.
";

struct Opts {
    ip: Ipv4Addr,
    mac: [u8; 6],
    verbose: bool,
}

fn main() -> std::io::Result<()> {
    let opts = cli::parse(USAGE, |p| {
        let (mut ip, mut mac, mut verbose) = (None, [2, 0, 0, 0x99, 0, 2], false);
        while let Some(arg) = p.next()? {
            match arg {
                Long("ip") => ip = Some(p.value()?.parse()?),
                Long("mac") => mac = p.value()?.parse_with(|m| parse_mac(m).ok_or("want six hex bytes like 02:00:00:99:00:02"))?,
                Long("verbose") => verbose = true,
                Short('h') | Long("help") => cli::help(USAGE),
                _ => return Err(arg.unexpected()),
            }
        }
        Ok(Opts { ip: ip.ok_or("--ip A.B.C.D is required")?, mac, verbose })
    });
    let mut dev = Xtun::open()?;
    eprintln!("xtun-responder: answering for {} at {}", opts.ip, format_mac(&opts.mac));
    let mut buf = vec![0u8; 65536];
    loop {
        let n = dev.read_frame(&mut buf)?;
        let Some(reply) = answer(&buf[..n], opts.ip.octets(), opts.mac) else { continue };
        if opts.verbose {
            eprintln!("xtun-responder: {n} byte frame -> {} byte reply", reply.len());
        }
        dev.write_frame(&reply)?;
    }
}
