//! The `imagefs` command line: its definition, and one module per subcommand.

mod accounts;
mod complete;
mod man;
mod mount;
mod serve;
mod store;
mod wait;

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use imagefs::local::store::{default_store_path, Store};

/// The exit statuses of imagefs, as `--help` of `wait` and imagefs(1) show them.
pub const EXIT_STATUS: &str = "\
  0  success (wait: every path reached the state)
  1  failure: an error or a refusal (wait: a path reached a ...FAILED state first, or could not be read)
  2  usage: an unknown subcommand, option or value (wait: a state the path's kind never has)
  3  wait: the timeout passed first";

/// Exit status of a command that failed: a refusal, an error, a `...FAILED` state.
pub const EXIT_FAILED: u8 = 1;
/// Exit status of a usage error (clap's own, and a state `wait` can never see).
pub const EXIT_USAGE: u8 = 2;
/// Exit status of `imagefs wait` when its timeout passed first.
pub const EXIT_TIMEOUT: u8 = 3;

#[derive(Parser)]
#[command(
    name = "imagefs",
    version,
    about = "Cloud machine images (Tencent Cloud CVM) as files",
    long_about = "imagefs mounts an image service as a directory tree: regions, public, custom, \
                  shared and marketplace images, each a directory of files. By default it runs on \
                  an embedded local emulator whose state lives in one SQLite file."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command_,
}

#[derive(Subcommand)]
enum Command_ {
    /// Mount the image service at MOUNTPOINT (in the background unless --foreground).
    Mount(mount::MountArgs),
    /// Unmount an imagefs mount.
    Unmount(mount::UnmountArgs),
    /// List or add the accounts of a local store, and manage their API key pairs.
    Accounts {
        #[command(subcommand)]
        action: accounts::AccountsAction,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Wait until images or instances reach a state (reads their `state` files).
    #[command(after_help = wait::help())]
    Wait(wait::WaitArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell). The bash, zsh
    /// and fish scripts ask the store for its account IDs each time --account or ID is
    /// completed (IMAGEFS_STORE, or a --store on the line); the elvish and powershell ones
    /// offer the accounts of the store when the script is made.
    Completions {
        shell: clap_complete::Shell,
        #[command(flatten)]
        store: StoreArgs,
    },

    /// Print the manual page imagefs(1) (roff: `imagefs man | man -l -`), or install every
    /// page, one per subcommand too, with --dir.
    Man {
        /// Write the pages as DIR/man1/imagefs.1, DIR/man1/imagefs-mount.1, ... (then
        /// `man -M DIR imagefs-mount`).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Serve the local store over Tencent Cloud's CVM API (for SDKs, tccli, Terraform, and
    /// `mount --backend tencentcloud --endpoint`).
    Serve(serve::ServeArgs),
    /// Show or change the settings of a local store.
    Store {
        #[command(subcommand)]
        action: store::StoreAction,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Args, Clone)]
pub struct StoreArgs {
    /// The local store (an SQLite file) [default: $XDG_DATA_HOME/imagefs/store.db or
    /// ~/.local/share/imagefs/store.db]
    #[arg(long, env = "IMAGEFS_STORE", value_name = "FILE", global = true)]
    pub store: Option<PathBuf>,
    /// Seed the store from this catalog instead of the built-in one.
    #[arg(long, value_name = "FILE", global = true)]
    pub catalog: Option<PathBuf>,
}

/// A failure to report to the user, as one line.
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

/// Runs the command line and returns its exit code.
pub fn main() -> ExitCode {
    // Not a clap subcommand, so that completion scripts and manual pages never offer it.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == complete::COMMAND) {
        return complete::complete(&args[1..]);
    }
    let cli = Cli::parse();
    let log_file = match &cli.command {
        Command_::Mount(args) => args.log_file.clone(),
        Command_::Serve(args) => args.log_file.clone(),
        _ => None,
    };
    init_logging(log_file.as_deref());
    let result = match cli.command {
        Command_::Mount(args) => mount::mount(args),
        Command_::Unmount(args) => mount::unmount(args),
        Command_::Accounts { action, store } => accounts::accounts(action, &store),
        Command_::Store { action, store } => store::store_command(action, &store),
        Command_::Serve(args) => serve::serve(args),
        Command_::Wait(args) => return wait::wait(args),
        Command_::Completions { shell, store } => {
            complete::script(shell, &store).map(|script| print!("{script}"))
        }
        Command_::Man { dir } => man::man(dir.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("imagefs: {message}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn init_logging(file: Option<&Path>) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"));
    if let Some(path) = file {
        // Only its owner reads the log, as the store: it names accounts and what they did.
        // A log that exists keeps its mode.
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
        {
            Ok(f) => {
                builder.target(env_logger::Target::Pipe(Box::new(f)));
            }
            Err(e) => eprintln!("imagefs: cannot open log file {}: {e}", path.display()),
        }
    }
    builder.init();
}

/// The store's path, absolute. The default store's directory is created; a directory the user
/// named must exist (creating it could hide a typo).
pub fn store_path(args: &StoreArgs) -> Result<PathBuf, Failure> {
    if let Some(path) = &args.store {
        let path = std::path::absolute(path)?;
        let dir = path.parent().unwrap_or(Path::new("/"));
        if !dir.is_dir() {
            return Err(Failure(format!(
                "the store's directory {} does not exist: create it (`mkdir -p {}`), or name \
                 another store with --store FILE or IMAGEFS_STORE",
                dir.display(),
                dir.display()
            )));
        }
        return Ok(path);
    }
    let path = default_store_path().ok_or_else(|| {
        Failure("no store given and neither XDG_DATA_HOME nor HOME is set: use --store FILE".into())
    })?;
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Failure(format!("cannot create {}: {e}", dir.display())))?;
    }
    Ok(path)
}

pub fn open_store(args: &StoreArgs) -> Result<Store, Failure> {
    let path = store_path(args)?;
    let catalog = match &args.catalog {
        Some(file) => Some(
            std::fs::read_to_string(file)
                .map_err(|e| Failure(format!("cannot read catalog {}: {e}", file.display())))?,
        ),
        None => None,
    };
    Ok(Store::open(&path, catalog.as_deref())?)
}

/// A duration given in seconds on the command line.
pub fn seconds(value: f64) -> Result<Duration, Failure> {
    if value.is_finite() && (0.0..=86_400.0).contains(&value) {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(Failure(format!(
            "{value} is not a delay in seconds between 0 and 86400"
        )))
    }
}
