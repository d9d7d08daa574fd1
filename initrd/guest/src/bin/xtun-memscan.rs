//! Counts the copies of keys in the kernel's RAM, read through /proc/kcore:
//! the secure mode's test that a deleted key leaves no copy behind. All of
//! RAM is in kcore's direct-map segments (slab objects, stacks, user pages
//! and freed pages alike), so a key wiped nowhere is found, if its 32
//! bytes lie in a row in physical memory (not across the pages of a
//! virtually mapped stack, nor in pieces).

use std::{fs::File, os::unix::fs::FileExt, time::Instant};

use memchr::memmem::Finder;
use object::{
    elf::{FileHeader64, PT_LOAD},
    read::elf::{FileHeader, ProgramHeader},
    LittleEndian,
};
use xtun_guest::{
    cli::{self, *},
    key::{self, KEY_LEN},
};
use zeroize::Zeroizing;

const USAGE: &str = "\
usage: xtun-memscan KEYFILE...

Reads the kernel's RAM through /proc/kcore and prints, for each key file
(base64, as `xtunctl genkey` writes it), `KEYFILE N`: the number of places
where the key's 32 bytes lie. Then `# scanned M MiB in S s`.
";

const HALF: usize = KEY_LEN / 2;
/// kcore's segments of the kernel image (`KCORE_TEXT`) lie above this; the
/// image's pages are in the direct map as well.
const KERNEL_TEXT: u64 = 0xffff_ffff_8000_0000;
const CHUNK: usize = 4 << 20;

/// A key kept as two halves in two allocations: the scanner's own memory
/// never holds the 32 bytes in a row, so it cannot find itself.
struct Needle {
    name: String,
    head: Box<[u8; HALF]>,
    tail: Box<[u8; HALF]>,
    found: u64,
}

fn needle(path: &str) -> Result<Needle, String> {
    let key = key::read("key", path)?;
    let (mut head, mut tail) = (Box::new([0u8; HALF]), Box::new([0u8; HALF]));
    head.copy_from_slice(&key[..HALF]);
    tail.copy_from_slice(&key[HALF..]);
    Ok(Needle { name: path.to_string(), head, tail, found: 0 })
}

/// The (file offset, length) of kcore's segments of RAM.
fn ram_segments(kcore: &File) -> Result<Vec<(u64, u64)>, String> {
    let mut header = vec![0u8; 64 << 10];
    let n = kcore.read_at(&mut header, 0).map_err(|e| format!("/proc/kcore: {e}"))?;
    header.truncate(n);
    let elf = FileHeader64::<LittleEndian>::parse(&*header).map_err(|e| format!("/proc/kcore: {e}"))?;
    let endian = elf.endian().map_err(|e| format!("/proc/kcore: {e}"))?;
    let phdrs = elf.program_headers(endian, &*header).map_err(|e| format!("/proc/kcore: {e}"))?;
    Ok(phdrs
        .iter()
        .filter(|p| p.p_type(endian) == PT_LOAD)
        // Segments other than RAM and the image (vmalloc, vmemmap) have no
        // physical address.
        .filter(|p| p.p_paddr(endian) != u64::MAX && p.p_vaddr(endian) < KERNEL_TEXT)
        .map(|p| (p.p_offset(endian), p.p_filesz(endian)))
        .collect())
}

/// Counts each needle in one segment, read in chunks that overlap by a
/// key's length less one byte, so that no copy across two is missed.
fn scan(kcore: &File, (offset, len): (u64, u64), needles: &mut [Needle], buf: &mut Vec<u8>) -> Result<(), String> {
    let finders: Vec<Finder> = needles.iter().map(|n| Finder::new(&n.head[..]).into_owned()).collect();
    let mut at = 0u64;
    while at < len {
        let want = CHUNK.min((len - at) as usize);
        buf.resize(want, 0);
        kcore.read_exact_at(buf, offset + at).map_err(|e| format!("/proc/kcore at {:#x}: {e}", offset + at))?;
        for (needle, finder) in needles.iter_mut().zip(&finders) {
            for i in finder.find_iter(buf) {
                // A copy that starts in the overlap is counted in the next chunk.
                let starts_in_next = at + want as u64 != len && i + KEY_LEN > want;
                if !starts_in_next && buf.get(i + HALF..i + KEY_LEN) == Some(&needle.tail[..]) {
                    needle.found += 1;
                }
            }
        }
        if at + (want as u64) == len {
            break;
        }
        at += (want - (KEY_LEN - 1)) as u64;
    }
    Ok(())
}

fn run(paths: &[String]) -> Result<(), String> {
    if paths.is_empty() {
        return Err("no key file given".into());
    }
    let mut needles = paths.iter().map(|p| needle(p)).collect::<Result<Vec<_>, _>>()?;
    let kcore = File::open("/proc/kcore").map_err(|e| format!("/proc/kcore: {e} (CONFIG_PROC_KCORE, root)"))?;
    let segments = ram_segments(&kcore)?;
    if segments.is_empty() {
        return Err("/proc/kcore shows no RAM".into());
    }
    let start = Instant::now();
    // Wiped when dropped: a chunk may hold a live key, and the pages of
    // this process are in the next scan's RAM.
    let mut buf = Zeroizing::new(Vec::with_capacity(CHUNK));
    for &segment in &segments {
        scan(&kcore, segment, &mut needles, &mut buf)?;
    }
    for n in &needles {
        println!("{} {}", n.name, n.found);
    }
    let mib = segments.iter().map(|s| s.1).sum::<u64>() >> 20;
    println!("# scanned {mib} MiB in {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

fn main() {
    let paths = cli::parse(USAGE, |p| {
        let mut paths = Vec::new();
        while let Some(arg) = p.next()? {
            match arg {
                Short('h') | Long("help") => cli::help(USAGE),
                Value(v) => paths.push(v.string()?),
                other => return Err(other.unexpected()),
            }
        }
        Ok(paths)
    });
    if let Err(e) = run(&paths) {
        eprintln!("xtun-memscan: {e}");
        std::process::exit(1);
    }
}
