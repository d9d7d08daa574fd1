//! Command lines of the guest programs, read with lexopt: every program
//! takes `-h`/`--help`, and an unknown option, a stray argument or a bad
//! value is an error that names it, followed by the usage (exit status 2).

pub use lexopt::{prelude::*, Error, Parser};

/// Runs `parse` over the process arguments; on error prints it and `usage`
/// to stderr and exits 2.
pub fn parse<T>(usage: &str, parse: impl FnOnce(&mut Parser) -> Result<T, Error>) -> T {
    let mut parser = Parser::from_env();
    match parse(&mut parser) {
        Ok(parsed) => parsed,
        Err(e) => {
            let name = parser.bin_name().and_then(|n| n.rsplit('/').next()).unwrap_or("xtun");
            eprintln!("{name}: {e}\n\n{}", usage.trim_end());
            std::process::exit(2);
        }
    }
}

/// The answer to `--help`: the usage on stdout, exit 0.
pub fn help(usage: &str) -> ! {
    println!("{}", usage.trim_end());
    std::process::exit(0);
}
