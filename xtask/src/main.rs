//! `cargo xtask`: builds the guest kernel, the xtun module and an initrd,
//! and boots them under QEMU, interactively (`vm`) or to run the guest
//! test suite (`test`). One module per stage.

mod apt;
mod bench;
mod bench_tunnel;
mod boot;
mod children;
mod deps;
mod flags;
mod fragment;
mod initrd;
mod kernel;
mod ktap;
mod lab;
mod lock;
mod module;
mod netlink;
mod pipeline;
mod profile;
mod programs;
mod qemu;
mod selftest;
mod source;
mod test;
mod two_guest;
mod vm;
mod workspace;

use anyhow::Result;
use xshell::Shell;

use crate::workspace::Workspace;

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
    let ws = Workspace::locate()?;
    match flags.command {
        flags::Command::Deps => pipeline::deps(&sh, &ws, &flags).map(drop),
        flags::Command::Build => pipeline::build(&sh, &ws, &flags).map(drop),
        flags::Command::GenNetlink => {
            let src = pipeline::kernel_source(&sh, &ws, &flags)?;
            pipeline::stage("gen-netlink", || netlink::run(&sh, &ws, &src))
        }
        flags::Command::Vm => {
            let artifacts = pipeline::build(&sh, &ws, &flags)?;
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

