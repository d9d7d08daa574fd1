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

use crate::{children, deps, fragment, lock::Lock, profile::Profile, source, workspace::Workspace};

pub struct Kernel {
    /// The profile's name: artifacts built against this kernel are kept apart.
    pub profile: &'static str,
    /// The kernel build directory (`O=`), what `make -C` takes for modules.
    pub build: PathBuf,
    pub bzimage: PathBuf,
    /// Environment every make in this tree needs (Rust toolchain paths).
    pub env: Vec<(String, String)>,
    /// Variables on every make's command line (`BINDGEN=`: the Makefile's
    /// own assignment wins over the environment).
    pub vars: Vec<String>,
    /// Kernel command line words and guest memory this profile needs.
    pub cmdline: Vec<String>,
    pub memory_mb: u32,
}

impl Kernel {
    /// A `make` in the kernel build tree with the right environment.
    pub fn make<'a>(&self, sh: &'a Shell) -> xshell::Cmd<'a> {
        let (build, vars) = (&self.build, &self.vars);
        cmd!(sh, "make -C {build} {vars...}").envs(self.env.iter().cloned())
    }

    /// The source tree: `source` in an `O=` build directory (as the cached
    /// one), else the build directory itself (a user's in-tree build).
    pub fn source(&self) -> PathBuf {
        source_of(&self.build)
    }
}

/// The source tree of the build directory `build`: its `source` link (an
/// `O=` build), else `build` itself (an in-tree build).
pub fn source_of(build: &Path) -> PathBuf {
    let linked = build.join("source");
    if linked.exists() {
        linked
    } else {
        build.to_path_buf()
    }
}

/// The guest kernel: the user's tree (`kdir`), or one built from Debian's
/// source into the cache.
pub fn run(sh: &Shell, ws: &Workspace, tools: &deps::Tools, profile: &Profile, kdir: Option<&Path>) -> Result<Kernel> {
    let mut env = vec![("LIBCLANG_PATH".to_string(), deps::LIBCLANG_PATH.to_string())];
    if let Some(llvm) = profile.llvm {
        env.push(("LLVM".to_string(), llvm.to_string()));
    }
    let cmdline: Vec<String> = profile.cmdline.iter().map(|w| w.to_string()).collect();
    match (kdir, &tools.kernel) {
        (Some(kdir), _) => users_tree(kdir, env, cmdline, profile),
        (None, Some(kt)) => cached_tree(sh, ws, tools, kt, profile, env, cmdline),
        (None, None) => bail!("no kernel tree (KDIR) and no tools to build one"),
    }
}

fn cached_tree(
    sh: &Shell,
    ws: &Workspace,
    tools: &deps::Tools,
    kt: &deps::KernelTools,
    profile: &Profile,
    mut env: Vec<(String, String)>,
    cmdline: Vec<String>,
) -> Result<Kernel> {
    env.push(("RUST_LIB_SRC".to_string(), kt.rust_lib_src.display().to_string()));
    let (version, source) = source::unpacked(sh, &ws.cache, &kt.apt)?;
    let mut fragment = String::new();
    for name in profile.fragments {
        fragment += &sh.read_file(ws.root.join("qemu").join(name))?;
    }
    // The normal profile's key predates profiles: keep it, so caches stay warm.
    let key = match profile.name {
        "normal" => fragment::stable_hash(&[fragment.as_bytes(), tools.rustc_version.as_bytes()]),
        name => fragment::stable_hash(&[fragment.as_bytes(), tools.rustc_version.as_bytes(), name.as_bytes()]),
    };
    let suffix = if profile.name == "normal" { String::new() } else { format!("-{}", profile.name) };
    let name = format!("linux-{version}-{key:016x}{suffix}");
    let build = ws.cache.join("build").join(&name);
    let kernel = Kernel {
        profile: profile.name,
        bzimage: build.join("arch/x86/boot/bzImage"),
        build,
        env,
        vars: vec![format!("BINDGEN={}", kt.bindgen.display())],
        cmdline,
        memory_mb: profile.memory_mb,
    };
    let done = kernel.build.join(".xtun-built");
    if done.exists() && kernel.bzimage.exists() {
        eprintln!("    cached: {}", kernel.build.display());
        return Ok(kernel);
    }
    // One builder per tree: a second run waits, then finds it built.
    let lock = Lock::exclusive(&ws.cache.join(format!("locks/{name}.lock")), "kernel build lock")?;
    lock.shared_with_children()?;
    if done.exists() && kernel.bzimage.exists() {
        eprintln!("    cached (built by another run): {}", kernel.build.display());
        return Ok(kernel);
    }
    need_space(&ws.cache, 3)?;
    eprintln!("    building linux {version} in {} (about 13 minutes on 2 cores; 21 for the debug profile)", kernel.build.display());
    let fragment_path = kernel.build.join("xtun-fragment.config");
    sh.create_dir(&kernel.build)?;
    sh.write_file(&fragment_path, &fragment)?;
    configure(sh, &source, &kernel, &fragment_path, &fragment)?;
    let log = kernel.build.join("xtun-build.log");
    eprintln!("    make output goes to {}", log.display());
    // make resumes a tree an interrupted run left: its targets are rebuilt
    // or kept by timestamp, and .xtun-built is written only at the end.
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
    args.extend(kernel.vars.iter().cloned());
    args.extend(targets.iter().map(|t| t.to_string()));
    let mut expr = children::dies_with_parent(duct::cmd("make", &args).stderr_to_stdout().unchecked());
    for (k, v) in &kernel.env {
        expr = expr.env(k, v);
    }
    let reader = expr.reader().context("cannot start make")?;
    let mut file = std::fs::File::create(log)?;
    let (start, mut last, mut compiled) = (std::time::Instant::now(), std::time::Instant::now(), 0usize);
    let mut tail = std::collections::VecDeque::new();
    // Bytes, decoded lossily: a line that is not UTF-8 must not end reading.
    let mut input = BufReader::new(&reader);
    let mut bytes = Vec::new();
    while input.read_until(b'\n', &mut bytes)? > 0 {
        file.write_all(&bytes)?;
        let line = String::from_utf8_lossy(&bytes).trim_end().to_string();
        bytes.clear();
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
pub fn need_space(dir: &Path, gib: u64) -> Result<()> {
    let stat = nix::sys::statvfs::statvfs(dir).with_context(|| format!("cannot read free space of {}", dir.display()))?;
    let free = stat.blocks_available() as u64 * stat.fragment_size() as u64;
    if free < gib << 30 {
        bail!(
            "{} has {} MiB free; the kernel needs {gib} GiB: free some space or set XTUN_CACHE to a bigger disk",
            dir.display(),
            free >> 20
        );
    }
    Ok(())
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
    eprintln!("    using your kernel tree {} (KDIR / --kdir): nothing is built or fetched", kdir.display());
    Ok(Kernel {
        profile: "kdir",
        build: kdir.to_path_buf(),
        bzimage: kdir.join("arch/x86/boot/bzImage"),
        env,
        vars: Vec::new(),
        cmdline,
        memory_mb: profile.memory_mb,
    })
}

fn configure(sh: &Shell, source: &Path, kernel: &Kernel, fragment_path: &Path, fragment: &str) -> Result<()> {
    let (build, vars) = (&kernel.build, &kernel.vars);
    // The build directory has no Makefile yet: make from the source tree.
    let make = |target: &str| cmd!(sh, "make -s -C {source} O={build} {vars...} {target}").envs(kernel.env.iter().cloned());
    let run_make = |target: &str| make(target).quiet().run().with_context(|| format!("`make {target}` failed"));
    run_make("tinyconfig")?;
    let config = build.join(".config");
    cmd!(sh, "{source}/scripts/kconfig/merge_config.sh -m -O {build} {config} {fragment_path}")
        .quiet()
        .ignore_stdout()
        .run()?;
    run_make("olddefconfig")?;
    let available = make("rustavailable").ignore_status().read()?;
    if !available.contains("Rust is available!") {
        bail!("the kernel says Rust is not available:\n{available}\nrun `cargo xtask deps` and check rustc/bindgen/rust-src");
    }
    cmd!(sh, "{source}/scripts/config --file {config} --enable RUST").run()?;
    run_make("olddefconfig")?;
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
