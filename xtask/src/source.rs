//! The Debian kernel source (`linux-source-7.2` from trixie-backports),
//! fetched once and unpacked once into `<cache>/src/linux-<version>`.
//!
//! The version used is recorded in `<cache>/src/chosen-version`, so a warm
//! run never asks the network and never moves silently to another 7.2.x.
//! Unpacking goes to a directory of the run's own and is renamed into place
//! with a completion marker inside, so a run killed halfway leaves nothing
//! the next run could take for a finished tree.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::{apt::PrivateApt, children, lock::{self, Lock}};

/// The source package, pinned for a reproducible guest kernel; if the
/// archive dropped that version, the newest one of the series is used.
pub const PACKAGE: &str = "linux-source-7.2";
pub const PINNED: &str = "7.2.12-1~bpo13+1";
/// Written last inside a completely unpacked tree.
const MARKER: &str = ".xtun-unpacked";

/// "7.2.12-1~bpo13+1" -> "7.2.12".
fn upstream(deb_version: &str) -> &str {
    deb_version.split('-').next().unwrap_or(deb_version)
}

fn tree(src: &Path, deb_version: &str) -> PathBuf {
    src.join(format!("linux-{}", upstream(deb_version)))
}

/// The unpacked source tree and its upstream version, fetching and
/// unpacking it if this cache has none.
pub fn unpacked(sh: &Shell, cache: &Path, apt: &PrivateApt) -> Result<(String, PathBuf)> {
    let src = cache.join("src");
    let chosen_file = src.join("chosen-version");
    let recorded = std::fs::read_to_string(&chosen_file).ok().map(|v| v.trim().to_string());
    let ready = |v: &str| tree(&src, v).join(MARKER).exists();
    if let Some(v) = recorded.as_deref().filter(|v| ready(v)) {
        return Ok((upstream(v).to_string(), tree(&src, v)));
    }
    let _lock = Lock::exclusive(&cache.join("locks/source.lock"), "kernel source lock")?;
    let deb_version = match recorded {
        Some(v) => v,
        None => choose(sh, apt)?,
    };
    if !ready(&deb_version) {
        apt.remove_partials()?;
        crate::kernel::need_space(cache, 4)?;
        let deb = apt.download(sh, PACKAGE, &deb_version)?;
        eprintln!("    unpacking {PACKAGE} {deb_version}");
        if let Err(e) = unpack_deb(sh, &deb, &src, &tree(&src, &deb_version)) {
            apt.forget(&deb);
            return Err(e.context("the downloaded kernel source was unusable and is deleted; run again to fetch it anew"));
        }
    }
    std::fs::write(&chosen_file, format!("{deb_version}\n"))?;
    Ok((upstream(&deb_version).to_string(), tree(&src, &deb_version)))
}

/// The pinned version if the archive has it, else the newest of the series.
fn choose(sh: &Shell, apt: &PrivateApt) -> Result<String> {
    let available = apt.versions(sh, PACKAGE)?;
    if available.iter().any(|v| v == PINNED) {
        return Ok(PINNED.to_string());
    }
    let Some(newest) = available.first() else {
        bail!(
            "trixie-backports has no {PACKAGE} any more (the archive moved to a new series): \
             build a Rust-enabled 7.x kernel yourself and pass KDIR=<dir>, or update source.rs to the new series"
        );
    };
    eprintln!("    {PACKAGE} {PINNED} is gone from the archive; using {newest} (recorded in the cache)");
    Ok(newest.clone())
}

/// Unpacks the kernel tarball inside `deb` into `dest`, through a directory
/// of this run's own under `src` (created if missing).
fn unpack_deb(sh: &Shell, deb: &Path, src: &Path, dest: &Path) -> Result<()> {
    std::fs::create_dir_all(src).with_context(|| format!("cannot create {}", src.display()))?;
    // The caller holds the source lock.
    lock::remove_leftovers(src, ".unpack")?;
    let tmp = src.join(format!(".unpack-{}", std::process::id()));
    let contents = tmp.join("deb");
    sh.create_dir(&contents)?;
    // Children die with xtask: none may write here after the lock passes on.
    children::dies_with_parent(duct::cmd!("dpkg-deb", "-x", deb, &contents))
        .run()
        .with_context(|| format!("cannot unpack {}", deb.display()))?;
    let tarball = contents.join(format!("usr/src/{PACKAGE}.tar.xz"));
    children::dies_with_parent(duct::cmd!("tar", "-xJf", tarball, "-C", &tmp))
        .run()
        .context("cannot unpack the kernel source tarball")?;
    let unpacked = tmp.join(PACKAGE);
    std::fs::write(unpacked.join(MARKER), "")?;
    if dest.exists() {
        std::fs::remove_dir_all(dest)?;
    }
    std::fs::rename(&unpacked, dest).with_context(|| format!("cannot move {} to {}", unpacked.display(), dest.display()))?;
    std::fs::remove_dir_all(&tmp)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use xshell::cmd;

    /// A small stand-in for linux-source-7.2's .deb, made by `dpkg-deb -b`.
    fn fake_deb(dir: &Path) -> PathBuf {
        let sh = Shell::new().unwrap();
        let root = dir.join("pkg");
        let tree = dir.join("tree");
        sh.write_file(tree.join(format!("{PACKAGE}/Makefile")), "# fake kernel\n").unwrap();
        sh.create_dir(root.join("usr/src")).unwrap();
        let tarball = root.join(format!("usr/src/{PACKAGE}.tar.xz"));
        cmd!(sh, "tar -cJf {tarball} -C {tree} {PACKAGE}").quiet().run().unwrap();
        sh.write_file(
            root.join("DEBIAN/control"),
            format!("Package: {PACKAGE}\nVersion: {PINNED}\nArchitecture: all\nMaintainer: xtun <x@example>\nDescription: test\n"),
        )
        .unwrap();
        let deb = dir.join("fake.deb");
        cmd!(sh, "dpkg-deb --root-owner-group -b {root} {deb}").quiet().ignore_stdout().run().unwrap();
        deb
    }

    /// A fake .deb in a temporary directory, and where the tests unpack it:
    /// `src` (a path under the directory, not yet made) and its `dest` tree.
    struct Fixture {
        _dir: tempfile::TempDir,
        deb: PathBuf,
        src: PathBuf,
        dest: PathBuf,
    }

    impl Fixture {
        fn new(src: &str) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let deb = fake_deb(dir.path());
            let src = dir.path().join(src);
            let dest = tree(&src, PINNED);
            Fixture { _dir: dir, deb, src, dest }
        }

        fn unpack(&self) -> Result<()> {
            unpack_deb(&Shell::new().unwrap(), &self.deb, &self.src, &self.dest)
        }
    }

    #[test]
    fn unpacks_into_an_empty_cache_root() {
        let f = Fixture::new("cache/src");
        f.unpack().unwrap();
        assert!(f.dest.join("Makefile").exists());
        assert!(f.dest.join(MARKER).exists());
        let left: Vec<_> = std::fs::read_dir(&f.src).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, [std::ffi::OsString::from("linux-7.2.12")], "nothing but the tree is left");
    }

    #[test]
    fn an_interrupted_unpack_is_replaced() {
        let f = Fixture::new("src");
        // What a killed run leaves: a half tree without marker, its temp dir.
        std::fs::create_dir_all(f.dest.join("half")).unwrap();
        std::fs::create_dir_all(f.src.join(".unpack-1/deb")).unwrap();
        f.unpack().unwrap();
        assert!(!f.dest.join("half").exists() && f.dest.join(MARKER).exists());
        assert!(!f.src.join(".unpack-1").exists());
    }

    #[test]
    fn a_damaged_deb_is_an_error_not_a_tree() {
        let f = Fixture::new("src");
        let bytes = std::fs::read(&f.deb).unwrap();
        std::fs::write(&f.deb, &bytes[..bytes.len() / 2]).unwrap();
        assert!(f.unpack().is_err());
        assert!(!f.dest.exists());
    }
}
