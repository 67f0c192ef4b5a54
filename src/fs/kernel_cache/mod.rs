//! Keeping the kernel's caches exact, and warm: how long it may trust what it is told, the
//! inodes it must drop after a command or a change made elsewhere (the watcher thread and
//! the notifier thread), and the files' contents handed to it before it reads them
//! (prefill, through the [`PageStore`]).

mod known_files;
mod notifier;
mod pages;
mod watcher;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

pub use notifier::{run_notifier, KernelNote, NotifierParts};
pub(crate) use pages::prefillable;
pub use pages::PageStore;
pub use watcher::{Watcher, WATCH_INTERVAL};

use known_files::KnownFiles;
use notifier::drop_inode;
use pages::store_contents;

use super::core::{Attr, EntryKind, ImageFs, Invalidation, Rendered};
use super::inode::{view_serial, Node};

/// How long the kernel may trust that a name exists, for names that exist as long as their
/// directory does (the files of an image, the kinds of a region, the regions): the directory's
/// own short TTL still makes a vanished image disappear within a second.
pub(crate) const FIXED_ENTRY_TTL: Duration = Duration::from_secs(3600);

/// How long the kernel may trust an entry or attribute when the backend has no change feed:
/// short, so changes made elsewhere (the cloud) show within about a second, yet long enough
/// that `ls -l` and `find` cost one request per directory, not one per file.
pub(crate) const TTL: Duration = Duration::from_secs(1);

/// How long the kernel may trust what it holds when the backend reports every change (the
/// local store): the watcher drops what changed within [`WATCH_INTERVAL`], so this only
/// bounds the damage should it ever miss something.
pub(crate) const WATCHED_TTL: Duration = Duration::from_secs(60);

/// How long a handler waits for its invalidations before replying anyway (the kernel may
/// hold a lock the invalidation needs until this very request is answered).
const INVALIDATION_WAIT: Duration = Duration::from_millis(200);

/// Listings waiting for their end, at most: readers that stop before the end leave theirs
/// behind, and past this the table starts over.
const LISTED_MAX: usize = 1024;

/// Request handlers that may store contents in the kernel at once. A store waits for any
/// page of its file that a read in progress holds, and that read is answered by another
/// handler: one of the [`super::FUSE_THREADS`] is always left free for it.
const DIRECT_STORERS_MAX: usize = super::FUSE_THREADS - 1;

/// Files and, when already rendered, their contents.
pub(crate) type FileContents = Vec<(u64, Option<Rendered>)>;

/// Pollers waiting for a file's contents to change: inode -> who to tell.
type Watches = Mutex<Vec<(u64, fuser::PollNotifier)>>;

/// Whether a directory's files are listed to be read (`grep -r`, `find | xargs cat`): an
/// image's or an instance's.
fn files_listed_to_be_read(node: Node) -> bool {
    match node {
        Node::ImageDir(..) | Node::InstanceDir(..) => true,
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
        | Node::NameLink(..)
        | Node::Families(_)
        | Node::FamilyLink(..)
        | Node::InstancesByName(_)
        | Node::InstanceNameLink(..)
        | Node::InstanceNameDir(..)
        | Node::InstanceNameDirLink(..) => false,
    }
}

/// What the adapter keeps of the kernel's caches, and the way to the threads that act on
/// them.
pub(crate) struct KernelCache {
    fs: Arc<ImageFs>,
    watches: Arc<Watches>,
    known: Arc<Mutex<KnownFiles>>,
    /// Files of directories being listed, to store in the kernel once the listing is read
    /// (see [`KernelCache::keep_listed`]).
    listed: Mutex<HashMap<u64, FileContents>>,
    /// Hands contents to the kernel (set once the session exists).
    pages: Arc<OnceLock<PageStore>>,
    /// Handlers storing contents in the kernel right now (see [`DIRECT_STORERS_MAX`]).
    direct_storers: AtomicUsize,
    /// Where handlers send the inodes a command made stale (a thread of its own, so a
    /// handler never waits behind the watcher's work).
    drops: Mutex<Option<Sender<KernelNote>>>,
    /// Notes for the notifier thread: the watcher's changes to apply and files' contents to
    /// prefill (notifying the kernel from a request handler could deadlock).
    notes: Mutex<Option<Sender<KernelNote>>>,
}

impl KernelCache {
    pub(crate) fn new(
        fs: Arc<ImageFs>,
        drops: Sender<KernelNote>,
        notes: Sender<KernelNote>,
    ) -> KernelCache {
        KernelCache {
            fs,
            watches: Arc::new(Mutex::new(Vec::new())),
            known: Arc::new(Mutex::new(KnownFiles::default())),
            listed: Mutex::new(HashMap::new()),
            pages: Default::default(),
            direct_storers: Default::default(),
            drops: Mutex::new(Some(drops)),
            notes: Mutex::new(Some(notes)),
        }
    }

    /// The thread that keeps the kernel's caches in step with the backend (run it with a
    /// notifier of the session).
    pub(crate) fn watcher(&self) -> Option<Watcher> {
        let notes = self
            .notes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        Some(Watcher {
            fs: Arc::downgrade(&self.fs),
            watches: Arc::downgrade(&self.watches),
            notes,
        })
    }

    /// What the notifier thread needs (see [`run_notifier`]).
    pub(crate) fn notifier_parts(&self) -> NotifierParts {
        NotifierParts {
            fs: Arc::downgrade(&self.fs),
            known: Arc::downgrade(&self.known),
            pages: self.pages.clone(),
        }
    }

    /// Where the session's [`PageStore`] goes once the session exists.
    pub(crate) fn page_store(&self) -> Arc<OnceLock<PageStore>> {
        self.pages.clone()
    }

    /// Ends the invalidation threads (the session ends).
    pub(crate) fn close(&self) {
        self.notes.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.drops.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// An attribute reply names `attr`: the kernel now knows this file. (Not views: their
    /// contents never change but through their own writes.)
    pub(crate) fn told_of(&self, attr: &Attr) {
        if attr.kind == EntryKind::File && view_serial(attr.ino).is_none() {
            self.known
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .note(attr.ino);
        }
    }

    /// Has the watcher wake `poller` when file `ino` changes.
    pub(crate) fn watch(&self, ino: u64, poller: fuser::PollNotifier) {
        let mut watches = self.watches.lock().unwrap_or_else(|p| p.into_inner());
        watches.retain(|(_, other)| other.handle().0 != poller.handle().0);
        watches.push((ino, poller));
    }

    /// Hands the kernel the contents of files it is about to read (found by a lookup or
    /// listed with their image), so the read needs no request. Only with a change feed,
    /// which drops them again when they change.
    pub(crate) fn prefill(&self, inodes: FileContents) {
        if inodes.is_empty() || !self.fs.watches_changes() {
            return;
        }
        let sender = self.notes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = sender.as_ref() {
            let _ = sender.send(KernelNote::Prefill(inodes));
        }
    }

    /// Stores files' contents in the kernel from this handler, unless too many handlers
    /// are doing so already (then they are handed back).
    fn store_now(&self, files: FileContents) -> Option<FileContents> {
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

    /// Keeps the files of a listing's reply (those of an image's or instance's directory)
    /// to store in the kernel once the reader has taken the listing in.
    pub(crate) fn keep_listed(&self, ino: u64, files: FileContents) {
        if !files.is_empty() && self.fs.watches_changes() {
            let mut listed = self.listed.lock().unwrap_or_else(|p| p.into_inner());
            if listed.len() >= LISTED_MAX {
                listed.clear();
            }
            listed.entry(ino).or_default().extend(files);
        }
    }

    /// Whether the files of directory `ino` are kept from its listing (see
    /// [`KernelCache::keep_listed`]).
    pub(crate) fn keeps_listed(&self, ino: u64) -> bool {
        self.fs.node_of(ino).is_ok_and(files_listed_to_be_read)
    }

    /// The files kept from the listing of directory `ino`, taken before the reply that
    /// ends it (see [`KernelCache::listing_taken_in`]).
    pub(crate) fn take_listed(&self, ino: u64) -> Option<FileContents> {
        if self.keeps_listed(ino) {
            self.listed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&ino)
        } else {
            None
        }
    }

    /// The reader has taken in the listing of directory `ino` (it asked past its end, and
    /// was answered first so that it goes on at once). For an image's or instance's
    /// directory its files' contents are now stored (the kernel knows them now) while it
    /// opens them, faster than it reads them (a file it reaches first is read with a
    /// request). Then, while it reads the files, the directory it goes to next is listed.
    pub(crate) fn listing_taken_in(&self, ino: u64, listed: Option<FileContents>) {
        if let Some(listed) = listed {
            if let Some(listed) = self.store_now(listed) {
                self.prefill(listed);
            }
        }
        self.fs.end_pass(ino);
        self.fs.prepare_following(ino);
    }

    /// Has the kernel drop what it holds of `inodes`, and the names in `names` (directory,
    /// name), before the reply, so that a `stat` or a path walk right after it sees the
    /// change. Files' attributes are dropped from here (that never waits on anything);
    /// directories' listings and names from the invalidation thread, waiting briefly for it
    /// (dropping pages or names from a request handler could deadlock).
    pub(crate) fn invalidate(&self, inodes: Vec<u64>, names: Vec<(u64, String)>) {
        let inodes = match self.pages.get() {
            Some(pages) => {
                let (dirs, files): (Vec<u64>, Vec<u64>) = inodes
                    .into_iter()
                    .partition(|&ino| Node::from_ino(ino).is_some_and(|n| n.is_dir()));
                for ino in files {
                    drop_inode(&pages.notifier, ino);
                }
                dirs
            }
            None => inodes,
        };
        let mut invalidations: Vec<Invalidation> =
            inodes.into_iter().map(Invalidation::Inode).collect();
        invalidations.extend(
            names
                .into_iter()
                .map(|(parent, name)| Invalidation::Entry { parent, name }),
        );
        if invalidations.is_empty() {
            return;
        }
        let (done, wait) = std::sync::mpsc::sync_channel(1);
        let sent = {
            let sender = self.drops.lock().unwrap_or_else(|p| p.into_inner());
            sender
                .as_ref()
                .map(|s| s.send(KernelNote::Drop(invalidations, done)).is_ok())
        };
        if sent == Some(true) {
            let _ = wait.recv_timeout(INVALIDATION_WAIT);
        }
    }
}
