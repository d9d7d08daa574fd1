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

/// Debian's python, which python3-yaml and python3-jsonschema serve.
const PYTHON: &str = "/usr/bin/python3";
/// A generation takes well under a second; more means it is stuck.
const TIMEOUT_SECS: &str = "60";

/// `gen-netlink`: regenerates driver/gen with the kernel source `src`.
pub fn run(sh: &Shell, ws: &Workspace, src: &Path) -> Result<()> {
    let staging = ws.target.join("ynl");
    generate(sh, ws, src, &staging)?;
    for (file, _) in OUTPUTS {
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
    Ok(())
}
