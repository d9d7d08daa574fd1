//! The lab network: a namespace that xtask creates and removes, holding a
//! bridge with an address and one tap per guest that QEMU attaches to. The
//! host's own interfaces and routes are never touched.
//!
//! ```text
//!   netns xtun-lab-<pid>                          guest (1)
//!   +--------------------------------+           +-------------------+
//!   | xtbr0 10.98.0.1/24             |           |                   |
//!   |   \__ xttap0 ===== QEMU =======+== virtio ==+ eth0 10.98.0.2/24 |
//!   |   \__ xttap1 ===== QEMU ===+   |           +-------------------+
//!   +----------------------------|---+           guest 2 (vm --guests 2, two-guest tests)
//!                                |               +-------------------+
//!                                +=== virtio ====+ eth0 10.98.0.3/24 |
//!                                                +-------------------+
//! ```

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::OnceLock,
};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Cmd, Shell};

use crate::children;

pub const HOST_ADDR: &str = "10.98.0.1";
/// The lab has room for this many guests (a tap and an address each).
pub const MAX_GUESTS: u8 = 2;

/// Guest `n`'s (1-based) eth0 address; initrd/init sets the same.
pub fn guest_addr(n: u8) -> String {
    format!("10.98.0.{}", 1 + n)
}

/// The tap guest `n` (1-based) attaches to.
pub fn tap(n: u8) -> String {
    format!("xttap{}", n - 1)
}

/// iproute2's `ip`, by full path: under sudo or su, PATH may lack /sbin.
pub fn ip() -> Result<&'static Path> {
    static IP: OnceLock<Option<PathBuf>> = OnceLock::new();
    IP.get_or_init(|| ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].into_iter().map(PathBuf::from).find(|p| p.exists()))
        .as_deref()
        .context("iproute2's `ip` is not in /usr/sbin or /sbin: apt-get install iproute2")
}

/// Dropping it deletes the namespace (see `Cleaner`).
pub struct Lab {
    ip: &'static Path,
    pub netns: String,
    /// Deletes the namespace when dropped.
    _cleaner: Cleaner,
}

impl Lab {
    /// The lab with a tap for each of `guests` guests. Fails, saying why,
    /// where it cannot be built: no CAP_NET_ADMIN/CAP_SYS_ADMIN (a
    /// container), no /dev/net/tun.
    pub fn create(sh: &Shell, guests: u8) -> Result<Lab> {
        assert!((1..=MAX_GUESTS).contains(&guests));
        let ip = ip()?;
        if !Path::new("/dev/net/tun").exists() {
            bail!("no /dev/net/tun for the tap");
        }
        remove_stale(sh, ip);
        let netns = format!("xtun-lab-{}", std::process::id());
        // First the cleaner, then the namespace: no moment where a dying
        // xtask leaves it behind.
        let cleaner = Cleaner::start(ip, &netns)?;
        run(cmd!(sh, "{ip} netns add {netns}")).context("cannot create the lab network namespace")?;
        let lab = Lab { ip, netns, _cleaner: cleaner };
        let ns = &lab.netns;
        let host = format!("{HOST_ADDR}/24");
        let mut steps = vec![
            cmd!(sh, "{ip} -n {ns} link set lo up"),
            cmd!(sh, "{ip} -n {ns} link add xtbr0 type bridge"),
            cmd!(sh, "{ip} -n {ns} addr add {host} dev xtbr0"),
            cmd!(sh, "{ip} -n {ns} link set xtbr0 up"),
        ];
        for tap in (1..=guests).map(tap) {
            steps.push(cmd!(sh, "{ip} -n {ns} tuntap add dev {tap} mode tap"));
            steps.push(cmd!(sh, "{ip} -n {ns} link set {tap} master xtbr0 up"));
        }
        for step in steps {
            run(step).context("cannot set up the lab bridge and tap")?;
        }
        Ok(lab)
    }

    /// `ip netns exec <lab>`: the prefix that runs a command in the lab.
    pub fn exec_prefix(&self) -> Vec<String> {
        vec![self.ip.display().to_string(), "netns".into(), "exec".into(), self.netns.clone()]
    }
}

/// Runs a quiet `ip` command; its error says what `ip` printed.
fn run(cmd: Cmd<'_>) -> Result<()> {
    let shown = cmd.to_string();
    let out = cmd.quiet().ignore_status().output()?;
    if !out.status.success() {
        bail!("`{shown}`: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// A child in a session of its own that deletes the namespace once its
/// stdin closes: when the lab is dropped, or when xtask dies in any way
/// (SIGKILL included), since only xtask holds the other end.
struct Cleaner(Option<Child>);

impl Cleaner {
    fn start(ip: &Path, netns: &str) -> Result<Cleaner> {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", r#"read _ ; exec "$0" netns del "$1""#]).arg(ip).arg(netns);
        cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
        let child = children::spawn_detached(&mut cmd).context("cannot start the lab's cleaner (/bin/sh)")?;
        Ok(Cleaner(Some(child)))
    }

    /// Closes its stdin and waits until it has deleted the namespace.
    fn finish(&mut self) {
        if let Some(mut child) = self.0.take() {
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }
}

impl Drop for Cleaner {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Removes labs left by runs whose cleaner could not run (their pid is gone).
fn remove_stale(sh: &Shell, ip: &Path) {
    let Ok(list) = cmd!(sh, "{ip} netns list").quiet().read() else { return };
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        if let Some(pid) = name.strip_prefix("xtun-lab-") {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = cmd!(sh, "{ip} netns del {name}").quiet().run();
            }
        }
    }
}
