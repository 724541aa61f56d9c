//! The benchmark binaries' command line: `--help` prints usage and exits 0; an unknown flag,
//! a missing value or a value that does not parse is one line on stderr and exit code 2.

use std::{collections::HashMap, str::FromStr};

/// One `--flag VALUE` a binary takes.
pub struct Flag {
    /// E.g. `--runs`.
    pub name: &'static str,
    /// What the value is, e.g. `N`.
    pub value: &'static str,
    /// One line of help, with the default.
    pub help: &'static str,
}

/// The parsed flags.
pub struct Args {
    program: String,
    values: HashMap<&'static str, String>,
}

fn fail(program: &str, message: &str) -> ! {
    eprintln!("{program}: {message} (see --help)");
    std::process::exit(2)
}

/// Parses the process arguments against `flags`; `about` opens the usage text.
pub fn parse(about: &str, flags: &[Flag]) -> Args {
    let mut argv = std::env::args();
    let program = argv
        .next()
        .and_then(|p| p.rsplit('/').next().map(str::to_owned))
        .unwrap_or_else(|| "bench".into());
    let mut values = HashMap::new();
    while let Some(arg) = argv.next() {
        if arg == "--help" || arg == "-h" {
            println!("{about}\n\nUsage: {program} [OPTIONS]\n\nOptions:");
            for f in flags {
                println!("  {:<22} {}", format!("{} {}", f.name, f.value), f.help);
            }
            println!("  {:<22} print this help", "-h, --help");
            std::process::exit(0);
        }
        let Some(flag) = flags.iter().find(|f| f.name == arg) else {
            fail(&program, &format!("unknown argument {arg}"));
        };
        let Some(value) = argv.next() else {
            fail(
                &program,
                &format!("{} needs a value ({})", flag.name, flag.value),
            );
        };
        values.insert(flag.name, value);
    }
    Args { program, values }
}

impl Args {
    /// The value of `name` parsed as `T`, or `default` when it was not given.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> T {
        match self.values.get(name) {
            None => default,
            Some(text) => text.parse().unwrap_or_else(|_| {
                fail(
                    &self.program,
                    &format!("{name}: `{text}` is not a valid value"),
                )
            }),
        }
    }

    /// The value of `name` as a comma-separated list of `T`, or `default`.
    pub fn list<T: FromStr>(&self, name: &str, default: Vec<T>) -> Vec<T> {
        match self.values.get(name) {
            None => default,
            Some(text) => text
                .split(',')
                .map(|v| {
                    v.trim().parse().unwrap_or_else(|_| {
                        fail(
                            &self.program,
                            &format!("{name}: `{v}` is not a valid value"),
                        )
                    })
                })
                .collect(),
        }
    }
}
