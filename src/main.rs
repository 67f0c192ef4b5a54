//! The `imagefs` command: mount, unmount, wait, and manage a local store and its accounts.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
