//! The FUSE adapter: translates kernel requests into [`ImageFs`] calls and errors into errno.
//! No filesystem logic lives here.

use std::ffi::OsStr;
use std::path::Path;
use std::sync::mpsc::{Sender, SyncSender};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use fuser::{
    AccessFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation,
    INodeNo, InitFlags, KernelConfig, LockOwner, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory,
    ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr,
    Request, TimeOrNow, WriteFlags,
};

use super::core::{Attr, EntryKind, ImageFs, Invalidation, Rendered};
use crate::error::Error;
use crate::service::Caller;

/// How long the kernel may trust that a name exists, for names that exist as long as their
/// directory does (the files of an image, the kinds of a region, the regions): the directory's
/// own short TTL still makes a vanished image disappear within a second.
const FIXED_ENTRY_TTL: Duration = Duration::from_secs(3600);

/// What the notifier thread tells the kernel, in order: one thread, so a prefill rendered
/// before a change never lands after the invalidation of that change.
pub enum KernelNote {
    /// Drop the attributes and pages of these inodes, then tell the waiting handler.
    Drop(Vec<u64>, SyncSender<()>),
    /// Changes made elsewhere, from the watcher.
    Apply(Vec<Invalidation>),
    /// Hand the kernel these files' contents, which it is about to read (with contents
    /// rendered in an epoch, used if no change came since).
    Prefill(FileContents),
}

/// Files and, when already rendered, their contents.
type FileContents = Vec<(u64, Option<Rendered>)>;

/// Hands file contents to the kernel's page cache (`FUSE_NOTIFY_STORE`) through a
/// descriptor of the session's own. Unlike fuser's notifier it reports ENOENT: the kernel
/// does not know the inode *yet* when the reply that names it (a lookup's, a listing's) is
/// still being taken in by the process that asked, and the store is worth another try.
/// Invalidations, where ENOENT means nothing to do, go through fuser's notifier.
pub struct PageStore {
    device: std::os::fd::OwnedFd,
    notifier: fuser::Notifier,
}

/// `FUSE_NOTIFY_STORE`, from the kernel's FUSE protocol (`enum fuse_notify_code`).
const FUSE_NOTIFY_STORE: i32 = 4;

impl PageStore {
    /// Shares the session's `/dev/fuse` descriptor (a duplicate: same connection).
    pub fn new(
        session: std::os::fd::BorrowedFd<'_>,
        notifier: fuser::Notifier,
    ) -> std::io::Result<PageStore> {
        Ok(PageStore {
            device: session.try_clone_to_owned()?,
            notifier,
        })
    }

    /// Stores `data` as the whole contents of file `ino`, from offset 0.
    fn store(&self, ino: u64, data: &[u8]) -> std::io::Result<()> {
        let size = u32::try_from(data.len())
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EFBIG))?;
        // struct fuse_notify_store_out { u64 nodeid; u64 offset; u32 size; u32 padding }
        let mut args = [0u8; 24];
        args[0..8].copy_from_slice(&ino.to_ne_bytes());
        args[16..20].copy_from_slice(&size.to_ne_bytes());
        self.notify(FUSE_NOTIFY_STORE, &args, data)
    }

    fn notify(&self, code: i32, args: &[u8], data: &[u8]) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        let len = u32::try_from(16 + args.len() + data.len())
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EFBIG))?;
        // struct fuse_out_header { u32 len; i32 error (here the notify code); u64 unique (0) }
        let mut head = [0u8; 16];
        head[0..4].copy_from_slice(&len.to_ne_bytes());
        head[4..8].copy_from_slice(&code.to_ne_bytes());
        let parts = [
            libc::iovec {
                iov_base: head.as_ptr() as *mut libc::c_void,
                iov_len: head.len(),
            },
            libc::iovec {
                iov_base: args.as_ptr() as *mut libc::c_void,
                iov_len: args.len(),
            },
            libc::iovec {
                iov_base: data.as_ptr() as *mut libc::c_void,
                iov_len: data.len(),
            },
        ];
        // SAFETY: the iovecs point at live buffers of the given lengths, which the kernel
        // only reads; the descriptor is ours until drop.
        let written = unsafe { libc::writev(self.device.as_raw_fd(), parts.as_ptr(), 3) };
        if written < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

/// Stores a file's contents, rendered in `epoch` (rendered afresh if a change came since),
/// in the kernel's page cache. Should a change come while the store is under way, the
/// pages are dropped again: they may predate it. Returns what the kernel said.
fn store_contents(
    fs: &ImageFs,
    pages: &PageStore,
    ino: u64,
    rendered: &mut Option<Rendered>,
) -> std::io::Result<()> {
    let (epoch, data) = match rendered.as_ref() {
        Some((epoch, data)) if *epoch == fs.epoch() => (*epoch, data.clone()),
        _ => {
            let epoch = fs.epoch();
            let data = std::sync::Arc::new(
                fs.contents(ino)
                    .map_err(|e| std::io::Error::from_raw_os_error(e.errno()))?,
            );
            *rendered = Some((epoch, data.clone()));
            (epoch, data)
        }
    };
    if data.is_empty() || data.len() > PREFILL_MAX {
        return Ok(());
    }
    pages.store(ino, &data)?;
    if fs.epoch() != epoch {
        // From 0, length 0: every page (the attributes go too).
        pages.notifier.inval_inode(INodeNo(ino), 0, 0)?;
    }
    Ok(())
}

/// When a store the kernel could not place yet (ENOENT) is tried again: soon after, then
/// less often; after the last the kernel reads the file with a request like any other.
const STORE_RETRIES: [Duration; 6] = [
    Duration::from_micros(50),
    Duration::from_micros(250),
    Duration::from_millis(1),
    Duration::from_millis(5),
    Duration::from_millis(25),
    Duration::from_millis(100),
];

/// Stores waiting for another try, at most (a flood of lookups cannot grow it unbounded).
const STORE_RETRIES_MAX: usize = 4096;

/// A store waiting for the kernel to take in the reply that names its inode.
struct PendingStore {
    ino: u64,
    rendered: Option<Rendered>,
    tries: usize,
    due: std::time::Instant,
}

// Ordered by when they are due, soonest greatest (a max-heap then pops the soonest).
impl Ord for PendingStore {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.due.cmp(&self.due)
    }
}
impl PartialOrd for PendingStore {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for PendingStore {
    fn eq(&self, other: &Self) -> bool {
        self.due == other.due
    }
}
impl Eq for PendingStore {}

/// Whether a file is worth handing to the kernel before it reads it: not empty, and not
/// `errors` (it changes with every refusal of this mount).
fn prefillable(attr: &Attr) -> bool {
    attr.kind == EntryKind::File
        && attr.size > 0
        && attr.size <= PREFILL_MAX as u64
        && attr.ino != super::inode::Node::Errors.ino()
}

/// Listings waiting for their end, at most: readers that stop before the end leave theirs
/// behind, and past this the table starts over.
const LISTED_MAX: usize = 1024;

/// Request handlers that may store contents in the kernel at once. A store waits for any
/// page of its file that a read in progress holds, and that read is answered by another
/// handler: one of the [`super::FUSE_THREADS`] is always left free for it.
const DIRECT_STORERS_MAX: usize = super::FUSE_THREADS - 1;

/// Largest file handed to the kernel ahead of a read.
const PREFILL_MAX: usize = 64 * 1024;

/// Tells the kernel what [`KernelNote`]s say until every sender is gone.
pub fn run_notifier(
    notes: std::sync::mpsc::Receiver<KernelNote>,
    notifier: fuser::Notifier,
    parts: NotifierParts,
) {
    let mut pending = std::collections::BinaryHeap::<PendingStore>::new();
    loop {
        let note = match pending.peek() {
            None => match notes.recv() {
                Ok(note) => Some(note),
                Err(_) => return,
            },
            Some(first) => {
                let wait = first
                    .due
                    .saturating_duration_since(std::time::Instant::now());
                match notes.recv_timeout(wait) {
                    Ok(note) => Some(note),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => None,
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
        };
        match note {
            None => {}
            Some(KernelNote::Drop(inodes, done)) => {
                for ino in inodes {
                    drop_inode(&notifier, ino);
                }
                let _ = done.send(());
            }
            Some(KernelNote::Apply(invalidations)) => {
                if let Some(known) = parts.known.upgrade() {
                    for invalidation in invalidations {
                        apply(&notifier, &known, invalidation);
                    }
                }
            }
            Some(KernelNote::Prefill(inodes)) => {
                let now = std::time::Instant::now();
                for (ino, rendered) in inodes {
                    let first = PendingStore {
                        ino,
                        rendered,
                        tries: 0,
                        due: now,
                    };
                    if let Some(again) = prefill_one(&parts, first) {
                        if pending.len() < STORE_RETRIES_MAX {
                            pending.push(again);
                        }
                    }
                }
            }
        }
        let now = std::time::Instant::now();
        while pending.peek().is_some_and(|p| p.due <= now) {
            if let Some(again) = pending.pop().and_then(|store| prefill_one(&parts, store)) {
                pending.push(again);
            }
        }
    }
}

/// Stores one file's contents in the kernel's page cache; returns it for another try when
/// the kernel does not know the inode yet.
fn prefill_one(parts: &NotifierParts, mut store: PendingStore) -> Option<PendingStore> {
    let fs = parts.fs.upgrade()?;
    let pages = parts.pages.get()?;
    match store_contents(&fs, pages, store.ino, &mut store.rendered) {
        Ok(()) => None,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            let pause = STORE_RETRIES.get(store.tries)?;
            store.tries += 1;
            store.due = std::time::Instant::now() + *pause;
            Some(store)
        }
        Err(e) => {
            log::debug!("prefilling inode {:#x}: {e}", store.ino);
            None
        }
    }
}

/// What the notifier thread needs of the adapter.
pub struct NotifierParts {
    fs: std::sync::Weak<ImageFs>,
    known: std::sync::Weak<Mutex<KnownFiles>>,
    pages: std::sync::Arc<std::sync::OnceLock<PageStore>>,
}

/// How long a handler waits for its invalidations before replying anyway (the kernel may
/// hold a lock the invalidation needs until this very request is answered).
const INVALIDATION_WAIT: Duration = Duration::from_millis(200);

/// How long the kernel may trust an entry or attribute when the backend has no change feed:
/// short, so changes made elsewhere (the cloud) show within about a second, yet long enough
/// that `ls -l` and `find` cost one request per directory, not one per file.
const TTL: Duration = Duration::from_secs(1);

/// How long the kernel may trust what it holds when the backend reports every change (the
/// local store): the watcher drops what changed within [`WATCH_INTERVAL`], so this only
/// bounds the damage should it ever miss something.
const WATCHED_TTL: Duration = Duration::from_secs(60);

/// How often the watcher asks the backend what changed, and looks at polled files.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(100);

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

/// Files the kernel was told about, so that all of them can be dropped when the change feed
/// loses track. An image's or instance's files are remembered by their directory (a listing
/// tells the kernel of all of them at once). Bounded: past the bound it starts over (and
/// says so in the log).
#[derive(Default)]
struct KnownFiles {
    /// Files, and directories standing for all their files.
    inodes: std::collections::HashSet<u64>,
    /// The last inode put in `inodes` (a listing's files follow one another).
    last: u64,
    overflowed: bool,
}

impl KnownFiles {
    /// Remembers that the kernel knows file `ino`.
    fn note(&mut self, ino: u64) {
        let key = match super::inode::Node::from_ino(ino) {
            Some(
                node @ (super::inode::Node::ImageFile(..) | super::inode::Node::InstanceFile(..)),
            ) => node.parent().ino(),
            _ => ino,
        };
        if key == self.last {
            return;
        }
        if self.inodes.len() >= KNOWN_FILES_MAX && !self.inodes.contains(&key) {
            self.inodes.clear();
            self.overflowed = true;
        }
        self.inodes.insert(key);
        self.last = key;
    }

    /// Every file remembered.
    fn files(&self) -> Vec<u64> {
        use super::inode::{ImageFile, InstanceFile, Node};
        let mut files = Vec::with_capacity(self.inodes.len());
        for &ino in &self.inodes {
            match Node::from_ino(ino) {
                Some(Node::ImageDir(r, kind, n)) => files.extend(
                    ImageFile::ALL
                        .into_iter()
                        .filter(|f| f.exists_for(kind))
                        .map(|f| Node::ImageFile(r, kind, n, f).ino()),
                ),
                Some(Node::InstanceDir(r, n)) => files.extend(
                    InstanceFile::ALL
                        .into_iter()
                        .map(|f| Node::InstanceFile(r, n, f).ino()),
                ),
                _ => files.push(ino),
            }
        }
        files
    }
}

/// Files and directories (standing for their files) remembered at most.
const KNOWN_FILES_MAX: usize = 200_000;

/// Drops what the kernel holds of things changed elsewhere and wakes pollers whose file
/// changed, from a thread of its own; ends when the filesystem is gone.
pub struct Watcher {
    fs: std::sync::Weak<ImageFs>,
    watches: std::sync::Weak<Watches>,
    notes: Sender<KernelNote>,
}

impl Watcher {
    pub fn run(self) {
        // Each batch is sent twice, a tick apart: a reply rendered just before a change may
        // reach the kernel just after the first invalidation.
        let mut previous: Vec<Invalidation> = Vec::new();
        loop {
            std::thread::sleep(WATCH_INTERVAL);
            let (Some(fs), Some(watches)) = (self.fs.upgrade(), self.watches.upgrade()) else {
                return;
            };
            let current = match fs.changes() {
                Ok(invalidations) => invalidations,
                Err(e) => {
                    log::warn!("reading the store's changes: {e}");
                    Vec::new()
                }
            };
            let mut batch = std::mem::replace(&mut previous, current.clone());
            batch.retain(|i| *i != Invalidation::Everything);
            batch.extend(current);
            if !batch.is_empty() && self.notes.send(KernelNote::Apply(batch)).is_err() {
                return;
            }
            let pending: Vec<(u64, fuser::PollNotifier)> =
                std::mem::take(&mut *watches.lock().unwrap_or_else(|p| p.into_inner()));
            let mut still = Vec::new();
            for (ino, poller) in pending {
                // Changed, or gone: either way the poller wakes.
                match fs.changed_since_seen(ino) {
                    Ok(false) => still.push((ino, poller)),
                    _ => {
                        if let Err(e) = poller.notify() {
                            log::debug!("poll notification for inode {ino:#x}: {e}");
                        }
                    }
                }
            }
            watches
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(still);
        }
    }
}

/// Has the kernel drop what it holds of an inode. For a file, its attributes: the next read
/// then asks for them, and a new mtime (the contents' version) drops the pages, without
/// waiting for a page a write in progress holds locked. For a directory, its cached listing
/// too. ENOENT means the kernel held nothing of it.
fn drop_inode(notifier: &fuser::Notifier, ino: u64) {
    let pages = if super::inode::Node::from_ino(ino).is_some_and(|n| n.is_dir()) {
        0
    } else {
        -1
    };
    if let Err(e) = notifier.inval_inode(INodeNo(ino), pages, 0) {
        log::debug!("invalidating inode {ino:#x}: {e}");
    }
}

/// Tells the kernel to drop one thing.
fn apply(notifier: &fuser::Notifier, known: &Mutex<KnownFiles>, invalidation: Invalidation) {
    let result = match invalidation {
        Invalidation::Inode(ino) => {
            drop_inode(notifier, ino);
            Ok(())
        }
        Invalidation::Entry { parent, name } => {
            notifier.inval_entry(INodeNo(parent), name.as_ref())
        }
        Invalidation::Everything => {
            let inodes: Vec<u64> = {
                let known = known.lock().unwrap_or_else(|p| p.into_inner());
                if known.overflowed {
                    log::warn!(
                        "the store changed too much to follow; files read before may show old contents for up to {}s",
                        WATCHED_TTL.as_secs()
                    );
                }
                known.files()
            };
            for ino in inodes {
                drop_inode(notifier, ino);
            }
            Ok(())
        }
    };
    if let Err(e) = result {
        log::debug!("invalidation: {e}");
    }
}

/// Pollers waiting for a file's contents to change: inode -> who to tell.
type Watches = Mutex<Vec<(u64, fuser::PollNotifier)>>;

pub struct FuseAdapter {
    fs: std::sync::Arc<ImageFs>,
    watches: std::sync::Arc<Watches>,
    known: std::sync::Arc<Mutex<KnownFiles>>,
    /// Attribute TTL of files, and entry TTL of images and instances: long when the backend
    /// reports every change, else short (files: none, so every read checks the size).
    file_ttl: Duration,
    entry_ttl: Duration,
    counts: std::sync::Arc<RequestCounts>,
    /// Files of directories being listed, to store in the kernel once the listing is read
    /// (see `readdirplus`).
    listed: Mutex<std::collections::HashMap<u64, FileContents>>,
    /// Hands contents to the kernel (set once the session exists).
    pages: std::sync::Arc<std::sync::OnceLock<PageStore>>,
    /// Handlers storing contents in the kernel right now (see [`DIRECT_STORERS_MAX`]).
    direct_storers: std::sync::atomic::AtomicUsize,
    uid: u32,
    gid: u32,
    /// Where handlers send the inodes a command made stale (a thread of its own, so a
    /// handler never waits behind the watcher's work).
    drops: Mutex<Option<Sender<KernelNote>>>,
    /// Inodes whose cached attributes a command made stale, for the invalidation thread
    /// (notifying the kernel from a request handler could deadlock).
    stale: Mutex<Option<Sender<KernelNote>>>,
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
        drops: Sender<KernelNote>,
        stale: Sender<KernelNote>,
        counts: std::sync::Arc<RequestCounts>,
    ) -> FuseAdapter {
        let watched = fs.watches_changes();
        let fs = std::sync::Arc::new(fs);
        FuseAdapter {
            fs,
            watches: std::sync::Arc::new(Mutex::new(Vec::new())),
            known: std::sync::Arc::new(Mutex::new(KnownFiles::default())),
            file_ttl: if watched { WATCHED_TTL } else { Duration::ZERO },
            entry_ttl: if watched { WATCHED_TTL } else { TTL },
            counts,
            listed: Mutex::new(std::collections::HashMap::new()),
            pages: Default::default(),
            direct_storers: Default::default(),
            uid,
            gid,
            drops: Mutex::new(Some(drops)),
            stale: Mutex::new(Some(stale)),
        }
    }

    /// The thread that keeps the kernel's caches in step with the backend (run it with a
    /// notifier of the session).
    pub fn watcher(&self) -> Option<Watcher> {
        let notes = self
            .stale
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        Some(Watcher {
            fs: std::sync::Arc::downgrade(&self.fs),
            watches: std::sync::Arc::downgrade(&self.watches),
            notes,
        })
    }

    /// What the notifier thread needs (see [`run_notifier`]).
    pub fn notifier_parts(&self) -> NotifierParts {
        NotifierParts {
            fs: std::sync::Arc::downgrade(&self.fs),
            known: std::sync::Arc::downgrade(&self.known),
            pages: self.pages.clone(),
        }
    }

    /// Where the session's [`PageStore`] goes once the session exists.
    /// The filesystem, for what the daemon logs about it (held weakly: it goes with the
    /// session).
    pub fn filesystem(&self) -> std::sync::Weak<ImageFs> {
        std::sync::Arc::downgrade(&self.fs)
    }

    pub fn page_store(&self) -> std::sync::Arc<std::sync::OnceLock<PageStore>> {
        self.pages.clone()
    }

    /// Hands the kernel the contents of files it is about to read (found by a lookup or
    /// listed with their image), so the read needs no request. Only with a change feed,
    /// which drops them again when they change.
    fn prefill(&self, inodes: FileContents) {
        if inodes.is_empty() || !self.fs.watches_changes() {
            return;
        }
        let sender = self.stale.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = sender.as_ref() {
            let _ = sender.send(KernelNote::Prefill(inodes));
        }
    }

    /// Stores files' contents in the kernel from this handler, unless too many handlers
    /// are doing so already (then they are handed back).
    fn store_now(&self, files: FileContents) -> Option<FileContents> {
        use std::sync::atomic::Ordering;
        if !self.fs.watches_changes() {
            return None;
        }
        let Some(pages) = self.pages.get() else {
            return Some(files);
        };
        let taken = self
            .direct_storers
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < DIRECT_STORERS_MAX).then_some(n + 1)
            })
            .is_ok();
        if !taken {
            return Some(files);
        }
        for (ino, mut rendered) in files {
            if let Err(e) = store_contents(&self.fs, pages, ino, &mut rendered) {
                log::debug!("storing inode {ino:#x}: {e}");
            }
        }
        self.direct_storers.fetch_sub(1, Ordering::AcqRel);
        None
    }

    /// Has the kernel drop what it holds of `inodes` before the reply, so that a `stat` right
    /// after it sees the change. Files' attributes are dropped from here (that never waits on
    /// anything); directories' listings from the invalidation thread, waiting briefly for it
    /// (dropping pages from a request handler could deadlock).
    fn invalidate(&self, inodes: Vec<u64>) {
        let inodes = match self.pages.get() {
            Some(pages) => {
                let (dirs, files): (Vec<u64>, Vec<u64>) = inodes.into_iter().partition(|&ino| {
                    super::inode::Node::from_ino(ino).is_some_and(|n| n.is_dir())
                });
                for ino in files {
                    drop_inode(&pages.notifier, ino);
                }
                dirs
            }
            None => inodes,
        };
        if inodes.is_empty() {
            return;
        }
        let (done, wait) = std::sync::mpsc::sync_channel(1);
        let sent = {
            let sender = self.drops.lock().unwrap_or_else(|p| p.into_inner());
            sender
                .as_ref()
                .map(|s| s.send(KernelNote::Drop(inodes, done)).is_ok())
        };
        if sent == Some(true) {
            let _ = wait.recv_timeout(INVALIDATION_WAIT);
        }
    }

    fn file_attr(&self, attr: &Attr) -> FileAttr {
        if attr.kind == EntryKind::File {
            // Every attribute reply passes here: the kernel now knows this file.
            self.known
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .note(attr.ino);
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
            Ok(node) => {
                let error = self.fs.refuse(operation, node, name);
                self.errors_changed();
                errno(&error)
            }
            Err(e) => errno(&e),
        }
    }

    /// A refusal was recorded: `errors` shows it to the next reader.
    fn errors_changed(&self) {
        self.invalidate(vec![super::inode::Node::Errors.ino()]);
    }

    /// Attribute TTL of a node.
    fn attr_ttl(&self, attr: &Attr) -> Duration {
        match attr.kind {
            EntryKind::File => self.file_ttl,
            _ => self.entry_ttl.max(TTL),
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
                // Links are named after images, and a rename elsewhere is not followed.
                let link = matches!(
                    super::inode::Node::from_ino(attr.ino),
                    Some(super::inode::Node::NameLink(..))
                );
                let entry_ttl = if link {
                    TTL
                } else if comes_and_goes {
                    self.entry_ttl
                } else {
                    FIXED_ENTRY_TTL.max(self.entry_ttl)
                };
                let attr_ttl = self.attr_ttl(&attr);
                reply.entry_with_ttls(&attr_ttl, &entry_ttl, &self.file_attr(&attr), Generation(0))
            }
            Err(e) => reply.error(errno(&e)),
        }
    }
}

impl Filesystem for FuseAdapter {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Readdirplus returns attributes with the listing (no LOOKUP per entry for `ls -l`);
        // parallel dirops lets lookups in one directory proceed together; with auto-inval-data
        // the kernel drops a file's cached pages when its size or mtime changes (the mtime
        // carries a version of the contents). No atomic O_TRUNC: files are never opened here
        // (see `open`), and the kernel would then truncate its cached copy on its own; without
        // it, `echo >` sends a truncating SETATTR, which refuses read-only files at open.
        for flag in [
            InitFlags::FUSE_DO_READDIRPLUS,
            InitFlags::FUSE_PARALLEL_DIROPS,
            InitFlags::FUSE_AUTO_INVAL_DATA,
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
        self.drops.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.counts.count("lookup");
        let (result, prefill) = match self.fs.lookup_with_content(parent.0, name) {
            Ok((attr, content)) if prefillable(&attr) => (Ok(attr), Some((attr.ino, content))),
            Ok((attr, _)) => (Ok(attr), None),
            Err(e) => (Err(e), None),
        };
        self.reply_entry(result, reply);
        self.prefill(prefill.into_iter().collect());
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        self.counts.count("getattr");
        match self.fs.getattr(ino.0) {
            Ok(attr) => reply.attr(&self.attr_ttl(&attr), &self.file_attr(&attr)),
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
            // Truncating is what opening for writing does (`echo > file`).
            let operation = if size == Some(0) { "write" } else { "setattr" };
            reply.error(self.refuse(operation, ino, None));
            return;
        }
        // Truncating a control file (`echo >`) changes nothing: the write that follows is
        // the command. The reply shows the file as it is, trusted for the usual TTL: the
        // `open` of the next `echo >` then needs no GETATTR to check permissions (and the
        // write's reply makes the kernel ask for the size before the next read).
        match self.fs.getattr(ino.0) {
            Ok(attr) => reply.attr(&self.attr_ttl(&attr), &self.file_attr(&attr)),
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
            Err(e) => {
                self.errors_changed();
                reply.error(errno(&e))
            }
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

    /// Files are not opened: ENOSYS makes the kernel stop sending OPEN, RELEASE and (with
    /// `flush` below) FLUSH, and read through its page cache, which it keeps across opens.
    /// That cache stays exact because every change drops it: commands (see `write`), the
    /// watcher (changes made elsewhere), and the mtime that carries the contents' version.
    fn open(&self, _req: &Request, _ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        self.counts.count("open");
        reply.error(Errno::ENOSYS);
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        self.counts.count("read");
        match self.fs.read(ino.0, offset, size) {
            Ok(data) => reply.data(&data),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn write(
        &self,
        req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
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
        match self.fs.write(ino.0, data, &caller) {
            Ok(mut stale) => {
                // Not the written file itself: the kernel drops its attributes when the write
                // completes (its new mtime then drops the page the write went through), so
                // waiting for that here would only slow every command down.
                stale.retain(|&i| i != ino.0);
                self.invalidate(stale);
                reply.written(u32::try_from(data.len()).unwrap_or(u32::MAX));
            }
            Err(e) => {
                self.errors_changed();
                reply.error(errno(&e))
            }
        }
    }

    /// Nothing happens at close: ENOSYS makes the kernel stop sending FLUSH.
    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        self.counts.count("other");
        reply.error(Errno::ENOSYS);
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.counts.count("release");
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

    /// With a change feed, directories are not opened either: the kernel then keeps their
    /// listings in its cache (FOPEN_CACHE_DIR), dropped with the directory's inode whenever
    /// a listing changes. Without one, each opendir takes a fresh listing.
    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        self.counts.count("opendir");
        if self.fs.watches_changes() {
            return reply.error(Errno::ENOSYS);
        }
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
        let entries = match self.fs.dir_page(ino.0, fh.0, offset) {
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
        for (cookie, entry) in &entries {
            let kind = match entry.attr.kind {
                EntryKind::Directory => FileType::Directory,
                EntryKind::File => FileType::RegularFile,
                EntryKind::Symlink => FileType::Symlink,
            };
            if reply.add(INodeNo(entry.attr.ino), *cookie, kind, &entry.name) {
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
        let entries = match self.fs.dir_page(ino.0, fh.0, offset) {
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
                    &self.attr_ttl(&attr),
                    &self.file_attr(&attr),
                    Generation(0),
                ) {
                    return reply.ok();
                }
            }
        }
        // An image's or instance's files are listed to be read (`grep -r`, `find | xargs cat`).
        let prefill_listed = matches!(
            self.fs.node_of(ino.0),
            Ok(super::inode::Node::ImageDir(..) | super::inode::Node::InstanceDir(..))
        );
        if entries.is_empty() && start >= 2 {
            // The reader has taken in the listing (it asks past its end). Answering first
            // lets it go on at once; then, for an image's or instance's directory, its
            // files' contents are stored (the kernel knows them now) while it opens them,
            // faster than it reads them (a file it reaches first is read with a request).
            let listed = if prefill_listed {
                self.listed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&ino.0)
            } else {
                None
            };
            reply.ok();
            if let Some(listed) = listed {
                if let Some(listed) = self.store_now(listed) {
                    self.prefill(listed);
                }
            }
            self.fs.end_pass(ino.0);
            // While the reader reads the files, list the directory it goes to next.
            self.fs.prepare_following(ino.0);
            return;
        }
        let mut prefill = Vec::new();
        for (cookie, entry) in &entries {
            // One TTL for name and attributes: links follow renames within a second.
            let ttl = if entry.attr.kind == EntryKind::Symlink {
                TTL
            } else {
                self.attr_ttl(&entry.attr)
            };
            if reply.add(
                INodeNo(entry.attr.ino),
                *cookie,
                &entry.name,
                &ttl,
                &self.file_attr(&entry.attr),
                Generation(0),
            ) {
                break;
            }
            if prefill_listed && prefillable(&entry.attr) {
                prefill.push((entry.attr.ino, entry.content.clone()));
            }
        }
        if !prefill.is_empty() && self.fs.watches_changes() {
            let mut listed = self.listed.lock().unwrap_or_else(|p| p.into_inner());
            if listed.len() >= LISTED_MAX {
                listed.clear();
            }
            listed.entry(ino.0).or_default().extend(prefill);
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
        if fh.0 != 0 {
            self.fs.releasedir(fh.0);
        }
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

    /// Files are always readable (POLLIN); POLLPRI says the contents changed since a reader
    /// last saw them (sysfs's convention), e.g. a `state` that moved on. Until then the
    /// poller is woken by the watcher thread when they do.
    fn poll(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        ph: fuser::PollNotifier,
        _events: fuser::PollEvents,
        _flags: fuser::PollFlags,
        reply: fuser::ReplyPoll,
    ) {
        self.counts.count("other");
        match self.fs.changed_since_seen(ino.0) {
            Ok(true) => reply.poll(fuser::PollEvents::POLLIN | fuser::PollEvents::POLLPRI),
            Ok(false) => {
                let mut watches = self.watches.lock().unwrap_or_else(|p| p.into_inner());
                watches.retain(|(_, other)| other.handle().0 != ph.handle().0);
                watches.push((ino.0, ph));
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::fs::inode::{ImageFile, InstanceFile, Node, RegionFile};
    use crate::model::ImageKind;

    #[test]
    fn known_files_stand_for_their_directory_and_all_come_back() {
        let mut known = KnownFiles::default();
        let custom = |f| Node::ImageFile(0, ImageKind::Custom, 7, f).ino();
        // A listing tells the kernel of an image's files one after another: one entry.
        for f in ImageFile::ALL {
            known.note(custom(f));
        }
        assert_eq!(known.inodes.len(), 1);
        known.note(Node::ImageFile(1, ImageKind::Public, 9, ImageFile::State).ino());
        known.note(Node::InstanceFile(0, 3, InstanceFile::State).ino());
        known.note(Node::RegionFile(0, RegionFile::QuotaJson).ino());
        known.note(custom(ImageFile::Name));
        assert_eq!(known.inodes.len(), 4);

        let files: BTreeSet<u64> = known.files().into_iter().collect();
        let mut expected: BTreeSet<u64> = ImageFile::ALL.into_iter().map(custom).collect();
        expected.extend(
            ImageFile::ALL
                .into_iter()
                .filter(|f| f.exists_for(ImageKind::Public))
                .map(|f| Node::ImageFile(1, ImageKind::Public, 9, f).ino()),
        );
        expected.extend(
            InstanceFile::ALL
                .into_iter()
                .map(|f| Node::InstanceFile(0, 3, f).ino()),
        );
        expected.insert(Node::RegionFile(0, RegionFile::QuotaJson).ino());
        assert_eq!(files, expected);
    }

    #[test]
    fn known_files_start_over_past_their_bound() {
        let mut known = KnownFiles::default();
        for n in 0..=KNOWN_FILES_MAX as u64 {
            known.note(Node::ImageFile(0, ImageKind::Custom, n, ImageFile::Name).ino());
        }
        assert!(known.overflowed);
        assert_eq!(known.inodes.len(), 1);
    }
}
