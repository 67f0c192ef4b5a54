//! The mounted-test harness: a temporary store and mountpoint, an `imagefs mount
//! --foreground` daemon, a wait for the mount, a watchdog that breaks a hung mount, and an
//! unmount on drop even when the test fails.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use imagefs::mounts;

mod clients;
#[allow(unused_imports)] // Not every test uses the client helpers.
pub use clients::*;

/// The members of the API's `Image` object (CVM 2017-03-12, `objects.Image`).
pub const IMAGE_MEMBERS: [&str; 20] = [
    "ImageId",
    "OsName",
    "ImageType",
    "CreatedTime",
    "ImageName",
    "ImageDescription",
    "ImageSize",
    "Architecture",
    "ImageState",
    "Platform",
    "ImageCreator",
    "ImageSource",
    "SyncPercent",
    "IsSupportCloudinit",
    "SnapshotSet",
    "Tags",
    "LicenseType",
    "ImageFamily",
    "ImageDeprecated",
    "CdcCacheStatus",
];

static MOUNTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The longest a mounted test may take before its mount is torn down under it.
const TEST_DEADLINE: Duration = Duration::from_secs(180);
const MOUNT_WAIT: Duration = Duration::from_secs(20);

pub fn imagefs_bin() -> &'static str {
    env!("CARGO_BIN_EXE_imagefs")
}

/// Whether mounted tests can run. With `CI` set, a missing `/dev/fuse` fails the test.
pub fn fuse_available() -> bool {
    if Path::new("/dev/fuse").exists() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("/dev/fuse is missing and CI is set: mounted tests must run in CI");
    }
    eprintln!("skipping mounted test: /dev/fuse is missing (set CI to make this a failure)");
    false
}

/// A scratch directory holding a store (and mountpoints), removed at the end unless a mount
/// in it could not be taken down.
pub struct Scratch {
    dir: Option<tempfile::TempDir>,
    /// `imagefs serve` on this scratch store, started by the first cloud mount.
    server: std::sync::Mutex<Option<(std::process::Child, String)>>,
}

/// Which backend a conformance test mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    /// The local emulator, directly.
    Local,
    /// The tencentcloud backend, pointed at `imagefs serve` on the same store.
    Cloud,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: Some(
                tempfile::Builder::new()
                    .prefix("imagefs-test-")
                    .tempdir()
                    .expect("tempdir"),
            ),
            server: std::sync::Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("scratch dir").path()
    }

    pub fn store(&self) -> PathBuf {
        self.path().join("store.db")
    }

    /// Mounts the scratch store as `account` (the store's default when `None`).
    pub fn mount(&self, account: Option<&str>) -> Mount {
        let name = format!("mnt-{}", account.unwrap_or("default"));
        Mount::start(&self.path().join(name), &self.store(), account, &[])
    }

    /// Mounts the scratch store as `account` with extra `imagefs mount` options.
    pub fn mount_with(&self, account: Option<&str>, extra: &[&str]) -> Mount {
        let name = format!(
            "mnt-{}-{}",
            account.unwrap_or("default"),
            MOUNTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        Mount::start(&self.path().join(name), &self.store(), account, extra)
    }

    /// The URL of `imagefs serve` on this store (started on first use, transition delay 0).
    pub fn server_url(&self) -> String {
        let mut server = self.server.lock().expect("lock");
        if let Some((_, url)) = server.as_ref() {
            return url.clone();
        }
        let (child, url) = start_server(
            &self.store(),
            &["--import-dir".as_ref(), self.path().as_os_str()],
        );
        *server = Some((child, url.clone()));
        url
    }

    /// A key pair for `account`, which is added to the store if new.
    pub fn key_pair(&self, account: &str) -> (String, String) {
        let store = self.store().to_string_lossy().into_owned();
        let mut out = run(
            imagefs_bin(),
            &["accounts", "add", account, "--store", &store],
        );
        if stdout(&out).is_empty() {
            out = run(
                imagefs_bin(),
                &["accounts", "keys", account, "--store", &store],
            );
        }
        let text = stdout(&out);
        let get = |prefix: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(prefix))
                .unwrap_or_else(|| panic!("no {prefix} in {text}"))
                .to_string()
        };
        (get("SecretId="), get("SecretKey="))
    }

    /// Mounts `account` on `backend`; the local backend gets `--transition-delay 0`.
    pub fn mount_on(&self, backend: TestBackend, account: &str) -> Mount {
        let name = format!(
            "{backend:?}-{account}-{}",
            MOUNTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mountpoint = self.path().join(name);
        match backend {
            TestBackend::Local => Mount::start(
                &mountpoint,
                &self.store(),
                Some(account),
                &["--transition-delay", "0"],
            ),
            TestBackend::Cloud => {
                let (id, key) = self.key_pair(account);
                let url = self.server_url();
                Mount::start_with(
                    &mountpoint,
                    &[
                        "--backend".into(),
                        "tencentcloud".into(),
                        "--endpoint".into(),
                        url,
                    ],
                    &[
                        ("TENCENTCLOUD_SECRET_ID".into(), id),
                        ("TENCENTCLOUD_SECRET_KEY".into(), key),
                    ],
                )
            }
        }
    }

    /// Leaves the directory on disk (a mount in it may still be alive).
    pub fn leak(&mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = dir.keep();
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Ok(mut server) = self.server.lock() {
            if let Some((mut child, _)) = server.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if let Some(dir) = &self.dir {
            let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
            let still_mounted = mounts::parse_mountinfo(&text)
                .iter()
                .any(|m| m.mount_point.starts_with(dir.path()));
            if still_mounted {
                eprintln!(
                    "leaving {} in place: a mount in it is still alive",
                    dir.path().display()
                );
                self.leak();
            }
        }
    }
}

/// A running mount: `imagefs mount --foreground` as a child process.
pub struct Mount {
    pub root: PathBuf,
    child: Option<Child>,
    log: PathBuf,
    stop_watchdog: Option<mpsc::Sender<()>>,
}

pub fn is_mounted(path: &Path) -> bool {
    matches!(mounts::mount_at(path), Ok(Some(m)) if mounts::is_imagefs(&m))
}

impl Mount {
    pub fn start(mountpoint: &Path, store: &Path, account: Option<&str>, extra: &[&str]) -> Mount {
        let mut args: Vec<String> = vec!["--store".into(), store.to_string_lossy().into_owned()];
        args.extend(extra.iter().map(|a| a.to_string()));
        if let Some(a) = account {
            // Tests name new accounts freely; an unknown one is refused without this.
            args.push("--account".into());
            args.push(a.into());
            args.push("--create-account".into());
        }
        Mount::start_with(mountpoint, &args, &[])
    }

    /// `imagefs mount MOUNTPOINT --foreground ARGS`, with extra environment.
    pub fn start_with(mountpoint: &Path, args: &[String], envs: &[(String, String)]) -> Mount {
        let log = mountpoint.with_extension("log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(imagefs_bin());
        cmd.arg("mount")
            .arg(mountpoint)
            .arg("--foreground")
            .args(args)
            .env("RUST_LOG", "info")
            .envs(envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        let mut child = cmd.spawn().expect("spawn imagefs");
        let deadline = Instant::now() + MOUNT_WAIT;
        while !is_mounted(mountpoint) {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "imagefs exited ({status}) before mounting:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("mount did not appear within {MOUNT_WAIT:?}");
            }
            thread::sleep(Duration::from_millis(20));
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let watched = mountpoint.to_path_buf();
        let pid = child.id();
        thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(TEST_DEADLINE) {
                // A hung mount would block the test forever: kill the daemon (pending requests
                // then fail with ENOTCONN) and detach the mount.
                eprintln!(
                    "test deadline passed: killing imagefs {pid} and detaching {}",
                    watched.display()
                );
                // SAFETY: kill with a pid we spawned.
                unsafe {
                    libc::kill(pid as i32, libc::SIGKILL);
                }
                let _ = mounts::unmount(&watched, true);
            }
        });
        Mount {
            root: mountpoint.to_path_buf(),
            child: Some(child),
            log,
            stop_watchdog: Some(stop),
        }
    }

    /// A path inside the mount.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    pub fn region(&self, region: &str) -> PathBuf {
        self.root.join("regions").join(region)
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Sends a signal to the daemon and waits for it to exit; returns whether it exited 0.
    pub fn signal_and_wait(&mut self, signal: i32) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        // SAFETY: kill with a pid we spawned and have not reaped.
        unsafe {
            libc::kill(child.id() as i32, signal);
        }
        let status = wait_with_timeout(&mut child, Duration::from_secs(20));
        status.map(|s| s.success()).unwrap_or(false)
    }
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                return child.wait().ok();
            }
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if is_mounted(&self.root) && mounts::unmount(&self.root, false).is_err() {
            let _ = mounts::unmount(&self.root, true);
        }
        if let Some(mut child) = self.child.take() {
            if wait_with_timeout(&mut child, Duration::from_secs(10)).is_none() {
                eprintln!("imagefs daemon did not exit");
            }
        }
        if let Some(stop) = self.stop_watchdog.take() {
            let _ = stop.send(());
        }
    }
}

/// Runs a command, returning its output.
pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// Runs `sh -c script` in `dir`.
pub fn sh(dir: &Path, script: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("sh")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The errno of an I/O result that must have failed.
pub fn errno_of<T: std::fmt::Debug>(result: std::io::Result<T>) -> i32 {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e
            .raw_os_error()
            .unwrap_or_else(|| panic!("no errno in {e}")),
    }
}

/// Writes one command to a control file as `echo > file` does (open with O_TRUNC, one
/// write); the error, if any, is the one `write(2)` returned.
pub fn command(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// The last line of a mount's `errors`.
pub fn last_error(mount: &Mount) -> String {
    std::fs::read_to_string(mount.path("errors"))
        .expect("errors")
        .lines()
        .last()
        .unwrap_or("")
        .to_string()
}

/// Reads a JSON file.
pub fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reads a text file.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Waits until `path` reads `expected` (a state file changing on its own).
pub fn wait_for_content(path: &Path, expected: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if std::fs::read_to_string(path)
            .map(|s| s == expected)
            .unwrap_or(false)
        {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `imagefs serve` on `store` (any port, transition delay 0 unless `extra` gives one)
/// with `extra` options and returns it with the URL it prints (`http://...` or `https://...`).
pub fn start_server(store: &Path, extra: &[&std::ffi::OsStr]) -> (std::process::Child, String) {
    let delay: &[&str] = if extra.iter().any(|a| *a == "--transition-delay") {
        &[]
    } else {
        &["--transition-delay", "0"]
    };
    let mut child = Command::new(imagefs_bin())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(delay)
        .arg("--store")
        .arg(store)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("imagefs serve");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("address");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (child, url)
}

/// The kernel requests the daemon has served so far, by kind (it logs them on SIGUSR1).
pub fn request_counts(mount: &Mount) -> std::collections::HashMap<String, u64> {
    let before = mount.log().matches("requests: ").count();
    // SAFETY: kill with the pid of the daemon this test started.
    unsafe {
        libc::kill(mount.pid() as i32, libc::SIGUSR1);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while mount.log().matches("requests: ").count() == before {
        assert!(
            std::time::Instant::now() < deadline,
            "no request counts logged"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = mount.log();
    let line = log
        .lines()
        .rev()
        .find_map(|l| l.split_once("requests: ").map(|(_, c)| c.to_string()))
        .expect("counts");
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap_or(0)))
        .collect()
}

/// Makes an empty disk of `format` (qemu-img's name: `qcow2`, `raw`, `vpc`...) and `size`
/// (`1G`) at `path` with qemu-img.
pub fn make_disk(path: &Path, format: &str, size: &str) {
    let path = path.to_str().expect("a UTF-8 path");
    let out = run("qemu-img", &["create", "-q", "-f", format, path, size]);
    assert!(
        out.status.success(),
        "qemu-img create {path}: {}",
        stderr(&out)
    );
}

/// Launches one instance of the public image `image` in `region` through `mount`; its ID.
pub fn launch_one(mount: &Mount, region: &str, image: &str) -> String {
    let launch = mount
        .region(region)
        .join("public")
        .join(image)
        .join("launch");
    command(&launch, "1").expect("launch");
    read(&launch).trim().to_string()
}
