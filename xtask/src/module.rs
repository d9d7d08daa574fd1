//! Stage `module`: builds `driver/` out of tree against the guest kernel.
//! The sources are copied to `target/xtun-module-<profile>` (one per kernel
//! profile, so a debug build never stands in for a normal one) and the
//! build's output never lands in the repository. Warnings are errors (see
//! driver/Kbuild). First, driver/gen must be what the netlink spec
//! generates (netlink.rs).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use xshell::Shell;

use crate::{kernel::Kernel, netlink, workspace::Workspace};

pub fn run(sh: &Shell, ws: &Workspace, kernel: &Kernel) -> Result<PathBuf> {
    netlink::check(sh, ws, &kernel.source(), &ws.target.join(format!("ynl-{}", kernel.profile)))?;
    let dir = ws.target.join(format!("xtun-module-{}", kernel.profile));
    sync_dir(sh, &ws.root.join("driver"), &dir)?;
    let jobs = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).to_string();
    let m = format!("M={}", dir.display());
    kernel
        .make(sh)
        .args([m.as_str(), "-j", &jobs, "modules"])
        .quiet()
        .ignore_stdout()
        .run()
        .context("building driver/ failed: the compiler output above says why")?;
    Ok(dir.join("xtun.ko"))
}

/// Copies `from` into `to`, subdirectories too (gen/, netlink/), rewriting
/// only files that changed, so make's timestamps keep warm builds fast.
fn sync_dir(sh: &Shell, from: &Path, to: &Path) -> Result<()> {
    sh.create_dir(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let path = entry?.path();
        let name = path.file_name().context("bad driver file name")?;
        let dest = to.join(name);
        if path.is_dir() {
            sync_dir(sh, &path, &dest)?;
        } else if std::fs::read(&dest).ok() != Some(std::fs::read(&path)?) {
            sh.copy_file(&path, &dest)?;
        }
    }
    Ok(())
}
