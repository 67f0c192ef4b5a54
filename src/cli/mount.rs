//! `imagefs mount` and `imagefs unmount`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use clap::Args;

use imagefs::fs::{ImageFs, MountSettings};
use imagefs::local::store::Store;
use imagefs::local::LocalService;
use imagefs::model::AccountId;
use imagefs::mounts;
use imagefs::service::ImageService;
use imagefs::tencent::{Client, Credentials, TencentService};

use super::{open_store, seconds, store_path, Failure, StoreArgs};

/// How long `imagefs mount` waits for its daemon to report the mount ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Which image service a mount shows.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The embedded emulator, its state in a local store.
    Local,
    /// Tencent Cloud's CVM API, with TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY or a
    /// tccli profile.
    Tencentcloud,
}

#[derive(Args, Clone)]
pub struct MountArgs {
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
    /// local: with --account, add the account to the store if it is not there (else an
    /// unknown account is refused, so a typo never makes a new account).
    #[arg(long, requires = "account")]
    create_account: bool,
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
    /// local: the `export` files write into this directory, each bucket a folder of it
    /// (without it, exports are refused).
    #[arg(long, value_name = "DIR")]
    export_dir: Option<PathBuf>,
    /// Write the daemon's log here (RUST_LOG sets the level; default warn).
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Internal: run as the background daemon of `imagefs mount`.
    #[arg(long, hide = true)]
    daemon_child: bool,
}

#[derive(Args)]
pub struct UnmountArgs {
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

/// Checks the mountpoint (creating it if missing) and returns its absolute path, and whether
/// it was created (a failed mount removes it again).
fn prepare_mountpoint(path: &Path) -> Result<(PathBuf, bool), Failure> {
    let path = std::path::absolute(path)?;
    if !Path::new("/dev/fuse").exists() {
        return Err(Failure(
            "/dev/fuse is missing: load the FUSE kernel module (modprobe fuse) or install fuse3"
                .into(),
        ));
    }
    let mut created = false;
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
            created = true;
        }
        Err(e) => return Err(Failure(format!("{}: {e}", path.display()))),
    }
    Ok((path, created))
}

pub fn mount(args: MountArgs) -> Result<(), Failure> {
    if args.daemon_child {
        return run_mount(&args, &args.mountpoint, true);
    }
    if args.backend == Backend::Local {
        // Found before the mountpoint is made, so nothing is left behind.
        store_path(&args.store)?;
    }
    let (mountpoint, created) = prepare_mountpoint(&args.mountpoint)?;
    let result = if args.foreground {
        run_mount(&args, &mountpoint, false)
    } else {
        spawn_daemon(&args, &mountpoint)
    };
    if result.is_err() && created {
        // Only if still empty and not mounted: remove_dir refuses anything else.
        let _ = std::fs::remove_dir(&mountpoint);
    }
    result
}

/// Mounts in this process and serves until unmounted. As the daemon of `imagefs mount`, it
/// reports readiness on stdout and then lets go of the terminal.
fn run_mount(args: &MountArgs, mountpoint: &Path, daemon: bool) -> Result<(), Failure> {
    let account = args.account.as_deref().map(AccountId::parse).transpose()?;
    let (service, summary): (Arc<dyn ImageService>, String) = match args.backend {
        Backend::Local => {
            let store = Arc::new(open_store(&args.store)?);
            if let Some(id) = &account {
                refuse_unknown_account(&store, id, args.create_account)?;
            }
            let delay = args.transition_delay.map(seconds).transpose()?;
            let export_dir = args
                .export_dir
                .as_deref()
                .map(std::path::absolute)
                .transpose()?;
            let service = LocalService::open(store.clone(), account)?
                .with_transition_delay(delay)
                .with_export_dir(export_dir);
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
    if args.create_account {
        cmd.arg("--create-account");
    }
    if args.allow_other {
        cmd.arg("--allow-other");
    }
    if let Some(log) = &args.log_file {
        cmd.arg("--log-file").arg(std::path::absolute(log)?);
    }
    if let Some(dir) = &args.export_dir {
        cmd.arg("--export-dir").arg(std::path::absolute(dir)?);
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

pub fn unmount(args: UnmountArgs) -> Result<(), Failure> {
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

/// An account the store does not know is a typo unless the user says it is new.
fn refuse_unknown_account(store: &Store, id: &AccountId, create: bool) -> Result<(), Failure> {
    if create || store.account_exists(id)? {
        return Ok(());
    }
    Err(Failure(format!(
        "account {id} is not in the store {}; its accounts: {}. Add it with `imagefs accounts \
         add {id}`, or mount with --create-account",
        store.path().display(),
        super::accounts::known_list(store)?
    )))
}
