//! The `imagefs` command: mount, unmount, and manage a local store's accounts.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use imagefs::fs::{ImageFs, MountSettings};
use imagefs::local::settings::{SETTINGS, TRANSITION_DELAY};
use imagefs::local::store::{default_store_path, Store};
use imagefs::local::LocalService;
use imagefs::model::AccountId;
use imagefs::mounts;
use imagefs::service::ImageService;
use imagefs::tencent::{Client, Credentials, TencentService};

/// How long `imagefs mount` waits for its daemon to report the mount ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Parser)]
#[command(
    name = "imagefs",
    version,
    about = "Cloud machine images (Tencent Cloud CVM) as files",
    long_about = "imagefs mounts an image service as a directory tree: regions, public, custom, \
                  shared and marketplace images, each a directory of files. By default it runs on \
                  an embedded local emulator whose state lives in one SQLite file."
)]
struct Cli {
    #[command(subcommand)]
    command: Command_,
}

#[derive(Subcommand)]
enum Command_ {
    /// Mount the image service at MOUNTPOINT (in the background unless --foreground).
    Mount(MountArgs),
    /// Unmount an imagefs mount.
    Unmount(UnmountArgs),
    /// List or add the accounts of a local store, and manage their API key pairs.
    Accounts {
        #[command(subcommand)]
        action: AccountsAction,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Wait until an image or instance reaches a state (reads its `state` file).
    Wait(WaitArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff), e.g. `imagefs man | man -l -`.
    Man,
    /// Serve the local store over Tencent Cloud's CVM API (for SDKs, tccli, Terraform, and
    /// `mount --backend tencentcloud --endpoint`).
    Serve(ServeArgs),
    /// Show or change the settings of a local store.
    Store {
        #[command(subcommand)]
        action: StoreAction,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum StoreAction {
    /// Where the store is, its schema, accounts, images and instances, pending faults.
    Info,
    /// Print the store's settings.
    Settings,
    /// Make the next COUNT operations of a kind fail, so scripts can test their error paths:
    /// create-fails (CreateImage ends CREATEFAILED), import-fails (IMPORTFAILED), copy-fails
    /// (a copy ends CREATEFAILED), throttle (commands are refused with RequestLimitExceeded).
    Inject {
        kind: String,
        #[arg(default_value_t = 1)]
        count: u64,
    },
    /// Delete the store and create it afresh (seeded from the catalog). Needs --yes.
    Reset {
        #[arg(long)]
        yes: bool,
    },
    /// Change a setting: custom-image-quota (per account and region), share-limit (accounts
    /// per image), transition-delay (seconds asynchronous work takes).
    Set { key: String, value: String },
}

#[derive(Args, Clone)]
struct StoreArgs {
    /// The local store (an SQLite file) [default: $XDG_DATA_HOME/imagefs/store.db or
    /// ~/.local/share/imagefs/store.db]
    #[arg(long, env = "IMAGEFS_STORE", value_name = "FILE", global = true)]
    store: Option<PathBuf>,
    /// Seed the store from this catalog instead of the built-in one.
    #[arg(long, value_name = "FILE", global = true)]
    catalog: Option<PathBuf>,
}

/// Which image service a mount shows.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Backend {
    /// The embedded emulator, its state in a local store.
    Local,
    /// Tencent Cloud's CVM API, with TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY or a
    /// tccli profile.
    Tencentcloud,
}

#[derive(Args, Clone)]
struct MountArgs {
    /// Where to mount (created if missing; its parent must exist; must be empty).
    mountpoint: PathBuf,
    /// The image service to show.
    #[arg(long, value_enum, default_value = "local")]
    backend: Backend,
    /// tencentcloud: send every request to this URL instead of
    /// https://cvm.<region>.tencentcloudapi.com (a private endpoint, or a local server).
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// tencentcloud: read credentials from ~/.tccli/<NAME>.credential.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
    /// Act as this account (a numeric account ID) [default: the store's default account].
    #[arg(long, value_name = "ID")]
    account: Option<String>,
    /// Stay in the foreground, logging to stderr, until unmounted or interrupted.
    #[arg(short, long)]
    foreground: bool,
    /// Let other users enter the mount; file modes are enforced for them.
    #[arg(long)]
    allow_other: bool,
    /// Seconds asynchronous work (launch, create_image, import, reset) takes on this mount;
    /// 0 completes it before the write returns [default: the store's setting, 2]
    #[arg(long, value_name = "SECONDS")]
    transition_delay: Option<f64>,
    /// Write the daemon's log here (RUST_LOG sets the level; default warn).
    #[arg(long, value_name = "FILE")]
    log_file: Option<PathBuf>,
    /// Internal: run as the background daemon of `imagefs mount`.
    #[arg(long, hide = true)]
    daemon_child: bool,
}

#[derive(Args)]
struct UnmountArgs {
    /// The mountpoint of an imagefs mount.
    mountpoint: PathBuf,
    /// Detach the mount even if files in it are open; it goes away when they close.
    #[arg(long)]
    lazy: bool,
    /// Abort the mount's connection and detach it: for a stale mount whose daemon died
    /// ("Transport endpoint is not connected") or one that hangs.
    #[arg(long)]
    force: bool,
}

#[derive(Subcommand)]
enum AccountsAction {
    /// List the store's accounts (the default one is marked).
    List,
    /// Add an account (a numeric account ID) to the store and print an API key pair for it
    /// (SecretId=... and SecretKey=... lines; the key is shown only now).
    Add { id: String },
    /// Make a new API key pair for an existing account and print it.
    Keys { id: String },
    /// Make temporary credentials for an existing account, as CI systems get them from the
    /// cloud's STS, and print them (TmpSecretId=, TmpSecretKey=, Token= and ExpiredTime=
    /// lines). Requests signed with them carry the token (X-TC-Token, or the Token parameter).
    Token {
        id: String,
        /// How long they last, in seconds (at most 43200).
        #[arg(long, value_name = "SECONDS", default_value_t = 1800)]
        ttl: u64,
    },
    /// End a key pair, permanent or temporary, at once.
    Revoke {
        #[arg(value_name = "SECRETID")]
        secret_id: String,
    },
}

#[derive(Args)]
struct WaitArgs {
    /// An image or instance directory (or its `state` file) in a mount.
    path: PathBuf,
    /// The state to wait for, e.g. NORMAL or RUNNING.
    #[arg(long)]
    state: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600.0, value_name = "SECONDS")]
    timeout: f64,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the address is printed).
    #[arg(long, default_value = "127.0.0.1:9000", value_name = "ADDR:PORT")]
    listen: String,
    #[command(flatten)]
    store: StoreArgs,
    /// Seconds asynchronous work takes [default: the store's setting, 2]
    #[arg(long, value_name = "SECONDS")]
    transition_delay: Option<f64>,
    /// ImportImage may read local disk files under this directory only (without it, imports
    /// are refused).
    #[arg(long, value_name = "DIR")]
    import_dir: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate (chain), for clients that speak only HTTPS
    /// (tccli); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Write the log here (RUST_LOG sets the level; default warn).
    #[arg(long, value_name = "FILE")]
    log_file: Option<PathBuf>,
}

/// A failure to report to the user, as one line.
struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_file = match &cli.command {
        Command_::Mount(args) => args.log_file.clone(),
        Command_::Serve(args) => args.log_file.clone(),
        _ => None,
    };
    init_logging(log_file.as_deref());
    let result = match cli.command {
        Command_::Mount(args) => mount(args),
        Command_::Unmount(args) => unmount(args),
        Command_::Accounts { action, store } => accounts(action, &store),
        Command_::Store { action, store } => store_command(action, &store),
        Command_::Serve(args) => serve(args),
        Command_::Wait(args) => wait(args),
        Command_::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "imagefs", &mut std::io::stdout());
            Ok(())
        }
        Command_::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command)
                .render(&mut std::io::stdout())
                .map_err(|e| Failure(format!("cannot write the manual: {e}")))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("imagefs: {message}");
            ExitCode::FAILURE
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

fn store_path(args: &StoreArgs) -> Result<PathBuf, Failure> {
    if let Some(path) = &args.store {
        return Ok(std::path::absolute(path)?);
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

fn open_store(args: &StoreArgs) -> Result<Store, Failure> {
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

/// Checks the mountpoint (creating it if missing) and returns its absolute path.
fn prepare_mountpoint(path: &Path) -> Result<PathBuf, Failure> {
    let path = std::path::absolute(path)?;
    if let Some(existing) = mounts::mount_at(&path)? {
        if mounts::is_imagefs(&existing) {
            if mounts::is_stale(&path) {
                return Err(Failure(format!(
                    "{} is a stale imagefs mount (its daemon has exited): clear it with `imagefs unmount --force {}`",
                    path.display(),
                    path.display()
                )));
            }
            return Err(Failure(format!(
                "{} is already mounted (imagefs); unmount it first with `imagefs unmount {}`",
                path.display(),
                path.display()
            )));
        }
        return Err(Failure(format!(
            "{} is already a mount point ({}); choose an empty directory",
            path.display(),
            existing.fs_type
        )));
    }
    match std::fs::metadata(&path) {
        Ok(meta) if !meta.is_dir() => {
            return Err(Failure(format!("{} is not a directory", path.display())));
        }
        Ok(_) => {
            if std::fs::read_dir(&path)?.next().is_some() {
                return Err(Failure(format!(
                    "{} is not empty; mount on an empty directory",
                    path.display()
                )));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = path.parent().unwrap_or(Path::new("/"));
            if !parent.is_dir() {
                return Err(Failure(format!(
                    "cannot create {}: its parent {} does not exist",
                    path.display(),
                    parent.display()
                )));
            }
            std::fs::create_dir(&path)
                .map_err(|e| Failure(format!("cannot create {}: {e}", path.display())))?;
        }
        Err(e) => return Err(Failure(format!("{}: {e}", path.display()))),
    }
    if !Path::new("/dev/fuse").exists() {
        return Err(Failure(
            "/dev/fuse is missing: load the FUSE kernel module (modprobe fuse) or install fuse3"
                .into(),
        ));
    }
    Ok(path)
}

fn mount(args: MountArgs) -> Result<(), Failure> {
    if args.daemon_child {
        return run_mount(&args, &args.mountpoint, true);
    }
    let mountpoint = prepare_mountpoint(&args.mountpoint)?;
    if args.foreground {
        return run_mount(&args, &mountpoint, false);
    }
    spawn_daemon(&args, &mountpoint)
}

/// Mounts in this process and serves until unmounted. As the daemon of `imagefs mount`, it
/// reports readiness on stdout and then lets go of the terminal.
fn run_mount(args: &MountArgs, mountpoint: &Path, daemon: bool) -> Result<(), Failure> {
    let account = args.account.as_deref().map(AccountId::parse).transpose()?;
    let (service, summary): (Arc<dyn ImageService>, String) = match args.backend {
        Backend::Local => {
            let store = Arc::new(open_store(&args.store)?);
            let delay = args.transition_delay.map(seconds).transpose()?;
            let service = LocalService::open(store.clone(), account)?.with_transition_delay(delay);
            let summary = format!(
                "mounted {} as account {}{} (local store {})",
                mountpoint.display(),
                service.account_id(),
                if service.account_was_created() {
                    ", new to the store and created"
                } else {
                    ""
                },
                store.path().display()
            );
            (Arc::new(service), summary)
        }
        Backend::Tencentcloud => {
            let credentials = Credentials::discover(args.profile.as_deref())?;
            let client = Client::new(credentials, args.endpoint.clone());
            let service = TencentService::connect(client, account)
                .map_err(|e| Failure(format!("cannot use Tencent Cloud: {e}")))?;
            let summary = format!(
                "mounted {} as Tencent Cloud account {}{}",
                mountpoint.display(),
                service.account()?.account_id,
                args.endpoint
                    .as_deref()
                    .map(|e| format!(" (endpoint {e})"))
                    .unwrap_or_default()
            );
            (Arc::new(service), summary)
        }
    };
    let fs = ImageFs::new(service)?;
    let settings = MountSettings {
        allow_other: args.allow_other,
    };
    let log_to_file = args.log_file.is_some();
    imagefs::fs::serve(fs, mountpoint, &settings, || {
        log::info!("{summary}");
        if daemon {
            println!("ready {summary}");
            let _ = std::io::stdout().flush();
            detach_from_terminal(log_to_file);
        }
    })
    .map_err(|e| Failure(format!("cannot mount {}: {e}", mountpoint.display())))
}

/// Points stdin, stdout and (unless logging to a file) stderr at /dev/null, and leaves the
/// working directory, so the daemon holds nothing of the shell that started it.
fn detach_from_terminal(keep_stderr: bool) {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        use std::os::fd::AsRawFd;
        let fd = null.as_raw_fd();
        let targets: &[i32] = if keep_stderr { &[0, 1] } else { &[0, 1, 2] };
        for &target in targets {
            // SAFETY: dup2 on two valid descriptors; failure leaves the old one in place.
            unsafe {
                libc::dup2(fd, target);
            }
        }
    }
    let _ = std::env::set_current_dir("/");
}

/// Starts `imagefs mount --daemon-child` in its own process group and waits until it reports
/// the mount ready (or fails, having printed why on the shared stderr).
fn spawn_daemon(args: &MountArgs, mountpoint: &Path) -> Result<(), Failure> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("mount").arg(mountpoint).arg("--daemon-child");
    if let Some(store) = &args.store.store {
        cmd.arg("--store").arg(std::path::absolute(store)?);
    }
    if let Some(catalog) = &args.store.catalog {
        cmd.arg("--catalog").arg(std::path::absolute(catalog)?);
    }
    if let Some(account) = &args.account {
        cmd.arg("--account").arg(account);
    }
    if args.allow_other {
        cmd.arg("--allow-other");
    }
    if let Some(log) = &args.log_file {
        cmd.arg("--log-file").arg(std::path::absolute(log)?);
    }
    if let Some(delay) = args.transition_delay {
        cmd.arg("--transition-delay").arg(delay.to_string());
    }
    if args.backend == Backend::Tencentcloud {
        cmd.arg("--backend").arg("tencentcloud");
    }
    if let Some(endpoint) = &args.endpoint {
        cmd.arg("--endpoint").arg(endpoint);
    }
    if let Some(profile) = &args.profile {
        cmd.arg("--profile").arg(profile);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0);
    let mut child = cmd.spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| Failure("cannot read the daemon's output".into()))?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    match rx.recv_timeout(READY_TIMEOUT) {
        Ok(line) if line.starts_with("ready") => {
            eprintln!("imagefs: {}", line.trim_start_matches("ready").trim());
            Ok(())
        }
        Ok(_) => {
            let status = child.wait()?;
            Err(Failure(format!(
                "mount of {} failed (daemon exited: {status})",
                mountpoint.display()
            )))
        }
        Err(_) => {
            let _ = child.kill();
            Err(Failure(format!(
                "mount of {} did not become ready within {} s",
                mountpoint.display(),
                READY_TIMEOUT.as_secs()
            )))
        }
    }
}

fn unmount(args: UnmountArgs) -> Result<(), Failure> {
    let path = std::path::absolute(&args.mountpoint)?;
    let entry = mounts::mount_at(&path)?
        .ok_or_else(|| Failure(format!("{} is not mounted", path.display())))?;
    if !mounts::is_imagefs(&entry) {
        return Err(Failure(format!(
            "{} is not an imagefs mount (it is {})",
            path.display(),
            entry.fs_type
        )));
    }
    let stale = mounts::is_stale(&path);
    if args.force || stale {
        mounts::force_unmount(&path)
            .map_err(|e| Failure(format!("cannot unmount {}: {e}", path.display())))?;
        if stale {
            eprintln!(
                "imagefs: cleared the stale mount at {} (its daemon had exited)",
                path.display()
            );
        }
        return Ok(());
    }
    mounts::unmount(&path, args.lazy).map_err(|e| {
        if e.raw_os_error() == Some(libc::EBUSY) {
            Failure(format!(
                "{} is busy: a process has a file or its working directory in it; close it, or detach it now with `imagefs unmount --lazy {}`",
                path.display(),
                path.display()
            ))
        } else {
            Failure(format!("cannot unmount {}: {e}", path.display()))
        }
    })
}

fn accounts(action: AccountsAction, store_args: &StoreArgs) -> Result<(), Failure> {
    let store = open_store(store_args)?;
    match action {
        AccountsAction::List => {
            let default = store.default_account()?;
            for (id, created) in store.accounts()? {
                let mark = if id == default { "  (default)" } else { "" };
                println!("{id}  {created}{mark}");
            }
        }
        AccountsAction::Add { id } => {
            let id = AccountId::parse(&id)?;
            if store.add_account(&id)? {
                eprintln!("imagefs: added account {id}");
                print_key(&store, &id)?;
            } else {
                eprintln!("imagefs: account {id} already exists (imagefs accounts keys {id} makes a new key pair)");
            }
        }
        AccountsAction::Keys { id } => {
            print_key(&store, &AccountId::parse(&id)?)?;
        }
        AccountsAction::Token { id, ttl } => {
            let account = AccountId::parse(&id)?;
            let credentials = store.create_temporary_key(&account, Duration::from_secs(ttl))?;
            println!("TmpSecretId={}", credentials.secret_id);
            println!("TmpSecretKey={}", credentials.secret_key);
            println!("Token={}", credentials.token);
            println!("ExpiredTime={}", credentials.expires);
        }
        AccountsAction::Revoke { secret_id } => {
            if !store.revoke_key(&secret_id)? {
                return Err(Failure(format!(
                    "no key pair has the SecretId {secret_id} in this store"
                )));
            }
            eprintln!("imagefs: revoked {secret_id}");
        }
    }
    Ok(())
}

/// A duration given in seconds on the command line.
fn seconds(value: f64) -> Result<Duration, Failure> {
    if value.is_finite() && (0.0..=86_400.0).contains(&value) {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(Failure(format!(
            "{value} is not a delay in seconds between 0 and 86400"
        )))
    }
}

fn store_command(action: StoreAction, store_args: &StoreArgs) -> Result<(), Failure> {
    if let StoreAction::Reset { yes } = action {
        return store_reset(store_args, yes);
    }
    let store = open_store(store_args)?;
    match action {
        StoreAction::Reset { .. } => Ok(()),
        StoreAction::Info => store_info(&store),
        StoreAction::Inject { kind, count } => store_inject(&store, &kind, count),
        StoreAction::Settings => store_settings(&store),
        StoreAction::Set { key, value } => store_set(&store, &key, &value),
    }
}

/// `imagefs store reset`: deletes the store's files, then seeds a new one.
fn store_reset(store_args: &StoreArgs, yes: bool) -> Result<(), Failure> {
    let path = store_path(store_args)?;
    if !yes {
        return Err(Failure(format!(
            "this deletes {} with every account, key, image and instance in it; run again with --yes",
            path.display()
        )));
    }
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Failure(format!("cannot remove {}: {e}", file.display()))),
        }
    }
    let store = open_store(store_args)?;
    println!("store {} reset and seeded afresh", store.path().display());
    Ok(())
}

/// `imagefs store info`: the store's schema, accounts, images, instances and pending faults.
fn store_info(store: &Store) -> Result<(), Failure> {
    let version = store.schema_version()?;
    let size = std::fs::metadata(store.path())
        .map(|m| m.len())
        .unwrap_or(0);
    println!("store      {}", store.path().display());
    println!("schema     {version}");
    println!("size       {} KiB", size / 1024);
    let default = store.default_account()?;
    let accounts = store.accounts()?;
    println!("accounts   {}", accounts.len());
    for (id, created) in &accounts {
        let keys = store.key_count(id)?;
        let mark = if *id == default { ", default" } else { "" };
        println!("  {id}  created {created}, {keys} API key(s){mark}");
    }
    let counts = imagefs::local::image_counts(store)?;
    for (kind, label) in [
        ("PUBLIC", "public"),
        ("MARKETPLACE", "marketplace"),
        ("CUSTOM", "custom"),
    ] {
        println!(
            "images     {label}: {} (all regions)",
            counts.get(kind).copied().unwrap_or(0)
        );
    }
    let instances = imagefs::local::instance_count(store)?;
    println!("instances  {instances}");
    for (name, key) in imagefs::local::INJECTIONS {
        let pending = store.meta(key)?.unwrap_or_else(|| "0".into());
        if pending != "0" {
            println!("injected   {name}: next {pending}");
        }
    }
    Ok(())
}

/// `imagefs store inject KIND COUNT`: the next COUNT operations of a kind fail.
fn store_inject(store: &Store, kind: &str, count: u64) -> Result<(), Failure> {
    let (name, key) = imagefs::local::INJECTIONS
        .iter()
        .find(|(name, _)| *name == kind)
        .ok_or_else(|| {
            Failure(format!(
                "unknown fault `{kind}`; faults: create-fails, import-fails, copy-fails, throttle"
            ))
        })?;
    store.set_meta(key, &count.to_string())?;
    println!("{name}: the next {count} will fail");
    Ok(())
}

/// `imagefs store settings`: every setting with its value.
fn store_settings(store: &Store) -> Result<(), Failure> {
    println!("store {}", store.path().display());
    for setting in SETTINGS {
        let value = store
            .meta(setting.key)?
            .unwrap_or_else(|| setting.default.to_string());
        let shown = if setting == TRANSITION_DELAY {
            format!("{}", value.parse::<f64>().unwrap_or(0.0) / 1000.0)
        } else {
            value
        };
        println!("{} = {shown}  ({})", setting.name, setting.description);
    }
    Ok(())
}

/// `imagefs store set KEY VALUE`.
fn store_set(store: &Store, key: &str, value: &str) -> Result<(), Failure> {
    let setting = SETTINGS
        .into_iter()
        .find(|s| s.name == key)
        .ok_or_else(|| {
            let names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
            Failure(format!(
                "unknown setting `{key}`; settings: {}",
                names.join(", ")
            ))
        })?;
    let name = setting.name;
    let stored = if setting == TRANSITION_DELAY {
        let secs: f64 = value
            .parse()
            .map_err(|_| Failure(format!("`{value}` is not a number of seconds")))?;
        seconds(secs)?.as_millis().to_string()
    } else {
        let n: u64 = value
            .parse()
            .map_err(|_| Failure(format!("`{value}` is not a whole number")))?;
        if n == 0 || n > 100_000 {
            return Err(Failure(format!("{name} must be between 1 and 100000")));
        }
        n.to_string()
    };
    store.set_meta(setting.key, &stored)?;
    println!("{name} = {value}");
    Ok(())
}

/// Makes and prints a key pair: two lines scripts can read.
fn print_key(store: &Store, account: &AccountId) -> Result<(), Failure> {
    let (secret_id, secret_key) = store.create_key(account)?;
    println!("SecretId={secret_id}");
    println!("SecretKey={secret_key}");
    Ok(())
}

fn serve(args: ServeArgs) -> Result<(), Failure> {
    let store = Arc::new(open_store(&args.store)?);
    let settings = imagefs::serve::ServeSettings {
        transition_delay: args.transition_delay.map(seconds).transpose()?,
        import_dir: args.import_dir.clone(),
    };
    let path = store.path().display().to_string();
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(imagefs::serve::tls_config(cert, key)?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    imagefs::serve::serve(store, &args.listen, settings, tls, |address| {
        println!("listening on {scheme}://{address} (store {path})");
        let _ = std::io::stdout().flush();
    })?;
    Ok(())
}

/// Polls a `state` file until it shows the wanted state; a FAILED state, a vanished path or
/// the timeout end the wait with a message. Progress goes to a terminal only.
fn wait(args: WaitArgs) -> Result<(), Failure> {
    let file = if args.path.is_dir() {
        args.path.join("state")
    } else {
        args.path.clone()
    };
    let limit = seconds(args.timeout)?;
    let wanted = args.state.trim().to_uppercase();
    // SAFETY: isatty only inspects the descriptor.
    let interactive = unsafe { libc::isatty(2) } == 1;
    let started = std::time::Instant::now();
    let mut last = String::new();
    loop {
        let state = std::fs::read_to_string(&file)
            .map_err(|e| Failure(format!("cannot read {}: {e}", file.display())))?
            .trim()
            .to_string();
        if state == wanted {
            if interactive {
                eprintln!(
                    "\r{}: {state} after {:.0} s",
                    args.path.display(),
                    started.elapsed().as_secs_f64()
                );
            }
            return Ok(());
        }
        if state.ends_with("FAILED") {
            return Err(Failure(format!(
                "{} is {state}, it will not become {wanted}",
                args.path.display()
            )));
        }
        if started.elapsed() >= limit {
            return Err(Failure(format!(
                "{} is still {state} after {} s (waiting for {wanted})",
                args.path.display(),
                args.timeout
            )));
        }
        if interactive && state != last {
            eprint!(
                "\r{}: {state}, waiting for {wanted}...",
                args.path.display()
            );
            last = state;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
