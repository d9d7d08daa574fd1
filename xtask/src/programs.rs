//! Stage `guest programs`: the Rust programs of `initrd/guest`, linked
//! statically so the initrd needs no libc for them.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::workspace::Workspace;

/// The guest binaries, installed in the guest's /usr/bin.
pub const PROGRAMS: &[&str] = &[
    "xtun-echo",
    "xtun-responder",
    "xtun-check",
    "xtun-stack",
    "xtun-bench",
    "xtun-tbench",
    "xtun-forward",
    "xtun-stress",
    "xtun-review",
    "xtun-tunctl",
    "tap-tcp-serve",
    "xtunctl",
    "xtun-udp",
    "xtun-mitm",
    "xtun-memscan",
];
const TARGET: &str = "x86_64-unknown-linux-gnu";

pub fn run(sh: &Shell, ws: &Workspace) -> Result<Vec<PathBuf>> {
    let _dir = sh.push_dir(&ws.root);
    // An explicit --target keeps RUSTFLAGS away from build scripts and proc macros.
    let messages = cmd!(sh, "cargo build --quiet --release --package xtun-guest --target {TARGET} --message-format=json")
        .quiet()
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .read()
        .context("cannot build the guest programs in initrd/guest")?;
    let built = executables(&messages)?;
    PROGRAMS
        .iter()
        .map(|p| {
            built.iter().find(|b| b.file_name().is_some_and(|n| n == *p)).cloned().with_context(|| {
                format!("cargo built no `{p}` (initrd/guest/src/bin/{p}.rs); programs.rs lists every guest program")
            })
        })
        .collect()
}

/// The executables cargo says it built (its JSON messages), wherever its
/// target directory is (`CARGO_TARGET_DIR`, a config file, ...).
fn executables(messages: &str) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for line in messages.lines() {
        let message: serde_json::Value = serde_json::from_str(line).context("cargo printed a line that is not JSON")?;
        if message["reason"] == "compiler-artifact" {
            if let Some(exe) = message["executable"].as_str() {
                found.push(PathBuf::from(exe));
            }
        }
    }
    if found.is_empty() {
        bail!("cargo reported no executables for initrd/guest");
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executables_come_from_compiler_artifacts() {
        let messages = r#"{"reason":"compiler-artifact","target":{"name":"xtun_guest"},"executable":null}
{"reason":"compiler-artifact","target":{"name":"xtun-echo"},"executable":"/t/x86_64-unknown-linux-gnu/release/xtun-echo"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(executables(messages).unwrap(), [PathBuf::from("/t/x86_64-unknown-linux-gnu/release/xtun-echo")]);
    }
}
