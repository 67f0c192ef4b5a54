//! Reading ahead of a reader that goes through a kind's images in order (a shell's glob,
//! `grep -r`, `find`): the images that follow a missed one are read with it, and the image
//! directory a reader goes to next is listed while it reads the files of this one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::recent::{ImageKey, RECENT, RECENT_MAX};
use super::{lock, no_such, DirEntry, ImageFs, PER_INODE_MAX};
use crate::error::Result;
use crate::fs::inode::Node;
use crate::model::{AccountId, Image, ImageId, ImageKind};

/// Images read with a missed one when misses come in order: enough to spare most reads of
/// a glob's lookups, few enough to cost little when the order was chance.
const READ_AHEAD: usize = 64;

/// How soon after the previous miss one counts as following it.
const IN_ORDER_WITHIN: Duration = Duration::from_millis(50);

/// Listings made ahead kept at once (the reader takes each within moments).
const PREPARED_MAX: usize = 16;

/// An image, with the accounts it is shared with when they were read with it.
type ImageAndShares = (Arc<Image>, Option<Vec<AccountId>>);

/// Where readers going through a kind in order are, and go next.
#[derive(Default)]
pub(super) struct ReadAhead {
    /// The last image missed in each kind's recent records, and when (see `in_order`).
    misses: Mutex<HashMap<(u8, ImageKind), (u64, Instant)>>,
    /// The image that follows each image of a kind in ImageId order, as last read: where a
    /// reader going through a kind's directories in order (`grep -r`, `find`) goes next.
    following: Mutex<HashMap<ImageKey, u64>>,
}

/// An image directory's listing made before the reader asked for it (see
/// [`ImageFs::prepare_following`]).
struct Prepared {
    made: Instant,
    /// [`ImageFs::cache_state`] before the listing was made: if it moved since, something
    /// the listing shows may have changed.
    state: [u64; 5],
    entries: Arc<Vec<DirEntry>>,
}

/// Image directories listed before the reader asks for them.
#[derive(Default)]
pub(super) struct ListingAhead {
    /// Image directories' listings made ahead of the reader, by inode.
    prepared: Mutex<HashMap<u64, Prepared>>,
    /// The directory whose listing was made ahead last (see `prepare_following`).
    last_prepared: Mutex<Option<u64>>,
    /// Moves as every write begins and as it ends: a listing made meanwhile may miss its
    /// effect (a write that fails changes no record, but still versions its file).
    write_marks: AtomicU64,
    /// Listings made ahead, and those a reader's request found ready (for the counts the
    /// daemon logs).
    listed_ahead: AtomicU64,
    found_ready: AtomicU64,
}

impl ListingAhead {
    /// A write begins, or ends.
    pub(super) fn note_write(&self) {
        self.write_marks.fetch_add(1, Ordering::AcqRel);
    }
}

impl ImageFs {
    /// The image as this account sees it under `kind`, read recently or now. A reader that
    /// goes through a directory in order (a shell's glob looking up `*/metadata.json`)
    /// gets the images that follow read with this one.
    pub(super) fn image_record(
        &self,
        r: u8,
        kind: ImageKind,
        n: u64,
    ) -> Result<(String, ImageId, Arc<Image>)> {
        let (region, id) = self.image_of(r, n)?;
        let key = (r, kind, n);
        if let Some(image) = self.recent.images.get(&key) {
            return Ok((region, id, image));
        }
        let generation = self.recent.images.generation();
        let (backwards, count) = match self.in_order(r, kind, n) {
            Some(backwards) => (backwards, READ_AHEAD),
            None => (false, 1),
        };
        let mut found = None;
        for image in self
            .service
            .images_from(&region, kind, &id, backwards, count)?
        {
            let number = image.image_id.number();
            let image = Arc::new(image);
            if number == n {
                found = Some(image.clone());
            }
            self.recent.images.put((r, kind, number), image, generation);
        }
        match found {
            Some(image) => Ok((region, id, image)),
            None => Err(no_such(format!("{region}/{}/{id}", kind.dir_name()))),
        }
    }

    /// Notes a miss of image `n` of a kind. When it follows the previous miss there moments
    /// later, in ImageId order, says which way (`true`: backwards).
    fn in_order(&self, r: u8, kind: ImageKind, n: u64) -> Option<bool> {
        let mut misses = lock(&self.read_ahead.misses);
        let previous = misses.insert((r, kind), (n, Instant::now()));
        if misses.len() > PER_INODE_MAX {
            misses.clear();
        }
        previous
            .filter(|(last, at)| *last != n && at.elapsed() < IN_ORDER_WITHIN)
            .map(|(last, _)| n < last)
    }

    /// An image, for listing its directory, with the accounts it is shared with when it is
    /// a custom image not read recently: then its record, price and shares are read in one
    /// look (and the first two kept for the reads that follow).
    pub(super) fn image_with_shares(
        &self,
        r: u8,
        kind: ImageKind,
        n: u64,
    ) -> Result<ImageAndShares> {
        let key = (r, kind, n);
        if let Some(image) = self.recent.images.get(&key) {
            let shares = self.recent.shares.get(&key).map(|s| s.as_ref().clone());
            return Ok((image, shares));
        }
        // Directories listed in order (`grep -r`, `find`) get the next ones read with this.
        let (backwards, count) = match self.in_order(r, kind, n) {
            Some(backwards) => (backwards, READ_AHEAD),
            None => (false, 1),
        };
        self.read_views(r, kind, n, backwards, count)
    }

    /// Reads image `n` of a kind with its price and shares, and the `count - 1` images that
    /// follow it (or precede it, `backwards`), keeping them all with the recent records.
    fn read_views(
        &self,
        r: u8,
        kind: ImageKind,
        n: u64,
        backwards: bool,
        count: usize,
    ) -> Result<ImageAndShares> {
        let (region, id) = self.image_of(r, n)?;
        let recent = &self.recent;
        let (images_at, prices_at, shares_at) = (
            recent.images.generation(),
            recent.prices.generation(),
            recent.shares.generation(),
        );
        let mut found = None;
        let views = self
            .service
            .image_views_from(&region, kind, &id, backwards, count)?;
        if !backwards {
            self.note_order(r, kind, views.iter().map(|v| v.image.image_id.number()));
        }
        for view in views {
            let key = (r, kind, view.image.image_id.number());
            let image = Arc::new(view.image);
            recent.images.put(key, image.clone(), images_at);
            recent.prices.put(key, Arc::new(view.price), prices_at);
            if let Some(shares) = &view.shares {
                recent.shares.put(key, Arc::new(shares.clone()), shares_at);
            }
            if key.2 == n {
                found = Some((image, view.shares));
            }
        }
        found.ok_or_else(|| no_such(format!("{region}/{}/{id}", kind.dir_name())))
    }

    /// Remembers which image follows which in a kind, from images read in ImageId order.
    pub(super) fn note_order(&self, r: u8, kind: ImageKind, numbers: impl Iterator<Item = u64>) {
        let mut following = lock(&self.read_ahead.following);
        let mut previous = None;
        for n in numbers {
            if let Some(p) = previous {
                if following.len() >= RECENT_MAX {
                    following.clear();
                }
                following.insert((r, kind, p), n);
            }
            previous = Some(n);
        }
    }

    /// Where the records a listing is made from stand: a listing made before any of these
    /// moved may show something that has changed since.
    fn cache_state(&self) -> [u64; 5] {
        [
            self.epoch(),
            self.listing_ahead.write_marks.load(Ordering::Acquire),
            self.recent.images.generation(),
            self.recent.prices.generation(),
            self.recent.shares.generation(),
        ]
    }

    /// Lists, ahead of the reader, the image directory that follows the image directory
    /// `ino` whose listing the reader just finished, when the reader goes through the kind
    /// in order and the next image was read with this one (`grep -r` and `find` list each
    /// directory, read its files, then list the next). The listing is made while the reader
    /// is busy with the files, so its request finds it ready; it serves only while nothing
    /// changed (as a listing made at that request would show the same).
    pub fn prepare_following(&self, ino: u64) {
        if !self.watches_changes() {
            return;
        }
        let Ok(Node::ImageDir(r, kind, n)) = self.node(ino) else {
            return;
        };
        let ahead = &self.listing_ahead;
        // A reader that took the listing made for it goes in order: the images ahead of it
        // are read now (not when it asks) if they are not at hand. Any other reader's next
        // directory is listed only if its image was read already (with a read-ahead).
        let in_order = lock(&ahead.last_prepared).take() == Some(ino);
        let following = |n| lock(&self.read_ahead.following).get(&(r, kind, n)).copied();
        let next = match following(n) {
            Some(next) if self.recent.images.get(&(r, kind, next)).is_some() => next,
            _ if in_order => {
                if self.read_views(r, kind, n, false, READ_AHEAD + 1).is_err() {
                    return;
                }
                match following(n) {
                    Some(next) => next,
                    None => return,
                }
            }
            _ => return,
        };
        let next_ino = Node::ImageDir(r, kind, next).ino();
        if lock(&ahead.prepared).contains_key(&next_ino) {
            return;
        }
        let state = self.cache_state();
        let made = Instant::now();
        let Ok(entries) = self.list(next_ino) else {
            return;
        };
        let mut prepared = lock(&ahead.prepared);
        if prepared.len() >= PREPARED_MAX {
            prepared.clear();
        }
        prepared.insert(
            next_ino,
            Prepared {
                made,
                state,
                entries: Arc::new(entries),
            },
        );
        drop(prepared);
        *lock(&ahead.last_prepared) = Some(next_ino);
        ahead.listed_ahead.fetch_add(1, Ordering::Relaxed);
    }

    /// `listed-ahead=.. ready=..`: image directories listed ahead of the reader so far, and
    /// how many of them its requests found ready.
    pub fn ahead_summary(&self) -> String {
        format!(
            "listed-ahead={} ready={}",
            self.listing_ahead.listed_ahead.load(Ordering::Relaxed),
            self.listing_ahead.found_ready.load(Ordering::Relaxed)
        )
    }

    /// The listing made ahead for `ino`, if nothing changed since it was made (counted as
    /// found ready).
    pub(super) fn take_prepared(&self, ino: u64) -> Option<Arc<Vec<DirEntry>>> {
        let prepared = lock(&self.listing_ahead.prepared).remove(&ino)?;
        let entries = (prepared.made.elapsed() < RECENT && prepared.state == self.cache_state())
            .then_some(prepared.entries)?;
        self.listing_ahead
            .found_ready
            .fetch_add(1, Ordering::Relaxed);
        Some(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{caller, two_mounts, walk};
    use super::*;
    use crate::local::store::Store;

    /// Reads an image directory as `grep -r` does (listing, the request past its end, then
    /// the files), with what the adapter does once that last request is answered.
    fn read_through(fs: &ImageFs, ino: u64) -> Vec<DirEntry> {
        let page = fs.dir_page(ino, 0, 0).expect("listing");
        let end = page.last().map(|(cookie, _)| *cookie).expect("files");
        assert!(fs.dir_page(ino, 0, end).expect("end").is_empty());
        fs.end_pass(ino);
        fs.prepare_following(ino);
        page.into_iter().map(|(_, entry)| entry).collect()
    }

    #[test]
    fn the_next_image_directory_is_listed_ahead_and_only_while_nothing_changed() {
        let (dir, fs, other, _image) = two_mounts();
        let store = Store::open(&dir.path().join("s.db"), None).expect("store");
        let owner = store.default_account().expect("account");
        crate::local::insert_synthetic_images(&store, "ap-guangzhou", &owner, 1, 7)
            .expect("images");
        fs.changes().expect("in step with the feed");
        let custom = walk(&fs, "regions/ap-guangzhou/custom").expect("custom");
        let dirs: Vec<(String, u64)> = fs
            .dir_page(custom.ino, 0, 0)
            .expect("custom")
            .into_iter()
            .map(|(_, e)| (e.name, e.attr.ino))
            .collect();
        assert_eq!(dirs.len(), 8);
        let prepared = |ino: u64| lock(&fs.listing_ahead.prepared).contains_key(&ino);

        // The first two in order: the reader goes in order, so the third is listed ahead,
        // and what it is served is what a listing made now shows.
        read_through(&fs, dirs[0].1);
        assert!(
            !prepared(dirs[1].1),
            "one directory says nothing of the order"
        );
        read_through(&fs, dirs[1].1);
        assert!(prepared(dirs[2].1));
        assert_eq!(
            read_through(&fs, dirs[2].1),
            fs.list(dirs[2].1).expect("list")
        );
        assert!(!prepared(dirs[2].1), "taken");
        assert!(prepared(dirs[3].1));

        // Renamed elsewhere after it was listed ahead: the watcher's look makes the listing
        // made ahead stale, and the reader sees the new name.
        let name = walk(
            &other,
            &format!("regions/ap-guangzhou/custom/{}/name", dirs[3].0),
        )
        .expect("name");
        other
            .write(name.ino, b"renamed-elsewhere\n", &caller())
            .expect("rename");
        fs.changes().expect("changes");
        let listed = read_through(&fs, dirs[3].1);
        let name = listed.iter().find(|e| e.name == "name").expect("name");
        assert_eq!(
            name.content.as_ref().map(|(_, c)| c.as_slice()),
            Some(&b"renamed-elsewhere\n"[..])
        );
        assert!(prepared(dirs[4].1), "the reader still goes in order");

        // A write refused after it was listed ahead changes no record, but versions the
        // file it went to: the listing shows the file as it is now.
        let launch = walk(
            &fs,
            &format!("regions/ap-guangzhou/custom/{}/launch", dirs[4].0),
        )
        .expect("launch");
        assert!(fs.write(launch.ino, b"many\n", &caller()).is_err());
        let listed = read_through(&fs, dirs[4].1);
        let launch_listed = listed.iter().find(|e| e.name == "launch").expect("launch");
        assert_eq!(launch_listed.attr, fs.getattr(launch.ino).expect("getattr"));
        assert_ne!(launch_listed.attr.mtime, launch.mtime);

        // A reader out of order costs no read of the store: the next directory is listed
        // ahead only when its image was read already.
        std::thread::sleep(RECENT);
        read_through(&fs, dirs[0].1);
        assert!(!prepared(dirs[1].1));
    }
}
