//! The recent-record cache: records read from the backend serve the requests that follow
//! for a moment, and the epoch says whether contents rendered earlier are still the present.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::by_name::LinkTable;
use super::lock;
use crate::error::Result;
use crate::model::{AccountId, Image, ImageKind, Price};

/// How long a record read from the backend serves further requests. One `cat` or `ls -l`
/// makes several (lookup, getattr, open) that need the same record; well under the kernel's
/// one-second TTL, so changes made elsewhere still show within about a second.
pub(super) const RECENT: Duration = Duration::from_millis(500);

/// Records kept at most; past this the cache starts over (memory stays bounded).
pub(super) const RECENT_MAX: usize = 4096;

pub(super) type ImageKey = (u8, ImageKind, u64);

/// Records read within the last [`RECENT`], by key (an image, or a kind of images).
pub(super) struct Recent<V, K = ImageKey> {
    entries: Mutex<HashMap<K, (Instant, Arc<V>)>>,
    /// Bumped by every clear: a record loaded before a clear is not put back after it.
    generation: AtomicU64,
}

impl<V, K: std::hash::Hash + Eq> Recent<V, K> {
    fn new() -> Self {
        Recent {
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    pub(super) fn get_or(&self, key: K, load: impl FnOnce() -> Result<V>) -> Result<Arc<V>> {
        if let Some(value) = self.get(&key) {
            return Ok(value);
        }
        // Loaded without the lock held: a backend call never blocks other requests here.
        let generation = self.generation();
        let value = Arc::new(load()?);
        self.put(key, value.clone(), generation);
        Ok(value)
    }

    /// The record, if read recently.
    pub(super) fn get(&self, key: &K) -> Option<Arc<V>> {
        lock(&self.entries)
            .get(key)
            .filter(|(at, _)| at.elapsed() < RECENT)
            .map(|(_, value)| value.clone())
    }

    /// Where the cache stands before a record is loaded, for [`Recent::put`].
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps a record loaded when the cache stood at `generation`, unless something was
    /// forgotten since (the record may predate the change that caused it).
    pub(super) fn put(&self, key: K, value: Arc<V>, generation: u64) {
        let mut entries = lock(&self.entries);
        if self.generation.load(Ordering::Acquire) == generation {
            if entries.len() >= RECENT_MAX {
                entries.clear();
            }
            entries.insert(key, (Instant::now(), value));
        }
    }

    pub(super) fn forget(&self, key: &K) {
        let mut entries = lock(&self.entries);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(key);
    }

    pub(super) fn clear(&self) {
        let mut entries = lock(&self.entries);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

/// The records read recently, by kind of record, and the epoch of what was rendered from them.
pub(super) struct RecentRecords {
    /// `by-name` tables computed within the last [`RECENT`]: each lookup of a link would
    /// otherwise list the whole kind.
    pub(super) links: Recent<LinkTable, (u8, ImageKind)>,
    pub(super) images: Recent<Image>,
    pub(super) prices: Recent<Price>,
    /// Share lists of custom images read recently (forgotten by every share and unshare).
    pub(super) shares: Recent<Vec<AccountId>>,
    /// See [`super::ImageFs::epoch`].
    epoch: AtomicU64,
}

impl RecentRecords {
    pub(super) fn new() -> Self {
        RecentRecords {
            links: Recent::new(),
            epoch: AtomicU64::new(0),
            images: Recent::new(),
            prices: Recent::new(),
            shares: Recent::new(),
        }
    }

    pub(super) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Starts a new epoch. Called after the records a change affects are forgotten:
    /// contents rendered in the new epoch come from records read after the change.
    pub(super) fn next_epoch(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Forgets recently read records: after a command, every read shows its effect.
    pub(super) fn forget_all(&self) {
        self.images.clear();
        self.prices.clear();
        self.shares.clear();
        self.links.clear();
        self.next_epoch();
    }

    /// Forgets what was read of one image (its record, price and shares).
    pub(super) fn forget_image(&self, key: &ImageKey) {
        self.images.forget(key);
        self.prices.forget(key);
        self.shares.forget(key);
    }
}
