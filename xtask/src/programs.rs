//! Stage `guest programs`: the Rust programs of `initrd/guest`, linked
//! statically so the initrd needs no libc for them.

use std::path::PathBuf;

use anyhow::{Context, Result};
use xshell::{cmd, Shell};

use crate::Workspace;

/// The guest binaries, installed in the guest's /usr/bin.
pub const PROGRAMS: &[&str] = &["xtun-echo", "xtun-responder", "xtun-check", "xtun-stack", "xtun-bench", "xtun-stress", "xtun-review"];
const TARGET: &str = "x86_64-unknown-linux-gnu";

pub fn run(sh: &Shell, ws: &Workspace) -> Result<Vec<PathBuf>> {
    let _dir = sh.push_dir(&ws.root);
    // An explicit --target keeps RUSTFLAGS away from build scripts and proc macros.
    cmd!(sh, "cargo build --quiet --release --package xtun-guest --target {TARGET}")
        .quiet()
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .run()
        .context("cannot build the guest programs in initrd/guest")?;
    let dir = ws.target.join(TARGET).join("release");
    Ok(PROGRAMS.iter().map(|p| dir.join(p)).collect())
}
