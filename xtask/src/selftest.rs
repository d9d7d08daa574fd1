//! Stage `tun selftest`: the kernel's own tun selftest
//! (`tools/testing/selftests/net/tun.c` of the guest kernel's source), built
//! on the host as the selftests' Makefile and ynl.mk build it, static, into
//! `target/tun-selftest-<profile>/`; the guest runs it as
//! /usr/bin/tun-selftest (tests/40-tun-selftest.sh).
//!
//! - uapi headers: `make O=<out>/headers headers`, the kernel's own
//!   `usr/include` (7.2's if_tun.h and virtio_net.h; the host's
//!   linux-libc-dev is older);
//! - YNL: tuntap_helpers.h drives rtnetlink (the tests delete their device
//!   with RTM_DELLINK) through code generated from the rt-* netlink specs
//!   by tools/net/ynl/pyynl/ynl_gen_c.py, plus tools/net/ynl/lib/ynl.c;
//! - `gcc -static` of tun.c with all of that.
//!
//! Nothing is written into the kernel source or build trees (python runs
//! with -B: no __pycache__ beside the generator).

use std::{
    path::{Path, PathBuf},
    time::SystemTime,
};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::{kernel::Kernel, workspace::Workspace};

/// The netlink families tuntap_helpers.h includes (`YNL_GENS` of the
/// selftests' net/Makefile, less netdev, which tun.c does not use).
const FAMILIES: &[&str] = &["rt-addr", "rt-link", "rt-neigh", "rt-route"];

/// What the binary is made of, under the source tree: anything newer here
/// rebuilds it.
const INPUTS: &[&str] = &[
    "tools/testing/selftests/net/tun.c",
    "tools/testing/selftests/net/tuntap_helpers.h",
    "tools/testing/selftests/kselftest_harness.h",
    "tools/testing/selftests/kselftest.h",
    "tools/net/ynl/lib",
    "tools/net/ynl/pyynl",
    "Documentation/netlink",
    "include/uapi",
    "arch/x86/include/uapi",
];

/// Debian's python, which the python3-yaml and python3-jsonschema packages
/// serve (a `python3` first on PATH, e.g. pyenv's, may lack them).
const PYTHON: &str = "/usr/bin/python3";

/// Builds the selftest if it is missing or older than its sources; returns
/// the binary, named as it is installed in the guest.
pub fn run(sh: &Shell, ws: &Workspace, kernel: &Kernel) -> Result<PathBuf> {
    let src = kernel.source();
    if !src.join(INPUTS[0]).exists() {
        bail!("the kernel source {} has no {}: a 7.2 tree has it", src.display(), INPUTS[0]);
    }
    let out = ws.target.join(format!("tun-selftest-{}", kernel.profile));
    let binary = out.join("tun-selftest");
    // The recipe's identity: a different source tree rebuilds too.
    let stamp = out.join("built-from");
    let recipe = src.display().to_string();
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(recipe.as_str())
        && modified(&binary).is_some_and(|built| INPUTS.iter().all(|i| newest(&src.join(i)) <= Some(built)))
    {
        return Ok(binary);
    }
    sh.remove_path(&stamp)?;

    let headers = out.join("headers");
    cmd!(sh, "make -s -C {src} O={headers} ARCH=x86 headers")
        .quiet()
        .run()
        .context("cannot install the kernel's uapi headers for the tun selftest")?;

    let ynl = out.join("ynl");
    sh.create_dir(&ynl)?;
    let generator = src.join("tools/net/ynl/pyynl/ynl_gen_c.py");
    let mut sources = vec![src.join("tools/testing/selftests/net/tun.c"), src.join("tools/net/ynl/lib/ynl.c")];
    for family in FAMILIES {
        let spec = src.join(format!("Documentation/netlink/specs/{family}.yaml"));
        let (header, source) = (ynl.join(format!("{family}-user.h")), ynl.join(format!("{family}-user.c")));
        cmd!(sh, "{PYTHON} -B {generator} --mode user --header --spec {spec} -o {header}")
            .quiet()
            .run()
            .with_context(|| format!("cannot generate YNL code for {family} (python3-yaml, python3-jsonschema)"))?;
        cmd!(sh, "{PYTHON} -B {generator} --mode user --source --spec {spec} -o {source}").quiet().run()?;
        sources.push(source);
    }

    let include = headers.join("usr/include");
    let (ynl_lib, selftests) = (src.join("tools/net/ynl/lib"), src.join("tools/testing/selftests"));
    let tmp = out.join(format!("tun-selftest.{}", std::process::id()));
    // -isystem: the kernel's headers come before the host's /usr/include,
    // as KHDR_INCLUDES in the selftests' build.
    cmd!(sh, "gcc -O2 -Wall -static -s -isystem {include} -I{ynl_lib} -I{ynl} -I{selftests} -o {tmp} {sources...}")
        .quiet()
        .run()
        .context("cannot build the kernel's tun selftest")?;
    std::fs::rename(&tmp, &binary)?;
    sh.write_file(&stamp, recipe)?;
    Ok(binary)
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time of `path` and, for a directory, of
/// everything under it.
fn newest(path: &Path) -> Option<SystemTime> {
    let mut time = modified(path);
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            time = time.max(newest(&entry.path()));
        }
    }
    time
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_looks_inside_directories() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old");
        std::fs::create_dir(&old).unwrap();
        std::fs::write(old.join("f"), "").unwrap();
        let file = std::fs::File::options().write(true).open(old.join("f")).unwrap();
        let later = SystemTime::now() + std::time::Duration::from_secs(60);
        file.set_modified(later).unwrap();
        assert_eq!(newest(dir.path()), Some(later));
        assert_eq!(newest(&dir.path().join("missing")), None);
    }
}
