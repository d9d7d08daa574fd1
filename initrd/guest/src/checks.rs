//! The runner the check programs share (xtun-check, xtun-review): each
//! check is a named function that says what went wrong.

/// One behaviour check: `Err` says what the driver got wrong.
pub type Check = fn() -> Result<(), String>;

/// Runs the check called `name` from `checks` and exits: 0 if it passed, 1
/// if it failed, 2 (listing the checks) if there is no such check; `list`
/// prints the checks.
pub fn run(program: &str, checks: &[(&str, Check, &str)], name: &str) -> ! {
    let list: String = checks
        .iter()
        .map(|(n, _, what)| format!("{n:16} {what}\n"))
        .collect();
    let Some((_, check, what)) = checks.iter().find(|(n, _, _)| *n == name) else {
        if name == "list" {
            print!("{list}");
            std::process::exit(0);
        }
        eprint!("{program}: no check {name:?}; the checks are:\n{list}");
        std::process::exit(2);
    };
    match check() {
        Ok(()) => {
            println!("{name}: ok: {what}");
            std::process::exit(0)
        }
        Err(why) => {
            println!("{name}: FAILED: {why}");
            std::process::exit(1);
        }
    }
}

/// `Ok` if `cond`, else the reason `why` gives.
pub fn ensure(cond: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(why())
    }
}
