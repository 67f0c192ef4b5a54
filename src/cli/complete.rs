//! `imagefs completions SHELL`, and the hidden `imagefs __complete accounts` the bash, zsh and
//! fish scripts run at TAB time, so the account IDs offered are the store's as it is then
//! (an account added after the script was made is offered too).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::PossibleValuesParser;
use clap::CommandFactory;
use clap_complete::Shell;

use imagefs::local::store::default_store_path;

use super::{open_store, Cli, Failure, StoreArgs};

/// Stands for the account IDs in the generated script until it is replaced by the shell's
/// way of asking `imagefs __complete accounts` (or, for the other shells, by the IDs now).
const ACCOUNTS: &str = "__IMAGEFS_ACCOUNTS__";

/// The hidden subcommand completion scripts run: `imagefs __complete accounts [-- WORDS...]`
/// prints the store's account IDs, one a line; a `--store FILE` among the words of the
/// command line being completed names the store (else IMAGEFS_STORE, else the default one).
pub const COMMAND: &str = "__complete";

/// `imagefs __complete ...`: prints the values, and nothing (successfully) when there are none
/// to offer or it is asked for something it does not know: a completion never shows an error.
pub fn complete(args: &[String]) -> ExitCode {
    if args.first().map(String::as_str) != Some("accounts") {
        return ExitCode::SUCCESS;
    }
    let words = args
        .iter()
        .position(|a| a == "--")
        .map_or(&[][..], |i| &args[i + 1..]);
    let store_args = StoreArgs {
        store: store_named_in(words)
            .or_else(|| std::env::var_os("IMAGEFS_STORE").map(PathBuf::from)),
        catalog: None,
    };
    for id in known_accounts(&store_args).unwrap_or_default() {
        println!("{id}");
    }
    ExitCode::SUCCESS
}

/// The store a command line names with `--store FILE` or `--store=FILE`, if it does.
fn store_named_in(words: &[String]) -> Option<PathBuf> {
    let mut named = None;
    let mut words = words.iter();
    while let Some(word) = words.next() {
        if word == "--store" {
            named = words.next().map(|path| expand_home(path));
        } else if let Some(path) = word.strip_prefix("--store=") {
            named = Some(expand_home(path));
        }
    }
    named
}

/// A word of the command line as a path, its leading `~/` expanded as the shell would (the
/// words being completed are not expanded yet).
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// The completion script for `shell`.
pub fn script(shell: Shell, store_args: &StoreArgs) -> Result<String, Failure> {
    let mut command = with_accounts(Cli::command(), ACCOUNTS);
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "imagefs", &mut out);
    let script = String::from_utf8(out)?;
    Ok(match shell {
        // Replaced inside double quotes: expanded each time the shell completes.
        Shell::Bash => script.replace(
            ACCOUNTS,
            "$(imagefs __complete accounts -- \"${COMP_WORDS[@]}\" 2>/dev/null)",
        ),
        // An `_arguments` action in braces is run each time.
        Shell::Zsh => script.replace(
            &format!("({ACCOUNTS})"),
            "{compadd -- $(imagefs __complete accounts -- ${words[@]} 2>/dev/null)}",
        ),
        // Fish runs the command substitution in `-a` each time.
        Shell::Fish => script.replace(
            &format!("{ACCOUNTS}\\t''"),
            "(imagefs __complete accounts -- (commandline -opc) 2>/dev/null)",
        ),
        // Shells without a way of running a command here get the IDs of now.
        _ => script.replace(
            ACCOUNTS,
            &known_accounts(store_args).unwrap_or_default().join(" "),
        ),
    })
}

/// The command line with `value` as the only value of `--account` and of the `accounts`
/// subcommands' ID, for completion scripts only: parsing never limits them this way
/// (`accounts add` takes new IDs).
fn with_accounts(command: clap::Command, value: &'static str) -> clap::Command {
    let values = || PossibleValuesParser::new([value]);
    command
        .mut_subcommand("mount", |mount| {
            mount.mut_arg("account", |arg| arg.value_parser(values()))
        })
        .mut_subcommand("accounts", |accounts| {
            let mut accounts = accounts;
            for action in ["keys", "token", "remove"] {
                if accounts.find_subcommand(action).is_some() {
                    accounts = accounts.mut_subcommand(action, |sub| {
                        sub.mut_arg("id", |arg| arg.value_parser(values()))
                    });
                }
            }
            accounts
        })
}

/// The account IDs of the store named on the command line (or the default one), if it exists.
/// A store that does not exist yet is not created.
fn known_accounts(store_args: &StoreArgs) -> Option<Vec<String>> {
    let path = match &store_args.store {
        Some(path) => path.clone(),
        None => default_store_path()?,
    };
    if !path.is_file() {
        return None;
    }
    let store = open_store(store_args).ok()?;
    let accounts = store.accounts().ok()?;
    Some(accounts.into_iter().map(|(id, _)| id.to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_is_the_last_one_named() {
        let words: Vec<String> = ["imagefs", "--store", "/a.db", "mount", "--store=/b.db", "x"]
            .map(String::from)
            .to_vec();
        assert_eq!(store_named_in(&words), Some(PathBuf::from("/b.db")));
        assert_eq!(store_named_in(&["imagefs".to_string()]), None);
    }

    /// Every placeholder is replaced, whatever the shell.
    #[test]
    fn no_placeholder_is_left_in_a_script() {
        let none = StoreArgs {
            store: Some(PathBuf::from("/nonexistent/imagefs-store.db")),
            catalog: None,
        };
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::Elvish,
            Shell::PowerShell,
        ] {
            let Ok(script) = script(shell, &none) else {
                panic!("no {shell} script");
            };
            assert!(!script.contains(ACCOUNTS), "{shell}");
        }
    }
}
