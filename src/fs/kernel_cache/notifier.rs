//! The notifier thread: tells the kernel what to drop, and hands it files' contents.

use std::sync::mpsc::SyncSender;
use std::sync::Mutex;
use std::time::Duration;

use fuser::INodeNo;

use super::known_files::KnownFiles;
use super::pages::{store_contents, PageStore};
use super::{FileContents, WATCHED_TTL};
use crate::fs::core::{ImageFs, Invalidation};
use crate::fs::inode::Node;

/// What the notifier thread tells the kernel, in order: one thread, so a prefill rendered
/// before a change never lands after the invalidation of that change.
pub enum KernelNote {
    /// Drop the attributes and pages of these inodes and these names, then tell the waiting
    /// handler.
    Drop(Vec<Invalidation>, SyncSender<()>),
    /// Changes made elsewhere, from the watcher.
    Apply(Vec<Invalidation>),
    /// Hand the kernel these files' contents, which it is about to read (with contents
    /// rendered in an epoch, used if no change came since).
    Prefill(FileContents),
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
    rendered: Option<crate::fs::core::Rendered>,
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

/// What the notifier thread needs of the adapter.
pub struct NotifierParts {
    pub(super) fs: std::sync::Weak<ImageFs>,
    pub(super) known: std::sync::Weak<Mutex<KnownFiles>>,
    pub(super) pages: std::sync::Arc<std::sync::OnceLock<PageStore>>,
}

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
            Some(KernelNote::Drop(invalidations, done)) => {
                if let Some(known) = parts.known.upgrade() {
                    for invalidation in invalidations {
                        apply(&notifier, &known, invalidation);
                    }
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

/// Has the kernel drop what it holds of an inode. For a file, its attributes: the next read
/// then asks for them, and a new mtime (the contents' version) drops the pages, without
/// waiting for a page a write in progress holds locked. For a directory, its cached listing
/// too. ENOENT means the kernel held nothing of it.
pub(super) fn drop_inode(notifier: &fuser::Notifier, ino: u64) {
    let pages = if Node::from_ino(ino).is_some_and(|n| n.is_dir()) {
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
