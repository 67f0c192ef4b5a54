//! The filesystem: the tree's logic ([`core`]), its inode numbers ([`inode`]), the thin FUSE
//! adapter ([`adapter`]) and what keeps the kernel's caches exact and warm ([`kernel_cache`]),
//! plus running a mount until it is unmounted or signalled.

pub mod adapter;
pub mod core;
pub mod inode;
pub mod kernel_cache;
pub mod request_counts;

use std::io;
use std::path::Path;

pub use self::core::ImageFs;
pub use inode::MAX_REGIONS;

/// FUSE worker threads: a backend call (SQLite, HTTP) on one must not stall the others.
pub(crate) const FUSE_THREADS: usize = 4;

/// How a mount is made.
#[derive(Debug, Clone)]
pub struct MountSettings {
    /// Let other users enter the mount (file modes are then enforced for them).
    pub allow_other: bool,
}

fn config(settings: &MountSettings) -> fuser::Config {
    use fuser::MountOption;
    let mut config = fuser::Config::default();
    config.mount_options = vec![
        MountOption::FSName("imagefs".into()),
        MountOption::Subtype("imagefs".into()),
        MountOption::DefaultPermissions,
        MountOption::NoDev,
        MountOption::NoSuid,
        MountOption::NoAtime,
    ];
    if settings.allow_other {
        config.acl = fuser::SessionACL::All;
    }
    config.n_threads = Some(FUSE_THREADS);
    config
}

/// Mounts `fs` at `mountpoint`, calls `ready` once the mount is usable, and serves requests
/// until the filesystem is unmounted (`imagefs unmount`, `umount`) or the process receives
/// SIGINT or SIGTERM, which unmount it.
pub fn serve(
    fs: ImageFs,
    mountpoint: &Path,
    settings: &MountSettings,
    ready: impl FnOnce(),
) -> io::Result<()> {
    // SAFETY: getuid/getgid cannot fail and touch no memory.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let (notes_tx, notes_rx) = std::sync::mpsc::channel::<kernel_cache::KernelNote>();
    let (drops_tx, drops_rx) = std::sync::mpsc::channel::<kernel_cache::KernelNote>();
    let counts = std::sync::Arc::new(request_counts::RequestCounts::default());
    let adapter = adapter::FuseAdapter::new(fs, uid, gid, drops_tx, notes_tx, counts.clone());
    let watcher = adapter.watcher();
    let filesystem = adapter.filesystem();
    let summary = move || {
        let ahead = filesystem
            .upgrade()
            .map(|fs| fs.ahead_summary())
            .unwrap_or_default();
        format!("{} {ahead}", counts.summary())
    };
    let pages = adapter.page_store();
    let parts = adapter.notifier_parts();
    let drop_parts = adapter.notifier_parts();
    let mut session = fuser::Session::new(adapter, mountpoint, &config(settings))?;
    {
        use std::os::fd::AsFd;
        let _ = pages.set(kernel_cache::PageStore::new(
            session.as_fd(),
            session.notifier(),
        )?);
    }
    let notifier = session.notifier();
    let drop_notifier = session.notifier();
    std::thread::Builder::new()
        .name("imagefs-drop".into())
        .spawn(move || kernel_cache::run_notifier(drops_rx, drop_notifier, drop_parts))?;
    if let Some(watcher) = watcher {
        std::thread::Builder::new()
            .name("imagefs-watch".into())
            .spawn(move || watcher.run())?;
    }
    // Drops what the kernel holds of files that changed (attributes and pages), so `stat`
    // and `cat` show a change at once, and hands it files it is about to read.
    std::thread::Builder::new()
        .name("imagefs-notify".into())
        .spawn(move || kernel_cache::run_notifier(notes_rx, notifier, parts))?;
    let mut unmounter = session.unmount_callable();
    let mut signals =
        signal_hook::iterator::Signals::new([libc::SIGINT, libc::SIGTERM, libc::SIGUSR1])?;
    let signal_handle = signals.handle();
    let target = mountpoint.to_path_buf();
    std::thread::Builder::new()
        .name("imagefs-signals".into())
        .spawn(move || {
            let signal = signals.forever().find(|&signal| {
                if signal == libc::SIGUSR1 {
                    log::info!("requests: {}", summary());
                    false
                } else {
                    true
                }
            });
            if let Some(signal) = signal {
                log::info!("requests: {}", summary());
                log::info!("signal {signal}: unmounting {}", target.display());
                if let Err(e) = unmounter.unmount() {
                    // Something still has a file open in the mount: detach it now; the kernel
                    // finishes the unmount when the last file closes.
                    log::warn!(
                        "unmount of {} failed ({e}); detaching it lazily",
                        target.display()
                    );
                    if let Err(e) = crate::mounts::unmount(&target, true) {
                        log::error!("lazy unmount of {} failed: {e}", target.display());
                    }
                }
            }
        })?;
    ready();
    let result = session.run();
    signal_handle.close();
    result
}
