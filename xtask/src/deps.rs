//! Stage `deps`: every tool the build needs, installed if missing.
//!
//! Debian packages come from the system's apt sources (qemu-system-x86 from
//! bookworm-backports, to match the image's qemu-utils). The kernel source
//! and rust-src come from trixie-backports through a private apt
//! configuration under the cache, which never touches the system's sources.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::Workspace;

/// Debian packages the build and the guest need, with one file that proves
/// each is installed.
const PACKAGES: &[(&str, &str)] = &[
    ("make", "/usr/bin/make"),
    ("gcc", "/usr/bin/gcc"),
    ("flex", "/usr/bin/flex"),
    ("bison", "/usr/bin/bison"),
    ("bc", "/usr/bin/bc"),
    ("xz-utils", "/usr/bin/xz"),
    ("libelf-dev", "/usr/include/gelf.h"),
    ("libssl-dev", "/usr/include/openssl/ssl.h"),
    ("cpio", "/usr/bin/cpio"),
    ("busybox-static", "/bin/busybox"),
    ("libclang-19-dev", "/usr/lib/llvm-19/lib/libclang.so"),
    ("iproute2", "/usr/sbin/ip"),
    ("iputils-ping", "/usr/bin/ping"),
    ("ethtool", "/usr/sbin/ethtool"),
    ("tcpdump", "/usr/bin/tcpdump"),
    ("iperf3", "/usr/bin/iperf3"),
];

const QEMU: (&str, &str) = ("qemu-system-x86", "/usr/bin/qemu-system-x86_64");
const BACKPORTS_SOURCE: &str = "/etc/apt/sources.list.d/xtun-bookworm-backports.sources";

/// The kernel source package, pinned for a reproducible guest kernel; if the
/// archive dropped that version, the newest one of the series is used.
pub const KERNEL_PACKAGE: &str = "linux-source-7.2";
pub const KERNEL_VERSION: &str = "7.2.12-1~bpo13+1";
const BINDGEN_VERSION: &str = "0.73.2";
pub const LIBCLANG_PATH: &str = "/usr/lib/llvm-19/lib";

pub struct Tools {
    /// `RUST_LIB_SRC` for the kernel build.
    pub rust_lib_src: PathBuf,
    /// `rustc --version`, part of the kernel cache key.
    pub rustc_version: String,
    /// The private apt setup, to fetch the kernel source when needed.
    pub apt: PrivateApt,
}

/// Debian's perf, for `cargo xtask bench --perf` only.
pub const PERF: (&str, &str) = ("linux-perf", "/usr/bin/perf");

/// Installs what is missing (`extra`: packages this run needs beyond the
/// profile's) and finds the kernel build's tools.
pub fn run(sh: &Shell, ws: &Workspace, profile: &crate::kernel::Profile, extra: &[(&str, &str)]) -> Result<Tools> {
    install_packages(sh, &[profile.packages, extra].concat())?;
    install_bindgen(sh)?;
    let apt = PrivateApt::new(sh, &ws.cache.join("apt"))?;
    let rustc_version = cmd!(sh, "rustc --version").read().context("cannot run rustc")?;
    let rust_lib_src = rust_src(sh, ws, &apt, &rustc_version)?;
    Ok(Tools { rust_lib_src, rustc_version, apt })
}

fn is_root(sh: &Shell) -> bool {
    cmd!(sh, "id -u").read().map(|s| s.trim() == "0").unwrap_or(false)
}

fn install_packages(sh: &Shell, extra: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .chain(extra)
        .filter(|(_, file)| !Path::new(file).exists())
        .map(|(pkg, _)| *pkg)
        .collect();
    let need_qemu = !Path::new(QEMU.1).exists();
    if missing.is_empty() && !need_qemu {
        return Ok(());
    }
    let qemu = QEMU.0;
    if !is_root(sh) {
        bail!(
            "missing packages; as root run:\n  apt-get install {}\n  apt-get install -t bookworm-backports {qemu}",
            missing.join(" ")
        );
    }
    if need_qemu && !Path::new(BACKPORTS_SOURCE).exists() && !has_backports(sh) {
        eprintln!("    adding apt source {BACKPORTS_SOURCE} (bookworm-backports, for {qemu})");
        sh.write_file(
            BACKPORTS_SOURCE,
            "# Added by `cargo xtask` (xtun): qemu-system-x86 must match the image's\n\
             # qemu-utils, which comes from bookworm-backports.\n\
             Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\n\
             Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
        )?;
    }
    eprintln!("    apt-get install {} {}", missing.join(" "), if need_qemu { qemu } else { "" });
    let _env = sh.push_env("DEBIAN_FRONTEND", "noninteractive");
    cmd!(sh, "apt-get update -q").quiet().ignore_stdout().run().context("apt-get update failed")?;
    if !missing.is_empty() {
        cmd!(sh, "apt-get install -y -q {missing...}")
            .ignore_stdout()
            .run()
            .context("apt-get install failed: see the message above")?;
    }
    if need_qemu {
        cmd!(sh, "apt-get install -y -q -t bookworm-backports {qemu}")
            .ignore_stdout()
            .run()
            .context("cannot install qemu-system-x86 from bookworm-backports")?;
    }
    Ok(())
}

fn has_backports(sh: &Shell) -> bool {
    cmd!(sh, "apt-cache policy")
        .quiet()
        .read()
        .map(|s| s.contains("bookworm-backports"))
        .unwrap_or(false)
}

fn install_bindgen(sh: &Shell) -> Result<()> {
    // The kernel needs bindgen >= 0.71.1.
    if let Ok(v) = cmd!(sh, "bindgen --version").quiet().ignore_stderr().read() {
        let version = v.split_whitespace().nth(1).unwrap_or("");
        let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        if (major, minor) >= (0, 72) {
            return Ok(());
        }
    }
    eprintln!("    cargo install bindgen-cli {BINDGEN_VERSION} (about 2 minutes)");
    let _env = sh.push_env("LIBCLANG_PATH", LIBCLANG_PATH);
    cmd!(sh, "cargo install bindgen-cli --locked --version {BINDGEN_VERSION}")
        .run()
        .context("cannot install bindgen-cli")
}

/// rust-src for exactly the installed rustc, from Debian's `rust-src`.
fn rust_src(sh: &Shell, ws: &Workspace, apt: &PrivateApt, rustc_version: &str) -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("RUST_LIB_SRC") {
        return Ok(PathBuf::from(dir));
    }
    // "rustc 1.95.0 (59807616e 2026-04-14)" -> "1.95.0"
    let version = rustc_version.split_whitespace().nth(1).unwrap_or_default().to_string();
    let dir = ws.cache.join(format!("rust-src-{version}"));
    let library = dir.join("usr/lib/rustlib/src/rust/library");
    if library.join("core").exists() {
        return Ok(library);
    }
    let available = apt.versions(sh, "rust-src")?;
    let Some(deb_version) = available.iter().find(|v| v.starts_with(&format!("{version}+"))) else {
        bail!(
            "Debian has no rust-src for {rustc_version}: available are {}. \
             Install a matching rustc with rustup, or set RUST_LIB_SRC to its library sources",
            available.join(", ")
        );
    };
    let deb = apt.download(sh, "rust-src", deb_version)?;
    sh.remove_path(&dir)?;
    cmd!(sh, "dpkg-deb -x {deb} {dir}").run()?;
    Ok(library)
}

/// apt with its own sources, lists and cache, for downloads only.
pub struct PrivateApt {
    dir: PathBuf,
    options: Vec<String>,
}

impl PrivateApt {
    fn new(sh: &Shell, dir: &Path) -> Result<PrivateApt> {
        let (uri, keyring) = debian_mirror(sh);
        sh.create_dir(dir.join("lists/partial"))?;
        sh.create_dir(dir.join("cache/archives/partial"))?;
        sh.create_dir(dir.join("empty"))?;
        sh.create_dir(dir.join("debs"))?;
        let list = dir.join("sources.list");
        sh.write_file(&list, format!("deb [signed-by={keyring}] {uri} trixie-backports main\n"))?;
        let d = dir.display();
        let options = [
            format!("Dir::Etc::SourceList={}", list.display()),
            format!("Dir::Etc::SourceParts={d}/empty"),
            format!("Dir::State::Lists={d}/lists"),
            format!("Dir::Cache={d}/cache"),
            "APT::Sandbox::User=root".to_string(),
        ]
        .into_iter()
        .flat_map(|o| ["-o".to_string(), o])
        .collect();
        Ok(PrivateApt { dir: dir.to_path_buf(), options })
    }

    fn update(&self, sh: &Shell) -> Result<()> {
        let o = &self.options;
        cmd!(sh, "apt-get {o...} update -q")
            .quiet()
            .ignore_stdout()
            .run()
            .context("cannot read trixie-backports package lists (private apt config)")
    }

    /// Versions of `package` in trixie-backports, newest first.
    pub fn versions(&self, sh: &Shell, package: &str) -> Result<Vec<String>> {
        self.update(sh)?;
        let o = &self.options;
        let out = cmd!(sh, "apt-cache {o...} madison {package}").quiet().read()?;
        Ok(out
            .lines()
            .filter_map(|l| l.split('|').nth(1).map(|v| v.trim().to_string()))
            .collect())
    }

    /// Downloads `package=version` (once) and returns the .deb's path.
    pub fn download(&self, sh: &Shell, package: &str, version: &str) -> Result<PathBuf> {
        let debs = self.dir.join("debs");
        let file = format!("{package}_{}_all.deb", version.replace(':', "%3a"));
        let deb = debs.join(&file);
        if deb.exists() {
            return Ok(deb);
        }
        eprintln!("    downloading {package} {version}");
        let o = &self.options;
        let _dir = sh.push_dir(&debs);
        cmd!(sh, "apt-get {o...} download -q {package}={version}")
            .quiet()
            .ignore_stdout()
            .run()
            .with_context(|| format!("cannot download {package}={version}"))?;
        if !deb.exists() {
            bail!("apt-get download did not produce {file}");
        }
        Ok(deb)
    }
}

/// The Debian mirror and keyring the system's apt already trusts.
fn debian_mirror(sh: &Shell) -> (String, String) {
    let mut uri = "http://deb.debian.org/debian".to_string();
    let mut keyring = "/usr/share/keyrings/debian-archive-keyring.gpg".to_string();
    if let Ok(text) = sh.read_file("/etc/apt/sources.list.d/debian.sources") {
        // The first stanza is the main archive (the security one follows).
        let stanza = text.split("\n\n").next().unwrap_or("");
        for line in stanza.lines() {
            if let Some(v) = line.strip_prefix("URIs:") {
                uri = v.split_whitespace().next().unwrap_or(&uri).to_string();
            } else if let Some(v) = line.strip_prefix("Signed-By:") {
                keyring = v.trim().to_string();
            }
        }
    }
    (uri, keyring)
}
