//! Stage `module`: builds `driver/` out of tree against the guest kernel.
//! The sources are copied to `target/xtun-module-<profile>` (one per kernel
//! profile, so a debug build never stands in for a normal one) and the
//! build's output never lands in the repository. Warnings are errors (see
//! driver/Kbuild).

use std::path::PathBuf;

use anyhow::{Context, Result};
use xshell::Shell;

use crate::{kernel::Kernel, workspace::Workspace};

pub fn run(sh: &Shell, ws: &Workspace, kernel: &Kernel) -> Result<PathBuf> {
    let dir = ws.target.join(format!("xtun-module-{}", kernel.profile));
    sh.create_dir(&dir)?;
    for entry in std::fs::read_dir(ws.root.join("driver"))? {
        let path = entry?.path();
        let name = path.file_name().context("bad driver file name")?;
        let dest = dir.join(name);
        // Copy only what changed, so make's timestamps keep warm builds fast.
        if std::fs::read(&dest).ok() != Some(std::fs::read(&path)?) {
            sh.copy_file(&path, &dest)?;
        }
    }
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
