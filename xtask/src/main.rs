//! `cargo xtask`: builds the guest kernel, the xtun module and an initrd,
//! and boots them under QEMU, interactively (`vm`) or to run the guest
//! test suite (`test`). One module per stage.

mod bench;
mod boot;
mod children;
mod deps;
mod flags;
mod fragment;
mod initrd;
mod kernel;
mod ktap;
mod lab;
mod module;
mod programs;
mod qemu;
mod test;
mod vm;

use std::{path::PathBuf, time::Instant};

use anyhow::Result;
use xshell::Shell;

fn main() {
    if let Err(err) = try_main() {
        eprintln!("error: {err:#}");
        // 130 as a shell reports Ctrl-C.
        std::process::exit(if children::interrupted() { 130 } else { 2 });
    }
}

fn try_main() -> Result<()> {
    let flags = flags::parse(std::env::args().skip(1)).unwrap_or_else(|e| e.exit());
    children::kill_on_signal()?;
    let sh = Shell::new()?;
    let ws = Workspace::locate(&sh)?;
    match flags.command {
        flags::Command::Deps => deps::run(&sh, &ws, &kernel::Profile::of(&flags), &[]).map(drop),
        flags::Command::Build => build(&sh, &ws, &flags).map(drop),
        flags::Command::Vm => {
            let artifacts = build(&sh, &ws, &flags)?;
            let code = vm::run(&sh, &ws, &flags, &artifacts)?;
            std::process::exit(code)
        }
        flags::Command::Bench => bench::run(&sh, &ws, &flags),
        flags::Command::Test => {
            let code = test::run(&sh, &ws, &flags)?;
            std::process::exit(code)
        }
    }
}

/// Where things live: the repository and the per-user build cache.
pub struct Workspace {
    pub root: PathBuf,
    pub target: PathBuf,
    pub cache: PathBuf,
}

impl Workspace {
    fn locate(sh: &Shell) -> Result<Workspace> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize()?;
        let target = root.join("target");
        let cache = match std::env::var_os("XTUN_CACHE") {
            Some(dir) => PathBuf::from(dir),
            None => {
                let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
                PathBuf::from(home).join(".cache/xtun")
            }
        };
        sh.create_dir(&target)?;
        sh.create_dir(&cache)?;
        Ok(Workspace { root, target, cache })
    }
}

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
        }
    }
}

/// deps -> kernel -> module -> guest programs -> initrd.
pub fn build(sh: &Shell, ws: &Workspace, flags: &flags::Flags) -> Result<Artifacts> {
    let profile = kernel::Profile::of(flags);
    // perf (package, binary) goes into the guest only for `bench --perf`.
    let (packages, guest_tools): (&[_], &[_]) =
        if flags.perf { (&[deps::PERF], &[(deps::PERF.1, deps::PERF.1)]) } else { (&[], &[]) };
    let tools = stage("deps", || deps::run(sh, ws, &profile, packages))?;
    let kernel = stage(&format!("kernel ({} profile)", profile.name), || kernel::run(sh, ws, &tools, &profile))?;
    let module = stage("module", || module::run(sh, ws, &kernel))?;
    let programs = stage("guest programs", || programs::run(sh, ws))?;
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
