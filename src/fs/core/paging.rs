//! Directory paging: the listing a readdir request continues. An opened directory keeps the
//! listing taken at `opendir`; one read without opening keeps the listing taken at offset 0
//! for the rest of the pass; an image kind's directory, and with a change feed a
//! `by-name/<kind>/`, is read from the backend a page at a time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{lock, no_such, DirEntry, ImageFs};
use crate::error::{Code, Error, Result};
use crate::fs::inode::{image_id, Node};
use crate::model::ImageId;

/// Images read from the backend per readdir request of an image kind's directory: a little
/// more than one READDIRPLUS reply holds (about 190).
pub(super) const LISTING_PAGE: usize = 256;

/// Links named for one request of a `by-name/<kind>/` listing: about what the kernel's
/// 4 KiB readdirplus buffer holds (each link costs a look at the images sharing its name,
/// and what does not fit is named again for the next request).
pub(super) const LINK_PAGE: usize = 32;

/// How long a listing serves the rest of a readdir pass over an unopened directory.
const PASS_LIFETIME: Duration = Duration::from_secs(5);

/// Unopened directories whose listing is kept at once.
const PASSES_MAX: usize = 64;

/// A listing and when it was taken.
type Listing = (Instant, Arc<Vec<DirEntry>>);

/// The listings kept for the readdir requests that continue them.
pub(super) struct Paging {
    /// Directory listings taken at opendir, by handle.
    handles: Mutex<HashMap<u64, Arc<Vec<DirEntry>>>>,
    /// Listings of directories read without opening, by inode, for the pass under way.
    passes: Mutex<HashMap<u64, Listing>>,
    next_handle: AtomicU64,
}

impl Paging {
    pub(super) fn new() -> Self {
        Paging {
            handles: Mutex::new(HashMap::new()),
            passes: Mutex::new(HashMap::new()),
            next_handle: AtomicU64::new(1),
        }
    }
}

fn stale_handle() -> Error {
    Error::with_errno(Code::InvalidParameter, "unknown file handle", libc::EBADF)
}

/// The image a page of a kind's images starts after: the one whose cookie is `offset`
/// (none at the start).
pub(super) fn image_after(offset: u64) -> Result<Option<ImageId>> {
    offset
        .checked_sub(3)
        .map(|n| image_id(n).ok_or_else(|| no_such(format!("image #{n}"))))
        .transpose()
}

impl ImageFs {
    /// Opens a directory: its listing is taken now, so a `readdir` sequence is consistent.
    pub fn opendir(&self, ino: u64) -> Result<u64> {
        let entries = Arc::new(self.list(ino)?);
        let fh = self.paging.next_handle.fetch_add(1, Ordering::Relaxed);
        lock(&self.paging.handles).insert(fh, entries);
        Ok(fh)
    }

    /// The listing a readdir at `offset` continues: the one taken by `opendir`, or, for a
    /// directory read without opening (`fh` 0), one taken at offset 0 and kept for the
    /// following requests of the same pass.
    pub fn dir_entries(&self, ino: u64, fh: u64, offset: u64) -> Result<Arc<Vec<DirEntry>>> {
        if fh != 0 {
            return lock(&self.paging.handles)
                .get(&fh)
                .cloned()
                .ok_or_else(stale_handle);
        }
        if offset > 0 {
            if let Some((at, entries)) = lock(&self.paging.passes).get(&ino) {
                if at.elapsed() < PASS_LIFETIME {
                    return Ok(entries.clone());
                }
            }
        }
        let entries = match self.take_prepared(ino) {
            Some(entries) => entries,
            None => Arc::new(self.list(ino)?),
        };
        let mut passes = lock(&self.paging.passes);
        if passes.len() >= PASSES_MAX {
            passes.retain(|_, (at, _)| at.elapsed() < PASS_LIFETIME);
            if passes.len() >= PASSES_MAX {
                passes.clear();
            }
        }
        passes.insert(ino, (Instant::now(), entries.clone()));
        Ok(entries)
    }

    /// The entries of a directory that follow the readdir cookie `offset`, each with its
    /// own cookie (1 and 2 are `.` and `..`, so entries start at 3). An image kind's
    /// directory read without opening is read from the backend a page at a time, its cookies
    /// the ImageIds' numbers (+3): a directory of a million images is never held whole.
    /// Other directories continue the listing `dir_entries` keeps.
    pub fn dir_page(&self, ino: u64, fh: u64, offset: u64) -> Result<Vec<(u64, DirEntry)>> {
        if fh == 0 {
            match self.node(ino)? {
                Node::KindDir(r, kind) => return self.kind_page(r, kind, offset),
                Node::ByNameKind(r, kind) if self.watches_changes() => {
                    return self.links_page(r, kind, offset)
                }
                Node::Root
                | Node::AccountJson
                | Node::Errors
                | Node::Regions
                | Node::Region(_)
                | Node::RegionFile(..)
                | Node::ImageDir(..)
                | Node::ImageFile(..)
                | Node::InstancesDir(_)
                | Node::InstanceDir(..)
                | Node::InstanceFile(..)
                | Node::ByName(_)
                | Node::ByNameKind(..)
                | Node::NameLink(..)
                | Node::Families(_)
                | Node::FamilyLink(..)
                | Node::InstancesByName(_)
                | Node::InstanceNameLink(..)
                | Node::InstanceNameDir(..)
                | Node::InstanceNameDirLink(..) => {}
            }
        }
        let entries = self.dir_entries(ino, fh, offset)?;
        let skip = usize::try_from(offset.saturating_sub(2)).unwrap_or(usize::MAX);
        Ok(entries
            .iter()
            .enumerate()
            .skip(skip)
            .map(|(i, e)| (i as u64 + 3, e.clone()))
            .collect())
    }

    /// Ends the readdir pass over an unopened directory `ino` (its last request was
    /// answered): its listing is dropped by that request's handler, after the answer.
    pub fn end_pass(&self, ino: u64) {
        let listing = lock(&self.paging.passes).remove(&ino);
        drop(listing);
    }

    /// Forgets a directory handle.
    pub fn releasedir(&self, fh: u64) {
        lock(&self.paging.handles).remove(&fh);
    }
}
