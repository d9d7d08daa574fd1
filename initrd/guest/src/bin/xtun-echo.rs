//! The seed's test: read a frame from /dev/xtun, write it back unchanged,
//! print both lengths. It proves the path both ways; the echoed frame is
//! not a valid reply. `--count N` stops after N frames.

use xtun_guest::{cli, cli::*, Xtun};

const USAGE: &str = "\
usage: xtun-echo [--count N]

Reads frames from /dev/xtun and writes each one back unchanged, printing
both lengths. --count N stops after N frames (default: never).
";

fn main() -> std::io::Result<()> {
    let count = cli::parse(USAGE, |p| {
        let mut count = u64::MAX;
        while let Some(arg) = p.next()? {
            match arg {
                Long("count") => count = p.value()?.parse()?,
                Short('h') | Long("help") => cli::help(USAGE),
                _ => return Err(arg.unexpected()),
            }
        }
        Ok(count)
    });
    let mut dev = Xtun::open()?;
    let mut buf = vec![0u8; 65536];
    for _ in 0..count {
        let n = dev.read_frame(&mut buf)?;
        let w = dev.write_frame(&buf[..n])?;
        println!("read {n} bytes, wrote {w} bytes");
    }
    Ok(())
}
