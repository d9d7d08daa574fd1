//! Kernel profiles: the normal guest kernel, and the debug one with the
//! kernel's bug detectors. Each has its own kernel build, module and initrd.

/// A kernel flavour: its fragments, compiler and boot settings.
pub struct Profile {
    pub name: &'static str,
    /// Fragments under qemu/, merged in order on top of tinyconfig.
    pub fragments: &'static [&'static str],
    /// `LLVM=` for make (the debug profile needs clang for Rust + KASAN).
    pub llvm: Option<&'static str>,
    /// Extra Debian packages: (package, file that proves it).
    pub packages: &'static [(&'static str, &'static str)],
    /// Kernel command line words; the guest takes the first `key=` it
    /// finds, so words the user asks for go before these defaults.
    pub cmdline: &'static [&'static str],
    pub memory_mb: u32,
}

impl Profile {
    pub fn new(debug_kernel: bool) -> Profile {
        if debug_kernel {
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
