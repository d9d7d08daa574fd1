//! The seed's test: read a frame from /dev/xtun, write it back unchanged,
//! print both lengths. It proves the path both ways; the echoed frame is
//! not a valid reply. `--count N` stops after N frames.

use xtun_guest::{Args, Xtun};

fn main() -> std::io::Result<()> {
    let args = Args::from_env();
    let count: u64 = args.value("count").and_then(|c| c.parse().ok()).unwrap_or(u64::MAX);
    let mut dev = Xtun::open()?;
    let mut buf = vec![0u8; 65536];
    for _ in 0..count {
        let n = dev.read_frame(&mut buf)?;
        let w = dev.write_frame(&buf[..n])?;
        println!("read {n} bytes, wrote {w} bytes");
    }
    Ok(())
}
