//! `cargo xtask gen-netlink`: `driver/gen/` from the genetlink spec
//! `driver/netlink/xtun.yaml`, by the guest kernel's own ynl-gen
//! (`tools/net/ynl/pyynl/ynl_gen_c.py`), as the kernel generates its
//! families. The generated files are committed; the module stage first
//! generates them afresh into `target/` and fails if they differ, so a spec
//! edit without `gen-netlink` is caught.
//!
//! ynl-gen wants the spec in `<dir>/specs/` with `genetlink.yaml` (the
//! schema) in `<dir>`, and walks up from the spec to a `MAINTAINERS` file
//! (the kernel root), looping forever at `/` if there is none: so it runs
//! on a copy in a staging directory of that shape, under a timeout.
//!
//! The driver's Rust takes the family's numbers from `gen/xtun_nl.rs`,
//! which this module writes from the generated uapi header, so no number
//! is copied by hand.

use std::path::Path;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::workspace::Workspace;

const SPEC: &str = "driver/netlink/xtun.yaml";
const GENERATED: &str = "driver/gen";

/// Each generated file, under driver/gen, and the ynl-gen mode that makes it.
const OUTPUTS: &[(&str, &[&str])] = &[
    ("uapi/xtun_nl.h", &["--mode", "uapi", "--header"]),
    ("xtun_nl_gen.h", &["--mode", "kernel", "--header"]),
    ("xtun_nl_gen.c", &["--mode", "kernel", "--source"]),
];
/// The Rust constants, made from the uapi header (after OUTPUTS).
const RUST_CONSTANTS: &str = "xtun_nl.rs";

/// Debian's python, which python3-yaml and python3-jsonschema serve.
const PYTHON: &str = "/usr/bin/python3";
/// A generation takes well under a second; more means it is stuck.
const TIMEOUT_SECS: &str = "60";

/// `gen-netlink`: regenerates driver/gen with the kernel source `src`.
pub fn run(sh: &Shell, ws: &Workspace, src: &Path) -> Result<()> {
    let staging = ws.target.join("ynl");
    generate(sh, ws, src, &staging)?;
    for file in OUTPUTS.iter().map(|(file, _)| *file).chain([RUST_CONSTANTS]) {
        let (fresh, committed) = (staging.join("gen").join(file), ws.root.join(GENERATED).join(file));
        if std::fs::read(&committed).ok() == Some(sh.read_binary_file(&fresh)?) {
            eprintln!("    {GENERATED}/{file}: unchanged");
        } else {
            sh.copy_file(&fresh, &committed)?;
            eprintln!("    {GENERATED}/{file}: regenerated");
        }
    }
    Ok(())
}

/// Fails if driver/gen is not what the spec generates now; `staging` is a
/// directory of the caller's own under target/.
pub fn check(sh: &Shell, ws: &Workspace, src: &Path, staging: &Path) -> Result<()> {
    generate(sh, ws, src, staging)?;
    let stale: Vec<&str> = OUTPUTS
        .iter()
        .map(|(file, _)| *file)
        .chain([RUST_CONSTANTS])
        .filter(|file| {
            std::fs::read(ws.root.join(GENERATED).join(file)).ok() != std::fs::read(staging.join("gen").join(file)).ok()
        })
        .collect();
    if !stale.is_empty() {
        bail!("driver/gen is stale: run cargo xtask gen-netlink (differs from {SPEC}: {})", stale.join(", "));
    }
    Ok(())
}

/// Generates every output into `<staging>/gen/`.
fn generate(sh: &Shell, ws: &Workspace, src: &Path, staging: &Path) -> Result<()> {
    let generator = src.join("tools/net/ynl/pyynl/ynl_gen_c.py");
    if !generator.exists() {
        bail!("the kernel source {} has no {}: a 7.2 tree has it", src.display(), generator.display());
    }
    let _ = sh.remove_path(staging);
    let specs = staging.join("netlink/specs");
    sh.create_dir(&specs)?;
    sh.create_dir(staging.join("gen/uapi"))?;
    sh.write_file(staging.join("MAINTAINERS"), "")?;
    sh.copy_file(src.join("Documentation/netlink/genetlink.yaml"), staging.join("netlink"))?;
    sh.copy_file(ws.root.join(SPEC), &specs)?;
    let spec = specs.join("xtun.yaml");
    for &(file, mode) in OUTPUTS {
        let out = staging.join("gen").join(file);
        let output = cmd!(sh, "timeout {TIMEOUT_SECS} {PYTHON} -B {generator} --spec {spec} {mode...} -o {out}")
            .quiet()
            .ignore_status()
            .output()
            .context("cannot run timeout(1) or python3")?;
        match output.status.code() {
            Some(0) => {}
            Some(124) => {
                bail!("ynl-gen did not finish in {TIMEOUT_SECS} s making {file} (no MAINTAINERS above the spec?)")
            }
            _ => bail!(
                "ynl-gen failed making {file} from {SPEC} (python3-yaml, python3-jsonschema; the spec's first \
                 line must be its SPDX line):\n{}",
                String::from_utf8_lossy(&output.stderr).trim_end()
            ),
        }
    }
    let header = sh.read_file(staging.join("gen/uapi/xtun_nl.h"))?;
    sh.write_file(staging.join("gen").join(RUST_CONSTANTS), rust_constants(&header)?)?;
    Ok(())
}

/// The uapi header's enum values as Rust constants: commands `u8`,
/// attributes `u16` (the types genetlink gives them), the rest `u32`.
fn rust_constants(header: &str) -> Result<String> {
    let mut out = String::from(
        "// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)\n\
         // Do not edit: `cargo xtask gen-netlink` writes it from uapi/xtun_nl.h.\n\n\
         //! The xtun family's numbers.\n\n\
         #![allow(dead_code)] // a table: not every number is used\n\n",
    );
    let mut next: Option<u64> = None;
    for line in header.lines().map(str::trim) {
        if line.starts_with("enum") {
            next = Some(0);
            continue;
        }
        if line.starts_with('}') {
            next = None;
            continue;
        }
        let Some(value) = next.as_mut() else { continue };
        let entry = line.trim_end_matches(',');
        if !entry.starts_with("XTUN_") && !entry.starts_with("__XTUN_") {
            continue;
        }
        let (name, explicit) = match entry.split_once('=') {
            Some((name, v)) => (name.trim(), Some(v.trim())),
            None => (entry.trim(), None),
        };
        if let Some(v) = explicit {
            match v.parse() {
                Ok(v) => *value = v,
                // `XTUN_A_MAX = (__XTUN_A_MAX - 1)`: one less than the last.
                Err(_) if v.starts_with("(__") => {
                    out += &format!("pub(crate) const {name}: {} = {};\n", type_of(name), *value - 2);
                    continue;
                }
                Err(_) => bail!("uapi/xtun_nl.h: cannot read the value of {name}: {v}"),
            }
        }
        if !name.starts_with("__") {
            out += &format!("pub(crate) const {name}: {} = {value};\n", type_of(name));
        }
        *value += 1;
    }
    Ok(out)
}

fn type_of(name: &str) -> &'static str {
    if name.starts_with("XTUN_CMD_") {
        "u8"
    } else if name.starts_with("XTUN_A_") {
        "u16"
    } else {
        "u32"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_from_a_uapi_header() {
        let header = "enum xtun_mode {\n\tXTUN_MODE_TAP,\n\tXTUN_MODE_TUNNEL,\n};\n\
                      enum {\n\tXTUN_A_PEER_ID = 1,\n\tXTUN_A_PEER_MAC,\n\n\t__XTUN_A_PEER_MAX,\n\
                      \tXTUN_A_PEER_MAX = (__XTUN_A_PEER_MAX - 1)\n};\n\
                      enum {\n\tXTUN_CMD_DEV_GET = 1,\n};\n";
        let out = rust_constants(header).unwrap();
        for line in [
            "pub(crate) const XTUN_MODE_TAP: u32 = 0;",
            "pub(crate) const XTUN_MODE_TUNNEL: u32 = 1;",
            "pub(crate) const XTUN_A_PEER_ID: u16 = 1;",
            "pub(crate) const XTUN_A_PEER_MAC: u16 = 2;",
            "pub(crate) const XTUN_A_PEER_MAX: u16 = 2;",
            "pub(crate) const XTUN_CMD_DEV_GET: u8 = 1;",
        ] {
            assert!(out.contains(line), "{line} not in:\n{out}");
        }
        assert!(!out.contains("__XTUN"), "{out}");
    }
}
