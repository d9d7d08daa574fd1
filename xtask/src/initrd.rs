//! Stage `initrd`: a gzip'd cpio newc archive made without root by the
//! kernel's own `usr/gen_init_cpio` from a spec this stage writes.
//! Same inputs, same bytes: entries are sorted, mtimes are 0 (`-t 0`) and
//! gzip stores no name or time (`-n`).
//!
//! Contents: busybox-static and its applets, /init (initrd/init), the test
//! runner and tests (tests/), xtun.ko, the guest programs, and real tools
//! (iproute2's ip, ethtool, tcpdump, iperf3, iputils ping, nft) with the libraries ldd names.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::{kernel::Kernel, workspace::Workspace};

/// Real tools: (host path, guest path).
const TOOLS: &[(&str, &str)] = &[
    ("/usr/sbin/ip", "/usr/sbin/ip"),
    ("/usr/sbin/ethtool", "/usr/sbin/ethtool"),
    ("/usr/bin/tcpdump", "/usr/bin/tcpdump"),
    ("/usr/bin/iperf3", "/usr/bin/iperf3"),
    // iputils ping, for -f (busybox's ping has no flood mode).
    ("/usr/bin/ping", "/usr/bin/ping"),
    // The NAT router of the tunnel tests (tests/lib.sh, tun_nat_setup).
    ("/usr/sbin/nft", "/usr/sbin/nft"),
    // WireGuard's tool, for the tunnel bench's wireguard variant.
    ("/usr/bin/wg", "/usr/bin/wg"),
];

/// One line of a gen_init_cpio spec, keyed by guest path.
#[derive(Debug, PartialEq)]
enum Entry {
    Dir,
    File { host: PathBuf, mode: u32 },
    Symlink { target: String },
    CharDev { major: u32, minor: u32 },
}

#[derive(Default)]
struct Spec(BTreeMap<String, Entry>);

impl Spec {
    /// Adds `path` and its parent directories.
    fn add(&mut self, path: &str, entry: Entry) {
        let mut parent = Path::new(path).parent();
        while let Some(dir) = parent {
            let d = dir.to_string_lossy();
            if d != "/" {
                self.0.entry(d.into_owned()).or_insert(Entry::Dir);
            }
            parent = dir.parent();
        }
        self.0.insert(path.to_string(), entry);
    }

    fn file(&mut self, path: &str, host: impl Into<PathBuf>, mode: u32) {
        self.add(path, Entry::File { host: host.into(), mode });
    }

    fn render(&self) -> String {
        self.0
            .iter()
            .map(|(path, entry)| match entry {
                Entry::Dir => format!("dir {path} 0755 0 0\n"),
                Entry::File { host, mode } => format!("file {path} {} {mode:04o} 0 0\n", host.display()),
                Entry::Symlink { target } => format!("slink {path} {target} 0777 0 0\n"),
                Entry::CharDev { major, minor } => format!("nod {path} 0600 0 0 c {major} {minor}\n"),
            })
            .collect()
    }
}

/// Builds the initrd; `extra_tools` (host path, guest path) join `TOOLS` and
/// give the archive its own name (`initrd-<profile>-perf.gz` for perf).
pub fn run(
    sh: &Shell,
    ws: &Workspace,
    kernel: &Kernel,
    module: &Path,
    programs: &[PathBuf],
    extra_tools: &[(&str, &str)],
) -> Result<PathBuf> {
    let tools: Vec<(&str, &str)> = TOOLS.iter().chain(extra_tools).copied().collect();
    let mut spec = Spec::default();
    for dir in ["/proc", "/sys", "/dev", "/tmp", "/run", "/root", "/var/run"] {
        spec.add(dir, Entry::Dir);
    }
    spec.add("/dev/console", Entry::CharDev { major: 5, minor: 1 });
    spec.file("/bin/busybox", "/bin/busybox", 0o755);
    let real: Vec<&str> = tools.iter().map(|(_, guest)| *guest).collect();
    for applet in cmd!(sh, "/bin/busybox --list-full").read()?.lines() {
        let path = format!("/{applet}");
        let name = applet.rsplit('/').next().unwrap_or(applet);
        if path == "/bin/busybox" || real.iter().any(|r| r.ends_with(&format!("/{name}"))) {
            continue;
        }
        spec.add(&path, Entry::Symlink { target: "/bin/busybox".into() });
    }
    for (host, guest) in &tools {
        spec.file(guest, host, 0o755);
        for lib in shared_libraries(sh, host)? {
            let p = lib.display().to_string();
            spec.file(&p, &lib, 0o755);
        }
    }
    spec.file("/init", ws.root.join("initrd/init"), 0o755);
    spec.file("/etc/profile", ws.root.join("initrd/profile"), 0o644);
    spec.file("/etc/passwd", ws.root.join("initrd/passwd"), 0o644);
    spec.file("/etc/group", ws.root.join("initrd/group"), 0o644);
    spec.file("/lib/modules/xtun.ko", module, 0o644);
    for program in programs {
        let name = program.file_name().context("bad program path")?.to_string_lossy();
        spec.file(&format!("/usr/bin/{name}"), program, 0o755);
    }
    add_tree(&mut spec, &ws.root.join("tests"), "/xtun/tests")?;

    let name = match extra_tools.first() {
        Some((host, _)) => format!("initrd-{}-{}", kernel.profile, host.rsplit('/').next().unwrap_or("extra")),
        None => format!("initrd-{}", kernel.profile),
    };
    // Temporary names of this run's own, renamed into place when complete:
    // a guest booting the previous initrd keeps reading it.
    let tmp = ws.target.join(format!("{name}.{}", std::process::id()));
    let spec_path = tmp.with_extension("spec");
    sh.write_file(&spec_path, spec.render())?;
    let gen = gen_init_cpio(sh, ws, kernel)?;
    let cpio = tmp.with_extension("cpio");
    cmd!(sh, "{gen} -t 0 -o {cpio} {spec_path}").quiet().run().context("gen_init_cpio failed")?;
    cmd!(sh, "gzip -n -f {cpio}").quiet().run()?;
    let gz = tmp.with_extension("cpio.gz");
    let initrd = ws.target.join(format!("{name}.gz"));
    std::fs::rename(&gz, &initrd).context("cannot move the initrd into place")?;
    sh.remove_path(&spec_path)?;
    Ok(initrd)
}

/// Adds the files under `dir` (tests/ and its suites, e.g. tests/two-guest/)
/// as `guest`/...; scripts executable.
fn add_tree(spec: &mut Spec, dir: &Path, guest: &str) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = format!("{guest}/{name}");
        if entry.file_type()?.is_dir() {
            add_tree(spec, &entry.path(), &path)?;
        } else {
            spec.file(&path, entry.path(), if name.ends_with(".sh") { 0o755 } else { 0o644 });
        }
    }
    Ok(())
}

/// The kernel tree's gen_init_cpio, or one built from its source.
fn gen_init_cpio(sh: &Shell, ws: &Workspace, kernel: &Kernel) -> Result<PathBuf> {
    let built = kernel.build.join("usr/gen_init_cpio");
    if built.exists() {
        return Ok(built);
    }
    let source = kernel.build.join("source/usr/gen_init_cpio.c");
    if !source.exists() {
        bail!("no usr/gen_init_cpio in {}: build the kernel with CONFIG_BLK_DEV_INITRD", kernel.build.display());
    }
    let out = ws.target.join("gen_init_cpio");
    let tmp = ws.target.join(format!("gen_init_cpio.{}", std::process::id()));
    cmd!(sh, "cc -O2 -o {tmp} {source}").run()?;
    std::fs::rename(&tmp, &out)?;
    Ok(out)
}

/// Absolute paths of the shared libraries `binary` loads, per ldd.
fn shared_libraries(sh: &Shell, binary: &str) -> Result<Vec<PathBuf>> {
    let out = cmd!(sh, "ldd {binary}").read().with_context(|| format!("ldd {binary} failed"))?;
    Ok(parse_ldd(&out))
}

fn parse_ldd(out: &str) -> Vec<PathBuf> {
    out.lines()
        .filter_map(|line| {
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
            // "/lib64/ld-linux-x86-64.so.2 (0x...)"; skip linux-vdso.
            let path = match line.split_once("=>") {
                Some((_, rest)) => rest.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_gives_library_paths() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(
            parse_ldd(out),
            [PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"), PathBuf::from("/lib64/ld-linux-x86-64.so.2")]
        );
    }

    #[test]
    fn test_suites_in_subdirectories_are_copied() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("two-guest")).unwrap();
        std::fs::write(dir.path().join("lib.sh"), "").unwrap();
        std::fs::write(dir.path().join("two-guest/01-tunnel.sh"), "").unwrap();
        let mut spec = Spec::default();
        add_tree(&mut spec, dir.path(), "/xtun/tests").unwrap();
        let text = spec.render();
        assert!(text.contains("dir /xtun/tests/two-guest 0755"), "{text}");
        assert!(text.contains("file /xtun/tests/two-guest/01-tunnel.sh "), "{text}");
        assert!(text.contains("file /xtun/tests/lib.sh "), "{text}");
    }

    #[test]
    fn spec_is_sorted_with_parent_dirs() {
        let mut spec = Spec::default();
        spec.file("/usr/bin/b", "/x/b", 0o755);
        spec.add("/bin/sh", Entry::Symlink { target: "/bin/busybox".into() });
        spec.add("/dev/console", Entry::CharDev { major: 5, minor: 1 });
        assert_eq!(
            spec.render(),
            "dir /bin 0755 0 0\nslink /bin/sh /bin/busybox 0777 0 0\ndir /dev 0755 0 0\n\
             nod /dev/console 0600 0 0 c 5 1\ndir /usr 0755 0 0\ndir /usr/bin 0755 0 0\n\
             file /usr/bin/b /x/b 0755 0 0\n"
        );
    }
}
