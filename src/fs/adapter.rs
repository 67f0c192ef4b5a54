//! The FUSE adapter: translates kernel requests into [`ImageFs`] calls and errors into errno.
//! No filesystem logic lives here.

use std::ffi::OsStr;
use std::path::Path;
use std::sync::mpsc::{Sender, SyncSender};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use fuser::{
    AccessFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation,
    INodeNo, InitFlags, KernelConfig, LockOwner, OpenAccMode, OpenFlags, ReplyAttr, ReplyData,
    ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite,
    ReplyXattr, Request, TimeOrNow, WriteFlags,
};

use super::core::{Attr, EntryKind, ImageFs};
use crate::error::Error;
use crate::service::Caller;

/// How long the kernel may trust that a name exists, for names that exist as long as their
/// directory does (the files of an image, the kinds of a region, the regions): the directory's
/// own short TTL still makes a vanished image disappear within a second.
const FIXED_ENTRY_TTL: Duration = Duration::from_secs(3600);

/// Inodes to invalidate, and who waits for it to be done.
pub type StaleBatch = (Vec<u64>, SyncSender<()>);

/// How long a handler waits for its invalidations before replying anyway (the kernel may
/// hold a lock the invalidation needs until this very request is answered).
const INVALIDATION_WAIT: Duration = Duration::from_millis(200);

/// How long the kernel may trust an entry or attribute: short, so changes made elsewhere
/// (another mount of the store, the cloud) show within about a second, yet long enough that
/// `ls -l` and `find` cost one request per directory, not one per file.
const TTL: Duration = Duration::from_secs(1);

/// Kernel requests served, by kind: logged on SIGUSR1 and at unmount, so a benchmark can
/// explain its figures.
#[derive(Default)]
pub struct RequestCounts {
    counts: [std::sync::atomic::AtomicU64; REQUEST_KINDS.len()],
}

const REQUEST_KINDS: [&str; 12] = [
    "lookup",
    "getattr",
    "setattr",
    "open",
    "read",
    "write",
    "release",
    "opendir",
    "readdir",
    "readdirplus",
    "releasedir",
    "other",
];

impl RequestCounts {
    fn count(&self, kind: &str) {
        let index = REQUEST_KINDS
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(REQUEST_KINDS.len() - 1);
        self.counts[index].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// `lookup=.. getattr=.. ...`, the counts so far.
    pub fn summary(&self) -> String {
        REQUEST_KINDS
            .iter()
            .zip(self.counts.iter())
            .map(|(k, c)| format!("{k}={}", c.load(std::sync::atomic::Ordering::Relaxed)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What the kernel was last told about files, so a file can be read through the page cache
/// when that is exact, and with direct I/O when it might not be.
#[derive(Default)]
struct KernelView {
    /// The size last reported for each file (lookup, getattr, readdirplus).
    sizes: Mutex<std::collections::HashMap<u64, u64>>,
    /// A hash of the contents the kernel may hold in its page cache for each file.
    cached: Mutex<std::collections::HashMap<u64, u64>>,
    /// Handles open through the page cache: handle -> (file, hash of its contents). Another
    /// handle with other contents could refill the cache, so such opens use direct I/O.
    through_cache: Mutex<std::collections::HashMap<u64, (u64, u64)>>,
}

/// Files remembered at most; past this the view starts over (then files read with direct
/// I/O until seen again), so memory stays bounded.
const KERNEL_VIEW_MAX: usize = 100_000;

fn remember(map: &Mutex<std::collections::HashMap<u64, u64>>, key: u64, value: u64) {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    if map.len() >= KERNEL_VIEW_MAX {
        map.clear();
    }
    map.insert(key, value);
}

/// Wakes pollers whose file changed (a `state` reaching its next state), from a thread of
/// its own; ends when the filesystem is gone.
fn spawn_poll_watcher(fs: std::sync::Weak<ImageFs>, watches: std::sync::Weak<Watches>) {
    let started = std::thread::Builder::new()
        .name("imagefs-poll".into())
        .spawn(move || loop {
            std::thread::sleep(POLL_INTERVAL);
            let (Some(fs), Some(watches)) = (fs.upgrade(), watches.upgrade()) else {
                return;
            };
            let pending: Vec<(u64, fuser::PollNotifier)> =
                std::mem::take(&mut *watches.lock().unwrap_or_else(|p| p.into_inner()));
            let mut still = Vec::new();
            for (fh, notifier) in pending {
                // Changed, or gone (the handle was released): either way the poller wakes.
                match fs.changed_since_open(fh) {
                    Ok(false) => still.push((fh, notifier)),
                    _ => {
                        if let Err(e) = notifier.notify() {
                            log::debug!("poll notification for handle {fh}: {e}");
                        }
                    }
                }
            }
            watches
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(still);
        });
    if let Err(e) = started {
        log::warn!("no poll watcher ({e}): poll(2) on imagefs files will not wake on changes");
    }
}

fn content_hash(content: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    content.hash(&mut h);
    h.finish()
}

/// Pollers waiting for a file's contents to change: handle -> who to tell.
type Watches = Mutex<Vec<(u64, fuser::PollNotifier)>>;

/// How often the poll watcher looks at watched files.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

pub struct FuseAdapter {
    fs: std::sync::Arc<ImageFs>,
    watches: std::sync::Arc<Watches>,
    view: KernelView,
    counts: std::sync::Arc<RequestCounts>,
    uid: u32,
    gid: u32,
    /// Inodes whose cached attributes a command made stale, for the invalidation thread
    /// (notifying the kernel from a request handler could deadlock).
    stale: Mutex<Option<Sender<StaleBatch>>>,
}

fn errno(e: &Error) -> Errno {
    Errno::from_i32(e.errno())
}

impl FuseAdapter {
    /// Files and directories belong to the mounting user.
    pub fn new(
        fs: ImageFs,
        uid: u32,
        gid: u32,
        stale: Sender<StaleBatch>,
        counts: std::sync::Arc<RequestCounts>,
    ) -> FuseAdapter {
        let fs = std::sync::Arc::new(fs);
        let watches: std::sync::Arc<Watches> = std::sync::Arc::new(Mutex::new(Vec::new()));
        spawn_poll_watcher(
            std::sync::Arc::downgrade(&fs),
            std::sync::Arc::downgrade(&watches),
        );
        FuseAdapter {
            fs,
            watches,
            view: KernelView::default(),
            counts,
            uid,
            gid,
            stale: Mutex::new(Some(stale)),
        }
    }

    /// Has the kernel drop its cached attributes of `inodes` (from the invalidation thread:
    /// notifying from a request handler could deadlock) and waits briefly for it, so that a
    /// `stat` right after the reply sees the change.
    fn invalidate(&self, inodes: Vec<u64>) {
        if inodes.is_empty() {
            return;
        }
        let (done, wait) = std::sync::mpsc::sync_channel(1);
        let sent = {
            let sender = self.stale.lock().unwrap_or_else(|p| p.into_inner());
            sender.as_ref().map(|s| s.send((inodes, done)).is_ok())
        };
        if sent == Some(true) {
            let _ = wait.recv_timeout(INVALIDATION_WAIT);
        }
    }

    fn file_attr(&self, attr: &Attr) -> FileAttr {
        if attr.kind == EntryKind::File {
            // Every attribute reply passes here: this is the size the kernel now holds.
            remember(&self.view.sizes, attr.ino, attr.size);
        }
        let (kind, nlink) = match attr.kind {
            EntryKind::Directory => (FileType::Directory, 2),
            EntryKind::File => (FileType::RegularFile, 1),
            EntryKind::Symlink => (FileType::Symlink, 1),
        };
        FileAttr {
            ino: INodeNo(attr.ino),
            size: attr.size,
            blocks: attr.size.div_ceil(512),
            atime: attr.mtime,
            mtime: attr.mtime,
            ctime: attr.mtime,
            crtime: attr.mtime,
            kind,
            perm: attr.perm,
            nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    /// Refuses a change of the tree on `ino` (or on `name` in it), recording it in `errors`.
    fn refuse(&self, operation: &str, ino: INodeNo, name: Option<&OsStr>) -> Errno {
        match self.fs.node_of(ino.0) {
            Ok(node) => errno(&self.fs.refuse(operation, node, name)),
            Err(e) => errno(&e),
        }
    }

    /// How the kernel may read a file just opened. Contents are generated, so the page cache
    /// is used only when it is exact: the size the kernel holds is the size of these contents
    /// (else direct I/O, which reads exactly what the handle holds), and cached pages are kept
    /// only when they hold these very contents.
    fn open_flags(&self, ino: u64, fh: u64) -> FopenFlags {
        // Nothing happens at close, so the kernel need not send FLUSH.
        let direct = FopenFlags::FOPEN_DIRECT_IO | FopenFlags::FOPEN_NOFLUSH;
        let content = match self.fs.opened_content(fh) {
            Some(c) if ino != super::inode::Node::Errors.ino() => c,
            _ => return direct,
        };
        let size_known = self
            .view
            .sizes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&ino)
            == Some(&(content.len() as u64));
        if !size_known {
            self.view
                .cached
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&ino);
            return direct;
        }
        let hash = content_hash(&content);
        let mut open = self
            .view
            .through_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if open.values().any(|&(i, h)| i == ino && h != hash) {
            // Another open handle holds other contents and may still fill the page cache.
            self.view
                .cached
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&ino);
            return direct;
        }
        if open.len() < KERNEL_VIEW_MAX {
            open.insert(fh, (ino, hash));
        } else {
            return direct;
        }
        drop(open);
        let unchanged = self
            .view
            .cached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&ino)
            == Some(&hash);
        remember(&self.view.cached, ino, hash);
        if unchanged {
            FopenFlags::FOPEN_KEEP_CACHE | FopenFlags::FOPEN_NOFLUSH
        } else {
            // Without KEEP_CACHE the kernel drops what it cached for this file at open.
            FopenFlags::FOPEN_NOFLUSH
        }
    }

    /// A read shorter than the size the kernel holds makes it shrink that size: forget what
    /// was told, so the next open reads directly.
    fn note_read(&self, ino: u64, offset: u64, asked: u32, got: usize) {
        if got >= asked as usize {
            return;
        }
        let end = offset.saturating_add(got as u64);
        let mut sizes = self.view.sizes.lock().unwrap_or_else(|p| p.into_inner());
        if sizes.get(&ino).is_some_and(|&size| end < size) {
            sizes.remove(&ino);
            self.view
                .cached
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&ino);
        }
    }

    fn reply_entry(&self, result: crate::error::Result<Attr>, reply: ReplyEntry) {
        match result {
            Ok(attr) => {
                // Images and instances come and go; every other name is fixed by its parent.
                let comes_and_goes = matches!(
                    super::inode::Node::from_ino(attr.ino),
                    Some(
                        super::inode::Node::ImageDir(..)
                            | super::inode::Node::InstanceDir(..)
                            | super::inode::Node::NameLink(..)
                    )
                );
                let entry_ttl = if comes_and_goes { TTL } else { FIXED_ENTRY_TTL };
                reply.entry_with_ttls(&TTL, &entry_ttl, &self.file_attr(&attr), Generation(0))
            }
            Err(e) => reply.error(errno(&e)),
        }
    }
}

impl Filesystem for FuseAdapter {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Readdirplus returns attributes with the listing (no LOOKUP per entry for `ls -l`);
        // atomic O_TRUNC spares `echo >` a separate SETATTR; parallel dirops lets lookups in
        // one directory proceed together.
        for flag in [
            InitFlags::FUSE_DO_READDIRPLUS,
            InitFlags::FUSE_READDIRPLUS_AUTO,
            InitFlags::FUSE_ATOMIC_O_TRUNC,
            InitFlags::FUSE_PARALLEL_DIROPS,
        ] {
            if let Err(missing) = config.add_capabilities(flag) {
                log::debug!("kernel lacks FUSE capability {missing:?}");
            }
        }
        Ok(())
    }

    fn destroy(&mut self) {
        // Ends the invalidation thread.
        self.stale.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.counts.count("lookup");
        self.reply_entry(self.fs.lookup(parent.0, name), reply);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        self.counts.count("getattr");
        match self.fs.getattr(ino.0) {
            Ok(attr) => reply.attr(&TTL, &self.file_attr(&attr)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        self.counts.count("setattr");
        let truncate_control = size == Some(0) && self.fs.accepts_truncate(ino.0);
        let changes = mode.is_some()
            || uid.is_some()
            || gid.is_some()
            || (size.is_some() && !truncate_control)
            || atime.is_some()
            || mtime.is_some();
        if changes {
            reply.error(self.refuse("setattr", ino, None));
            return;
        }
        match self.fs.getattr(ino.0) {
            Ok(attr) => reply.attr(&TTL, &self.file_attr(&attr)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        self.counts.count("other");
        match self.fs.readlink(ino.0) {
            Ok(target) => reply.data(target.as_bytes()),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn mknod(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        reply.error(self.refuse("mknod", parent, Some(name)));
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        reply.error(self.refuse("mkdir", parent, Some(name)));
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply.error(self.refuse("unlink", parent, Some(name)));
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.fs.rmdir(parent.0, name) {
            Ok(stale) => {
                self.invalidate(stale);
                reply.ok();
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn symlink(
        &self,
        _req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        _target: &Path,
        reply: ReplyEntry,
    ) {
        reply.error(self.refuse("symlink", parent, Some(link_name)));
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _newparent: INodeNo,
        _newname: &OsStr,
        _flags: fuser::RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply.error(self.refuse("rename", parent, Some(name)));
    }

    fn link(
        &self,
        _req: &Request,
        _ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        reply.error(self.refuse("link", newparent, Some(newname)));
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        self.counts.count("open");
        let read = flags.acc_mode() != OpenAccMode::O_WRONLY;
        let write = flags.acc_mode() != OpenAccMode::O_RDONLY || flags.0 & libc::O_TRUNC != 0;
        match self.fs.open(ino.0, read, write) {
            Ok(fh) => reply.opened(FileHandle(fh), self.open_flags(ino.0, fh)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        self.counts.count("read");
        match self.fs.read(fh.0, offset, size) {
            Ok(data) => {
                self.note_read(ino.0, offset, size, data.len());
                reply.data(&data)
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn write(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        self.counts.count("write");
        let caller = Caller {
            uid: req.uid(),
            gid: req.gid(),
            pid: req.pid(),
        };
        match self.fs.write(fh.0, data, &caller) {
            Ok(stale) => {
                self.invalidate(stale);
                reply.written(u32::try_from(data.len()).unwrap_or(u32::MAX));
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.counts.count("release");
        self.view
            .through_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&fh.0);
        self.fs.release(fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        self.counts.count("opendir");
        match self.fs.opendir(ino.0) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        self.counts.count("readdir");
        let entries = match self.fs.dir_entries(fh.0) {
            Ok(e) => e,
            Err(e) => return reply.error(errno(&e)),
        };
        let parent = self
            .fs
            .node_of(ino.0)
            .map(|n| n.parent().ino())
            .unwrap_or(1);
        // Offsets: 1 and 2 are "." and "..", entry i is i + 3.
        let dots = [(ino.0, "."), (parent, "..")];
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        for (i, (dot_ino, name)) in dots.iter().enumerate().skip(start) {
            if reply.add(INodeNo(*dot_ino), (i + 1) as u64, FileType::Directory, name) {
                return reply.ok();
            }
        }
        for (i, entry) in entries.iter().enumerate().skip(start.saturating_sub(2)) {
            let kind = match entry.attr.kind {
                EntryKind::Directory => FileType::Directory,
                EntryKind::File => FileType::RegularFile,
                EntryKind::Symlink => FileType::Symlink,
            };
            if reply.add(INodeNo(entry.attr.ino), (i + 3) as u64, kind, &entry.name) {
                break;
            }
        }
        reply.ok();
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        self.counts.count("readdirplus");
        let entries = match self.fs.dir_entries(fh.0) {
            Ok(e) => e,
            Err(e) => return reply.error(errno(&e)),
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        if start < 2 {
            let node = self.fs.node_of(ino.0);
            let dots = [
                (ino.0, "."),
                (node.map(|n| n.parent().ino()).unwrap_or(1), ".."),
            ];
            for (i, (dot_ino, name)) in dots.iter().enumerate().skip(start) {
                let attr = match self.fs.getattr(*dot_ino) {
                    Ok(a) => a,
                    Err(e) => return reply.error(errno(&e)),
                };
                if reply.add(
                    INodeNo(*dot_ino),
                    (i + 1) as u64,
                    name,
                    &TTL,
                    &self.file_attr(&attr),
                    Generation(0),
                ) {
                    return reply.ok();
                }
            }
        }
        for (i, entry) in entries.iter().enumerate().skip(start.saturating_sub(2)) {
            if reply.add(
                INodeNo(entry.attr.ino),
                (i + 3) as u64,
                &entry.name,
                &TTL,
                &self.file_attr(&entry.attr),
                Generation(0),
            ) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.counts.count("releasedir");
        self.fs.release(fh.0);
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        reply.statfs(0, 0, 0, 0, 0, 4096, 255, 4096);
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        _name: &OsStr,
        _value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        reply.error(self.refuse("setxattr", ino, None));
    }

    /// Files are always readable (POLLIN); POLLPRI says the contents changed since this
    /// handle was opened (sysfs's convention), e.g. a `state` that moved on. Until then the
    /// poller is woken by the watcher thread when they do.
    fn poll(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        ph: fuser::PollNotifier,
        _events: fuser::PollEvents,
        _flags: fuser::PollFlags,
        reply: fuser::ReplyPoll,
    ) {
        self.counts.count("other");
        match self.fs.changed_since_open(fh.0) {
            Ok(true) => reply.poll(fuser::PollEvents::POLLIN | fuser::PollEvents::POLLPRI),
            Ok(false) => {
                let mut watches = self.watches.lock().unwrap_or_else(|p| p.into_inner());
                watches.retain(|(other, _)| *other != fh.0);
                watches.push((fh.0, ph));
                reply.poll(fuser::PollEvents::POLLIN);
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    // Extended attributes are not supported: ENOSYS makes the kernel stop asking (it
    // remembers), which spares `ls -l` two requests per file.
    fn getxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _size: u32,
        reply: ReplyXattr,
    ) {
        reply.error(Errno::ENOSYS);
    }

    fn listxattr(&self, _req: &Request, _ino: INodeNo, _size: u32, reply: ReplyXattr) {
        reply.error(Errno::ENOSYS);
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(self.refuse("removexattr", ino, None));
    }

    fn access(&self, _req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        match self.fs.getattr(ino.0) {
            Ok(attr) if mask.contains(AccessFlags::W_OK) && attr.perm & 0o200 == 0 => {
                reply.error(Errno::EACCES)
            }
            Ok(_) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: fuser::ReplyCreate,
    ) {
        reply.error(self.refuse("create", parent, Some(name)));
    }
}
