//! Stage `kernel`: a guest kernel with Rust support, cached.
//!
//! `make tinyconfig` + `qemu/kernel.config` + olddefconfig, then RUST=y +
//! olddefconfig; then bzImage, modules_prepare and modules (the last gives
//! Module.symvers, without which modpost rejects out-of-tree modules).
//! The build lives in `~/.cache/xtun/build/<version>-<key>` where the key
//! hashes the fragment and the rustc version, so a warm run builds nothing.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::{deps, fragment, Workspace};

/// A kernel flavour: its fragments, compiler and boot settings.
pub struct Profile {
    pub name: &'static str,
    /// Fragments under qemu/, merged in order on top of tinyconfig.
    fragments: &'static [&'static str],
    /// `LLVM=` for make (the debug profile needs clang for Rust + KASAN).
    llvm: Option<&'static str>,
    /// Extra Debian packages: (package, file that proves it).
    pub packages: &'static [(&'static str, &'static str)],
    pub cmdline: &'static [&'static str],
    pub memory_mb: u32,
}

impl Profile {
    pub fn of(flags: &crate::flags::Flags) -> Profile {
        if flags.debug_kernel {
            Profile {
                name: "debug",
                fragments: &["kernel.config", "debug.config"],
                llvm: Some("/usr/lib/llvm-19/bin/"),
                packages: &[("clang-19", "/usr/bin/clang-19"), ("lld-19", "/usr/bin/ld.lld-19"), ("llvm-19", "/usr/bin/llvm-ar-19")],
                cmdline: &["panic_on_warn=1", "kmemleak=on", "xtuncycles=200", "xtunstress=60", "xtuntesttimeout=1500"],
                memory_mb: 2048,
            }
        } else {
            Profile { name: "normal", fragments: &["kernel.config"], llvm: None, packages: &[], cmdline: &[], memory_mb: 1024 }
        }
    }
}

pub struct Kernel {
    /// The profile's name: artifacts built against this kernel are kept apart.
    pub profile: &'static str,
    /// The kernel build directory (`O=`), what `make -C` takes for modules.
    pub build: PathBuf,
    pub bzimage: PathBuf,
    /// Environment every make in this tree needs (Rust toolchain paths).
    pub env: Vec<(String, String)>,
    /// Kernel command line words and guest memory this profile needs.
    pub cmdline: Vec<String>,
    pub memory_mb: u32,
}

impl Kernel {
    /// A `make` in the kernel build tree with the right environment.
    pub fn make<'a>(&self, sh: &'a Shell) -> xshell::Cmd<'a> {
        let build = &self.build;
        let mut c = cmd!(sh, "make -C {build}");
        for (k, v) in &self.env {
            c = c.env(k, v);
        }
        c
    }
}

pub fn run(sh: &Shell, ws: &Workspace, tools: &deps::Tools, profile: &Profile) -> Result<Kernel> {
    let mut env = vec![
        ("LIBCLANG_PATH".to_string(), deps::LIBCLANG_PATH.to_string()),
        ("RUST_LIB_SRC".to_string(), tools.rust_lib_src.display().to_string()),
    ];
    if let Some(llvm) = profile.llvm {
        env.push(("LLVM".to_string(), llvm.to_string()));
    }
    let cmdline: Vec<String> = profile.cmdline.iter().map(|w| w.to_string()).collect();
    if let Some(kdir) = kdir() {
        return users_tree(&kdir, env, cmdline, profile);
    }
    let (version, source) = unpack_source(sh, ws, tools)?;
    let mut fragment = String::new();
    for name in profile.fragments {
        fragment += &sh.read_file(ws.root.join("qemu").join(name))?;
    }
    let fragment_path = ws.target.join(format!("kernel-{}.config", profile.name));
    sh.write_file(&fragment_path, &fragment)?;
    // The normal profile's key predates profiles: keep it, so caches stay warm.
    let key = match profile.name {
        "normal" => fragment::stable_hash(&[fragment.as_bytes(), tools.rustc_version.as_bytes()]),
        name => fragment::stable_hash(&[fragment.as_bytes(), tools.rustc_version.as_bytes(), name.as_bytes()]),
    };
    let suffix = if profile.name == "normal" { String::new() } else { format!("-{}", profile.name) };
    let build = ws.cache.join(format!("build/linux-{version}-{key:016x}{suffix}"));
    let kernel = Kernel {
        profile: profile.name,
        bzimage: build.join("arch/x86/boot/bzImage"),
        build,
        env,
        cmdline,
        memory_mb: profile.memory_mb,
    };
    let done = kernel.build.join(".xtun-built");
    if done.exists() && kernel.bzimage.exists() {
        eprintln!("    cached: {}", kernel.build.display());
        return Ok(kernel);
    }
    need_space(sh, &ws.cache, 3)?;
    eprintln!("    building linux {version} in {} (about 12 minutes on 2 cores)", kernel.build.display());
    configure(sh, &source, &kernel, &fragment_path, &fragment)?;
    let log = kernel.build.join("xtun-build.log");
    eprintln!("    make output goes to {}", log.display());
    make_logged(&source, &kernel, &["bzImage", "modules_prepare", "modules"], &log)?;
    sh.write_file(&done, "")?;
    Ok(kernel)
}

/// Runs make with its output in `log`, printing a progress line every 30 s
/// and the log's tail if it fails.
fn make_logged(source: &Path, kernel: &Kernel, targets: &[&str], log: &Path) -> Result<()> {
    use std::io::{BufRead, BufReader, Write};
    let jobs = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let mut args = vec![
        "-C".to_string(),
        source.display().to_string(),
        format!("O={}", kernel.build.display()),
        format!("-j{jobs}"),
    ];
    args.extend(targets.iter().map(|t| t.to_string()));
    let mut expr = duct::cmd("make", &args).stderr_to_stdout().unchecked();
    for (k, v) in &kernel.env {
        expr = expr.env(k, v);
    }
    let reader = expr.reader().context("cannot start make")?;
    let mut file = std::fs::File::create(log)?;
    let (start, mut last, mut compiled) = (std::time::Instant::now(), std::time::Instant::now(), 0usize);
    let mut tail = std::collections::VecDeque::new();
    for line in BufReader::new(&reader).lines() {
        let line = line?;
        writeln!(file, "{line}")?;
        if line.starts_with("  CC") || line.starts_with("  RUSTC") {
            compiled += 1;
        }
        tail.push_back(line);
        if tail.len() > 40 {
            tail.pop_front();
        }
        if last.elapsed().as_secs() >= 30 {
            last = std::time::Instant::now();
            eprintln!("    kernel: {compiled} objects compiled, {}s", start.elapsed().as_secs());
        }
    }
    let output = reader.try_wait()?.context("make did not finish")?;
    if !output.status.success() {
        for line in &tail {
            eprintln!("{line}");
        }
        bail!("kernel build failed (full log: {}); the lines above say why", log.display());
    }
    Ok(())
}

/// Fails early, and says so, when `dir` has less than `gib` GiB free.
fn need_space(sh: &Shell, dir: &Path, gib: u64) -> Result<()> {
    let out = cmd!(sh, "df -Pk {dir}").quiet().read()?;
    let free_kib: u64 = out
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .context("cannot read free space from df")?;
    if free_kib < gib * 1024 * 1024 {
        bail!(
            "{} has {} MiB free; the kernel needs {gib} GiB: free some space or set XTUN_CACHE to a bigger disk",
            dir.display(),
            free_kib / 1024
        );
    }
    Ok(())
}

fn kdir() -> Option<PathBuf> {
    std::env::var_os("KDIR").map(PathBuf::from)
}

/// A user's own tree: must already be built with Rust support.
fn users_tree(kdir: &Path, env: Vec<(String, String)>, cmdline: Vec<String>, profile: &Profile) -> Result<Kernel> {
    let need = |file: &str, why: &str| -> Result<()> {
        if !kdir.join(file).exists() {
            bail!("KDIR={} has no {file}: {why}", kdir.display());
        }
        Ok(())
    };
    need(".config", "configure and build it first (see README)")?;
    need("Module.symvers", "run `make modules` there once")?;
    need("arch/x86/boot/bzImage", "run `make bzImage` there")?;
    need("usr/gen_init_cpio", "enable CONFIG_BLK_DEV_INITRD")?;
    let config = std::fs::read_to_string(kdir.join(".config"))?;
    if !config.lines().any(|l| l == "CONFIG_RUST=y") {
        bail!("KDIR={} is not built with CONFIG_RUST=y", kdir.display());
    }
    Ok(Kernel {
        profile: "kdir",
        build: kdir.to_path_buf(),
        bzimage: kdir.join("arch/x86/boot/bzImage"),
        env,
        cmdline,
        memory_mb: profile.memory_mb,
    })
}

/// Fetches (once) and unpacks (once) the Debian kernel source.
fn unpack_source(sh: &Shell, ws: &Workspace, tools: &deps::Tools) -> Result<(String, PathBuf)> {
    let pinned = deps::KERNEL_VERSION;
    let upstream = |deb_version: &str| deb_version.split('-').next().unwrap_or(deb_version).to_string();
    let source = ws.cache.join(format!("src/linux-{}", upstream(pinned)));
    if source.join(".xtun-unpacked").exists() {
        return Ok((upstream(pinned), source));
    }
    let package = deps::KERNEL_PACKAGE;
    let available = tools.apt.versions(sh, package)?;
    let deb_version = if available.iter().any(|v| v == pinned) {
        pinned.to_string()
    } else {
        let newest = available.first().with_context(|| format!("trixie-backports has no {package}"))?;
        eprintln!("    {package} {pinned} is gone from the archive; using {newest}");
        newest.clone()
    };
    let source = ws.cache.join(format!("src/linux-{}", upstream(&deb_version)));
    if source.join(".xtun-unpacked").exists() {
        return Ok((upstream(&deb_version), source));
    }
    need_space(sh, &ws.cache, 4)?;
    let deb = tools.apt.download(sh, package, &deb_version)?;
    let tmp = ws.cache.join("src/.unpack");
    sh.remove_path(&tmp)?;
    sh.create_dir(ws.cache.join("src"))?;
    sh.remove_path(&source)?;
    eprintln!("    unpacking {package} {deb_version}");
    cmd!(sh, "dpkg-deb -x {deb} {tmp}").run()?;
    let tarball = tmp.join(format!("usr/src/{package}.tar.xz"));
    let src_dir = ws.cache.join("src");
    cmd!(sh, "tar -xJf {tarball} -C {src_dir}").run().context("cannot unpack the kernel source")?;
    sh.remove_path(&tmp)?;
    let unpacked = src_dir.join(package);
    std::fs::rename(&unpacked, &source)
        .with_context(|| format!("cannot move {} to {}", unpacked.display(), source.display()))?;
    sh.write_file(source.join(".xtun-unpacked"), "")?;
    Ok((upstream(&deb_version), source))
}

fn configure(sh: &Shell, source: &Path, kernel: &Kernel, fragment_path: &Path, fragment: &str) -> Result<()> {
    let build = &kernel.build;
    sh.create_dir(build)?;
    let make = |target: &str| {
        let mut c = cmd!(sh, "make -s -C {source} O={build} {target}");
        for (k, v) in &kernel.env {
            c = c.env(k, v);
        }
        c.quiet().run().with_context(|| format!("`make {target}` failed"))
    };
    make("tinyconfig")?;
    let config = build.join(".config");
    cmd!(sh, "{source}/scripts/kconfig/merge_config.sh -m -O {build} {config} {fragment_path}")
        .quiet()
        .ignore_stdout()
        .run()?;
    make("olddefconfig")?;
    let available = {
        let mut c = cmd!(sh, "make -s -C {source} O={build} rustavailable");
        for (k, v) in &kernel.env {
            c = c.env(k, v);
        }
        c.ignore_status().read()?
    };
    if !available.contains("Rust is available!") {
        bail!("the kernel says Rust is not available:\n{available}\nrun `cargo xtask deps` and check rustc/bindgen/rust-src");
    }
    cmd!(sh, "{source}/scripts/config --file {config} --enable RUST").run()?;
    make("olddefconfig")?;
    let merged = sh.read_file(&config)?;
    let dropped = fragment::missing(&merged, fragment);
    if !dropped.is_empty() {
        let names: Vec<_> = dropped.iter().map(|s| format!("{}={}", s.name, s.value)).collect();
        bail!("Kconfig dropped options of qemu/kernel.config (unmet dependencies?): {}", names.join(" "));
    }
    if !merged.lines().any(|l| l == "CONFIG_RUST=y") {
        bail!("CONFIG_RUST=y did not stick; see `make menuconfig` in {} for its dependencies", build.display());
    }
    Ok(())
}
