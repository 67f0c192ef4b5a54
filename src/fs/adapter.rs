//! The FUSE adapter: translates kernel requests into [`ImageFs`] calls, and their results
//! into replies (attributes, TTLs, errno). No filesystem logic lives here, and what keeps the
//! kernel's caches exact and warm is in [`super::kernel_cache`].

use std::ffi::OsStr;
use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fuser::{
    AccessFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation,
    INodeNo, InitFlags, KernelConfig, LockOwner, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory,
    ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr,
    Request, TimeOrNow, WriteFlags,
};

use super::core::{Attr, DirEntry, EntryKind, ImageFs, Written};
use super::inode::{view_serial, Node};
use super::kernel_cache::{prefillable, KernelCache, FIXED_ENTRY_TTL, TTL, WATCHED_TTL};
use crate::error::Error;
use crate::service::Caller;

pub use super::kernel_cache::{
    run_notifier, KernelNote, NotifierParts, PageStore, Watcher, WATCH_INTERVAL,
};
pub use super::request_counts::RequestCounts;

pub struct FuseAdapter {
    fs: Arc<ImageFs>,
    cache: KernelCache,
    /// Attribute TTL of files, and entry TTL of images and instances: long when the backend
    /// reports every change, else short (files: none, so every read checks the size).
    file_ttl: Duration,
    entry_ttl: Duration,
    counts: Arc<RequestCounts>,
    uid: u32,
    gid: u32,
}

fn errno(e: &Error) -> Errno {
    Errno::from_i32(e.errno())
}

/// Who made a request, for the commands that record it.
fn caller(req: &Request) -> Caller {
    Caller {
        uid: req.uid(),
        gid: req.gid(),
        pid: req.pid(),
    }
}

fn file_type(kind: EntryKind) -> FileType {
    match kind {
        EntryKind::Directory => FileType::Directory,
        EntryKind::File => FileType::RegularFile,
        EntryKind::Symlink => FileType::Symlink,
    }
}

impl FuseAdapter {
    /// Files and directories belong to the mounting user.
    pub fn new(
        fs: ImageFs,
        uid: u32,
        gid: u32,
        drops: Sender<KernelNote>,
        notes: Sender<KernelNote>,
        counts: Arc<RequestCounts>,
    ) -> FuseAdapter {
        let watched = fs.watches_changes();
        let fs = Arc::new(fs);
        FuseAdapter {
            cache: KernelCache::new(fs.clone(), drops, notes),
            fs,
            file_ttl: if watched { WATCHED_TTL } else { Duration::ZERO },
            entry_ttl: if watched { WATCHED_TTL } else { TTL },
            counts,
            uid,
            gid,
        }
    }

    /// The thread that keeps the kernel's caches in step with the backend (run it with a
    /// notifier of the session).
    pub fn watcher(&self) -> Option<Watcher> {
        self.cache.watcher()
    }

    /// What the notifier thread needs (see [`run_notifier`]).
    pub fn notifier_parts(&self) -> NotifierParts {
        self.cache.notifier_parts()
    }

    /// The filesystem, for what the daemon logs about it (held weakly: it goes with the
    /// session).
    pub fn filesystem(&self) -> std::sync::Weak<ImageFs> {
        Arc::downgrade(&self.fs)
    }

    /// Where the session's [`PageStore`] goes once the session exists.
    pub fn page_store(&self) -> Arc<std::sync::OnceLock<PageStore>> {
        self.cache.page_store()
    }

    fn file_attr(&self, attr: &Attr) -> FileAttr {
        // Every attribute reply passes here.
        self.cache.told_of(attr);
        let nlink = match attr.kind {
            EntryKind::Directory => 2,
            EntryKind::File | EntryKind::Symlink => 1,
        };
        FileAttr {
            ino: INodeNo(attr.ino),
            size: attr.size,
            blocks: attr.size.div_ceil(512),
            atime: attr.mtime,
            mtime: attr.mtime,
            ctime: attr.mtime,
            crtime: attr.mtime,
            kind: file_type(attr.kind),
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
        self.cache.invalidate(vec![Node::Errors.ino()], Vec::new());
    }

    /// Attribute TTL of a node.
    fn attr_ttl(&self, attr: &Attr) -> Duration {
        match attr.kind {
            EntryKind::File => self.file_ttl,
            EntryKind::Directory | EntryKind::Symlink => self.entry_ttl.max(TTL),
        }
    }

    /// How long the kernel may trust that the name of node `ino` exists.
    fn entry_ttl(&self, ino: u64) -> Duration {
        if view_serial(ino).is_some() {
            // Looked up again on every path walk: each thread finds its own view.
            return Duration::ZERO;
        }
        match Node::from_ino(ino) {
            // A family's link is looked up afresh on every path walk: it follows the family
            // as images are made, deprecated and deleted.
            Some(Node::FamilyLink(..)) => Duration::ZERO,
            // Links are named after images, and a rename elsewhere is not followed. An
            // instance's name is a link or a directory as launches and terminations make it
            // unique or shared: the change feed drops the entry when it changes kind (see
            // `instance_links_changed`), and this bounds the rest.
            Some(
                Node::NameLink(..)
                | Node::InstanceNameLink(..)
                | Node::InstanceNameDir(..)
                | Node::InstanceNameDirLink(..),
            ) => TTL,
            // Images and instances come and go.
            Some(Node::ImageDir(..) | Node::InstanceDir(..)) => self.entry_ttl,
            // Every other name is fixed by its parent.
            Some(
                Node::Root
                | Node::AccountJson
                | Node::Errors
                | Node::Regions
                | Node::Region(_)
                | Node::RegionFile(..)
                | Node::KindDir(..)
                | Node::ImageFile(..)
                | Node::InstancesDir(_)
                | Node::InstanceFile(..)
                | Node::ByName(_)
                | Node::ByNameKind(..)
                | Node::Families(_)
                | Node::InstancesByName(_),
            )
            | None => FIXED_ENTRY_TTL.max(self.entry_ttl),
        }
    }

    fn reply_entry(&self, result: crate::error::Result<Attr>, reply: ReplyEntry) {
        match result {
            Ok(attr) => {
                let entry_ttl = self.entry_ttl(attr.ino);
                let attr_ttl = self.attr_ttl(&attr);
                reply.entry_with_ttls(&attr_ttl, &entry_ttl, &self.file_attr(&attr), Generation(0))
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn reply_attr(&self, result: crate::error::Result<Attr>, reply: ReplyAttr) {
        match result {
            Ok(attr) => reply.attr(&self.attr_ttl(&attr), &self.file_attr(&attr)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    /// The inode of `..` in directory `ino`.
    fn parent_ino(&self, ino: u64) -> u64 {
        self.fs.node_of(ino).map(|n| n.parent().ino()).unwrap_or(1)
    }

    /// Fills a readdir reply from `offset` (1 and 2 are `.` and `..`, entry i is i + 3).
    fn fill_dir(
        &self,
        reply: &mut ReplyDirectory,
        ino: u64,
        offset: u64,
        entries: &[(u64, DirEntry)],
    ) {
        let dots = [(ino, "."), (self.parent_ino(ino), "..")];
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        for (i, (dot_ino, name)) in dots.iter().enumerate().skip(start) {
            if reply.add(INodeNo(*dot_ino), (i + 1) as u64, FileType::Directory, name) {
                return;
            }
        }
        for (cookie, entry) in entries {
            let kind = file_type(entry.attr.kind);
            if reply.add(INodeNo(entry.attr.ino), *cookie, kind, &entry.name) {
                break;
            }
        }
    }

    /// Fills a readdirplus reply from `offset`, like [`FuseAdapter::fill_dir`], with the
    /// attributes; the files of an image's or instance's directory are kept to be stored in
    /// the kernel once the reader has taken the listing in.
    fn fill_dir_plus(
        &self,
        reply: &mut ReplyDirectoryPlus,
        ino: u64,
        offset: u64,
        entries: &[(u64, DirEntry)],
    ) -> Result<(), Errno> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        if start < 2 && self.add_dots_plus(reply, ino, start)? {
            return Ok(());
        }
        let keep_listed = self.cache.keeps_listed(ino);
        let mut listed = Vec::new();
        for (cookie, entry) in entries {
            // One TTL for name and attributes: links follow renames within a second, and a
            // family's link is looked up on every walk.
            let ttl = if matches!(Node::from_ino(entry.attr.ino), Some(Node::FamilyLink(..))) {
                Duration::ZERO
            } else if entry.attr.kind == EntryKind::Symlink {
                TTL
            } else if self.fs.shows_views(entry.attr.ino) {
                // Its lookups find views: the name must not be taken from the listing.
                Duration::ZERO
            } else {
                self.attr_ttl(&entry.attr)
            };
            let attr = self.file_attr(&entry.attr);
            let name = &entry.name;
            if reply.add(
                INodeNo(entry.attr.ino),
                *cookie,
                name,
                &ttl,
                &attr,
                Generation(0),
            ) {
                break;
            }
            if keep_listed && prefillable(&entry.attr) {
                listed.push((entry.attr.ino, entry.content.clone()));
            }
        }
        self.cache.keep_listed(ino, listed);
        Ok(())
    }

    /// Adds `.` and `..` from `start` to a readdirplus reply; `true` when it is full.
    fn add_dots_plus(
        &self,
        reply: &mut ReplyDirectoryPlus,
        ino: u64,
        start: usize,
    ) -> Result<bool, Errno> {
        let dots = [(ino, "."), (self.parent_ino(ino), "..")];
        for (i, (dot_ino, name)) in dots.iter().enumerate().skip(start) {
            let attr = self.fs.getattr(*dot_ino).map_err(|e| errno(&e))?;
            let ttl = self.attr_ttl(&attr);
            let cookie = (i + 1) as u64;
            let file_attr = self.file_attr(&attr);
            if reply.add(
                INodeNo(*dot_ino),
                cookie,
                name,
                &ttl,
                &file_attr,
                Generation(0),
            ) {
                return Ok(true);
            }
        }
        Ok(false)
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

    /// Only views are counted (see `ImageFs::forget`): every other inode number names its
    /// node for the life of the mount.
    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.fs.forget(ino.0, nlookup);
    }

    fn destroy(&mut self) {
        // Ends the invalidation thread.
        self.cache.close();
    }

    fn lookup(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.counts.count("lookup");
        let found = self
            .fs
            .lookup_with_content(parent.0, name, Some(&caller(req)));
        let (result, prefill) = match found {
            Ok((attr, content)) if prefillable(&attr) => (Ok(attr), Some((attr.ino, content))),
            Ok((attr, _)) => (Ok(attr), None),
            Err(e) => (Err(e), None),
        };
        self.reply_entry(result, reply);
        self.cache.prefill(prefill.into_iter().collect());
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        self.counts.count("getattr");
        self.reply_attr(self.fs.getattr(ino.0), reply);
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
        self.reply_attr(self.fs.getattr(ino.0), reply);
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
        // Nothing in the tree is removed by `rm`; a by-name link's refusal says how to delete
        // its image (src/fs/core/refusals.rs).
        reply.error(self.refuse("unlink", parent, Some(name)));
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.fs.rmdir(parent.0, name) {
            Ok(stale) => {
                self.cache.invalidate(stale, Vec::new());
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
    /// The kernel stops sending OPEN for every file of the mount at once, so control files
    /// cannot have direct I/O (an OPEN reply's flag) without an OPEN and a RELEASE for every
    /// `cat` of any file: their outcomes are shown through views instead (`core::views`).
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
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        self.counts.count("write");
        match self.fs.write_at(ino.0, data, offset, &caller(req)) {
            Ok(Written { mut stale, names }) => {
                // Not the written file itself: the kernel drops its attributes when the write
                // completes (its new mtime then drops the page the write went through), so
                // waiting for that here would only slow every command down.
                stale.retain(|&i| i != ino.0);
                self.cache.invalidate(stale, names);
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
        match self.fs.dir_page(ino.0, fh.0, offset) {
            Ok(entries) => {
                self.fill_dir(&mut reply, ino.0, offset, &entries);
                reply.ok();
            }
            Err(e) => reply.error(errno(&e)),
        }
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
            Ok(entries) => entries,
            Err(e) => return reply.error(errno(&e)),
        };
        if entries.is_empty() && offset >= 2 {
            // The reader has taken in the listing (it asks past its end): answered first,
            // so that it goes on at once.
            let listed = self.cache.take_listed(ino.0);
            reply.ok();
            return self.cache.listing_taken_in(ino.0, listed);
        }
        match self.fill_dir_plus(&mut reply, ino.0, offset, &entries) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
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
                self.cache.watch(ino.0, ph);
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
