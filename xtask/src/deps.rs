//! Stage `deps`: every tool the build needs, installed if missing.
//!
//! Debian packages come from the system's apt sources (qemu-system-x86 from
//! the release's backports, to match the image's qemu-utils). rust-src and
//! the kernel source come from trixie-backports through a private apt
//! configuration under the cache (see apt.rs), which never touches the
//! system's sources. With `KDIR=` (a user's own built tree) only what
//! building the module and the initrd needs is installed.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::{
    apt::{self, PrivateApt},
    children,
    lock::{self, Lock},
    profile::Profile,
    workspace::Workspace,
};

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
    // nft for the tunnel tests' NAT router (masquerade with a port rewrite).
    ("nftables", "/usr/sbin/nft"),
    // wg, for the tunnel bench's WireGuard variant (bench_tunnel.rs).
    ("wireguard-tools", "/usr/bin/wg"),
    // The kernel's tun selftest (selftest.rs): static glibc, and YNL's
    // code generator.
    ("libc6-dev", "/usr/lib/x86_64-linux-gnu/libc.a"),
    ("python3-yaml", "/usr/lib/python3/dist-packages/yaml/__init__.py"),
    ("python3-jsonschema", "/usr/lib/python3/dist-packages/jsonschema/__init__.py"),
];

/// Installed without their recommends: wireguard-tools recommends
/// wireguard-modules, which apt satisfies with a whole kernel image.
const NO_RECOMMENDS: &[&str] = &["wireguard-tools"];

const QEMU: (&str, &str) = ("qemu-system-x86", "/usr/bin/qemu-system-x86_64");

const BINDGEN_VERSION: &str = "0.73.2";
pub const LIBCLANG_PATH: &str = "/usr/lib/llvm-19/lib";

/// Debian's perf, for `cargo xtask bench --perf` only.
pub const PERF: (&str, &str) = ("linux-perf", "/usr/bin/perf");

/// What building a kernel from source needs beyond packages.
pub struct KernelTools {
    /// `RUST_LIB_SRC` for the kernel build.
    pub rust_lib_src: PathBuf,
    /// bindgen by full path (`BINDGEN=` for make): ~/.cargo/bin is not on
    /// PATH under sudo or su.
    pub bindgen: PathBuf,
    /// The private apt setup, to fetch the kernel source when needed.
    pub apt: PrivateApt,
}

pub struct Tools {
    /// `rustc --version`, part of the kernel cache key.
    pub rustc_version: String,
    /// None with `KDIR=`: a user's built tree needs no sources or bindgen.
    pub kernel: Option<KernelTools>,
}

/// Installs what is missing (`extra`: packages this run needs beyond the
/// profile's) and finds the kernel build's tools.
pub fn run(sh: &Shell, ws: &Workspace, profile: &Profile, extra: &[(&str, &str)], users_tree: bool) -> Result<Tools> {
    let _lock = Lock::exclusive(&ws.cache.join("locks/deps.lock"), "deps lock")?;
    install_packages(sh, &[profile.packages, extra].concat())?;
    let rustc_version = cmd!(sh, "rustc --version").read().context("cannot run rustc; install it with rustup")?;
    if users_tree {
        return Ok(Tools { rustc_version, kernel: None });
    }
    let bindgen = install_bindgen(sh)?;
    let apt = PrivateApt::new(sh, &ws.cache.join("apt"))?;
    let rust_lib_src = rust_src(sh, ws, &apt, &rustc_version)?;
    Ok(Tools { rustc_version, kernel: Some(KernelTools { rust_lib_src, bindgen, apt }) })
}

fn install_packages(sh: &Shell, extra: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> =
        PACKAGES.iter().chain(extra).filter(|(_, file)| !Path::new(file).exists()).map(|(pkg, _)| *pkg).collect();
    let need_qemu = !Path::new(QEMU.1).exists();
    if missing.is_empty() && !need_qemu {
        return Ok(());
    }
    let codename = apt::codename().unwrap_or_else(|| "bookworm".into());
    let backports = format!("{codename}-backports");
    let qemu = QEMU.0;
    let (lean, full): (Vec<&str>, Vec<&str>) = missing.iter().partition(|pkg| NO_RECOMMENDS.contains(pkg));
    if !nix::unistd::geteuid().is_root() {
        let lean = if lean.is_empty() { String::new() } else { format!("\n  apt-get install --no-install-recommends {}", lean.join(" ")) };
        bail!("missing packages; as root run:\n  apt-get install {}{lean}\n  apt-get install -t {backports} {qemu}", full.join(" "));
    }
    if need_qemu && !has_suite(sh, &backports) {
        add_backports(sh, &codename)?;
    }
    eprintln!("    apt-get install {} {}", missing.join(" "), if need_qemu { qemu } else { "" });
    apt::update_system(sh)?;
    if !full.is_empty() {
        apt::install(sh, &full, None, true)?;
    }
    if !lean.is_empty() {
        apt::install(sh, &lean, None, false)?;
    }
    if need_qemu {
        apt::install(sh, &[qemu], Some(&backports), true).context("cannot install qemu-system-x86 from backports")?;
    }
    Ok(())
}

/// Adds `<codename>-backports` from the mirror the system already uses.
fn add_backports(sh: &Shell, codename: &str) -> Result<()> {
    let path = format!("/etc/apt/sources.list.d/xtun-{codename}-backports.sources");
    let mirror = apt::Mirror::of_system(codename);
    eprintln!("    adding apt source {path} ({codename}-backports from {}, for qemu-system-x86)", mirror.uri);
    sh.write_file(
        &path,
        format!(
            "# Added by `cargo xtask` (xtun): qemu-system-x86 must match the image's\n\
             # qemu-utils, which comes from {codename}-backports.\n\
             Types: deb\nURIs: {}\nSuites: {codename}-backports\nComponents: main\nSigned-By: {}\n",
            mirror.uri, mirror.keyring
        ),
    )?;
    Ok(())
}

fn has_suite(sh: &Shell, suite: &str) -> bool {
    cmd!(sh, "apt-cache policy").quiet().read().map(|s| s.contains(suite)).unwrap_or(false)
}

/// bindgen-cli >= 0.72 by full path, installed with cargo if missing.
fn install_bindgen(sh: &Shell) -> Result<PathBuf> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from("/root/.cargo"))
        .join("bin/bindgen");
    let on_path = cmd!(sh, "sh -c 'command -v bindgen'").quiet().ignore_stderr().read().ok().map(PathBuf::from);
    for candidate in on_path.into_iter().chain([cargo_bin.clone()]) {
        if recent_enough(sh, &candidate) {
            return Ok(candidate);
        }
    }
    eprintln!("    cargo install bindgen-cli {BINDGEN_VERSION} (about 2 minutes)");
    let _env = sh.push_env("LIBCLANG_PATH", LIBCLANG_PATH);
    cmd!(sh, "cargo install bindgen-cli --locked --version {BINDGEN_VERSION}")
        .run()
        .context("cannot install bindgen-cli")?;
    if !recent_enough(sh, &cargo_bin) {
        bail!("cargo installed bindgen-cli, but {} does not run", cargo_bin.display());
    }
    Ok(cargo_bin)
}

/// The kernel needs bindgen >= 0.71.1; the harness pins 0.72 or newer.
fn recent_enough(sh: &Shell, bindgen: &Path) -> bool {
    let Ok(v) = cmd!(sh, "{bindgen} --version").quiet().ignore_stderr().read() else { return false };
    let version = v.split_whitespace().nth(1).unwrap_or("");
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (0, 72)
}

/// rust-src for exactly the installed rustc: `RUST_LIB_SRC` if set, the
/// toolchain's own (`rustup component add rust-src`), else Debian's
/// `rust-src` of the same version, unpacked once into the cache.
fn rust_src(sh: &Shell, ws: &Workspace, apt: &PrivateApt, rustc_version: &str) -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("RUST_LIB_SRC") {
        return Ok(PathBuf::from(dir));
    }
    let sysroot = cmd!(sh, "rustc --print sysroot").quiet().read().context("cannot run rustc --print sysroot")?;
    let toolchains = Path::new(sysroot.trim()).join("lib/rustlib/src/rust/library");
    if toolchains.join("core/src/lib.rs").exists() {
        return Ok(toolchains);
    }
    // "rustc 1.95.0 (59807616e 2026-04-14)" -> "1.95.0"
    let version = rustc_version.split_whitespace().nth(1).unwrap_or_default().to_string();
    let dir = ws.cache.join(format!("rust-src-{version}"));
    let library = dir.join("usr/lib/rustlib/src/rust/library");
    let marker = dir.join(".xtun-unpacked");
    if marker.exists() {
        return Ok(library);
    }
    let available = apt.versions(sh, "rust-src")?;
    let Some(deb_version) = available.iter().find(|v| v.starts_with(&format!("{version}+"))) else {
        bail!(
            "Debian has no rust-src for {rustc_version}: available are {}. \
             Run `rustup component add rust-src`, or set RUST_LIB_SRC to its library sources",
            available.join(", ")
        );
    };
    apt.remove_partials()?;
    // Unpack directories of killed runs (we hold the deps lock).
    lock::remove_leftovers(&ws.cache, ".rust-src-unpack-")?;
    let deb = apt.download(sh, "rust-src", deb_version)?;
    let tmp = ws.cache.join(format!(".rust-src-unpack-{}", std::process::id()));
    sh.remove_path(&tmp)?;
    if let Err(e) = children::dies_with_parent(duct::cmd!("dpkg-deb", "-x", &deb, &tmp)).run() {
        apt.forget(&deb);
        sh.remove_path(&tmp)?;
        return Err(e).context("the downloaded rust-src was unusable and is deleted; run again to fetch it anew");
    }
    std::fs::write(tmp.join(".xtun-unpacked"), "")?;
    sh.remove_path(&dir)?;
    std::fs::rename(&tmp, &dir).with_context(|| format!("cannot move {} to {}", tmp.display(), dir.display()))?;
    Ok(library)
}
