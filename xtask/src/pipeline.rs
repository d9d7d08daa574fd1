//! The build pipeline every command shares: deps -> kernel -> module ->
//! guest programs -> tun selftest -> initrd, each a named, timed stage.

use std::{path::PathBuf, time::Instant};

use anyhow::{bail, Result};
use xshell::Shell;

use crate::{deps, flags::Flags, initrd, kernel, lock::Lock, module, profile::Profile, programs, qemu, selftest, source, workspace::Workspace};

/// Everything a boot needs.
pub struct Artifacts {
    pub kernel: kernel::Kernel,
    pub initrd: PathBuf,
}

impl Artifacts {
    /// A boot of this kernel and initrd with the kernel profile's memory and
    /// command line; no results port until the caller sets one.
    pub fn boot(&self, mode: qemu::Mode, accel: qemu::Accel, net: qemu::Net) -> qemu::Boot<'_> {
        qemu::Boot {
            kernel: &self.kernel.bzimage,
            memory_mb: self.kernel.memory_mb,
            initrd: &self.initrd,
            mode,
            accel,
            net,
            results: None,
            extra: self.kernel.cmdline.clone(),
            guest: None,
            pty: None,
        }
    }
}

/// The deps stage alone (`cargo xtask deps`).
pub fn deps(sh: &Shell, ws: &Workspace, flags: &Flags) -> Result<deps::Tools> {
    deps::run(sh, ws, &Profile::new(flags.debug_kernel), &[], flags.kdir.is_some())
}

/// The guest kernel's source tree without building the kernel: the user's
/// tree (`KDIR`), else the cached Debian source, fetched if missing.
pub fn kernel_source(sh: &Shell, ws: &Workspace, flags: &Flags) -> Result<PathBuf> {
    let tools = stage("deps", || deps(sh, ws, flags))?;
    match (&flags.kdir, &tools.kernel) {
        (Some(kdir), _) => Ok(kernel::source_of(kdir)),
        (None, Some(kt)) => Ok(source::unpacked(sh, &ws.cache, &kt.apt)?.1),
        (None, None) => bail!("no kernel tree (KDIR) and no tools to fetch the source"),
    }
}

/// deps -> kernel -> module -> guest programs -> tun selftest -> initrd.
pub fn build(sh: &Shell, ws: &Workspace, flags: &Flags) -> Result<Artifacts> {
    let profile = Profile::new(flags.debug_kernel);
    // `--kdir` or `KDIR=` (clap reads both).
    let kdir = flags.kdir.as_deref();
    // perf (package, binary) goes into the guest only for `bench --perf`.
    let (packages, guest_tools): (&[_], &[_]) =
        if flags.perf { (&[deps::PERF], &[(deps::PERF.1, deps::PERF.1)]) } else { (&[], &[]) };
    let tools = stage("deps", || deps::run(sh, ws, &profile, packages, kdir.is_some()))?;
    let kernel = stage(&format!("kernel ({} profile)", profile.name), || kernel::run(sh, ws, &tools, &profile, kdir))?;
    // Module and initrd of a profile are built by one run at a time; the
    // initrd is renamed into place, so a guest booting the last one keeps it.
    let _lock = Lock::exclusive(&ws.target.join(format!("locks/{}.lock", kernel.profile)), "module and initrd lock")?;
    let module = stage("module", || module::run(sh, ws, &kernel))?;
    let mut programs = stage("guest programs", || programs::run(sh, ws))?;
    programs.push(stage("tun selftest", || selftest::run(sh, ws, &kernel))?);
    let initrd = stage("initrd", || initrd::run(sh, ws, &kernel, &module, &programs, guest_tools))?;
    Ok(Artifacts { kernel, initrd })
}

/// Runs one named stage, printing its name and how long it took.
pub fn stage<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    eprintln!("==> {name}");
    let start = Instant::now();
    let result = f();
    let took = start.elapsed().as_secs_f64();
    match &result {
        Ok(_) => eprintln!("    {name}: done in {took:.1}s"),
        Err(_) => eprintln!("    {name}: FAILED after {took:.1}s"),
    }
    result.map_err(|e| e.context(format!("stage `{name}` failed")))
}
