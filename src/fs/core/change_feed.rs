//! The backend's change feed: changes made by anyone (another mount, the server, a
//! transition reaching its end, this mount), turned into what the kernel must drop.

use std::sync::Mutex;

use super::{lock, ImageFs};
use crate::error::Result;
use crate::fs::inode::Node;
use crate::service::ChangeCursor;

/// What the kernel must forget because the backend changed underneath it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// A file's or directory's attributes and cached contents.
    Inode(u64),
    /// The name `name` in directory `parent` (an image or instance that may be gone).
    Entry { parent: u64, name: String },
    /// Anything: the change feed lost track.
    Everything,
}

/// Where this mount is in the backend's change feed.
pub(super) struct ChangeFeed {
    /// `None`: the backend has no change feed.
    cursor: Mutex<Option<ChangeCursor>>,
}

impl ChangeFeed {
    pub(super) fn new(cursor: Option<ChangeCursor>) -> Self {
        ChangeFeed {
            cursor: Mutex::new(cursor),
        }
    }
}

impl ImageFs {
    /// Whether the backend reports every change (then the kernel may cache for long, and
    /// [`ImageFs::changes`] says what to drop).
    pub fn watches_changes(&self) -> bool {
        lock(&self.feed.cursor).is_some()
    }

    /// What the kernel must drop because of changes made since the last call by anyone
    /// (another mount, the server, a transition reaching its end, this mount). Records read
    /// recently are forgotten first, so what the kernel reads next is the present.
    pub fn changes(&self) -> Result<Vec<Invalidation>> {
        let Some(cursor) = *lock(&self.feed.cursor) else {
            return Ok(Vec::new());
        };
        let Some(changes) = self.service.changes(Some(cursor))? else {
            return Ok(Vec::new());
        };
        *lock(&self.feed.cursor) = Some(changes.cursor);
        if changes.everything {
            return Ok(self.everything_changed());
        }
        if !changes.images.is_empty() {
            self.recent.links.clear();
        }
        let mut out = Vec::new();
        let mut regions = std::collections::BTreeSet::new();
        for (region, id) in &changes.images {
            let Some(r) = self.region_index(region) else {
                continue;
            };
            regions.insert(r);
            self.image_changed(r, id, &mut out);
        }
        for (region, id) in &changes.instances {
            let Some(r) = self.region_index(region) else {
                continue;
            };
            regions.insert(r);
            Self::instance_changed(r, id, &mut out);
            self.instance_links_changed(r, region, id, &mut out);
        }
        if !changes.images.is_empty() || !changes.instances.is_empty() {
            // After the records are forgotten (see `RecentRecords::next_epoch`).
            self.recent.next_epoch();
        }
        for r in regions {
            Self::region_changed(r, &mut out);
        }
        if !out.is_empty() {
            out.push(Invalidation::Inode(Node::AccountJson.ino()));
        }
        Ok(out)
    }

    /// The feed lost track: every record is forgotten, and the kernel drops everything
    /// (every region's listings among it).
    fn everything_changed(&self) -> Vec<Invalidation> {
        self.recent.forget_all();
        let mut out = vec![Invalidation::Everything];
        for r in 0..self.regions.len() {
            let r = u8::try_from(r).unwrap_or(u8::MAX);
            out.extend(Self::listing_dirs(r).into_iter().map(Invalidation::Inode));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::test_support::{caller, cat, two_mounts, walk};
    use super::*;
    use crate::local::store::Store;

    #[test]
    fn changes_made_elsewhere_say_what_to_drop_and_show_at_once() {
        let (_dir, fs, other, image) = two_mounts();
        assert!(fs.watches_changes());
        let path = format!("regions/ap-guangzhou/custom/{image}/name");
        assert_eq!(cat(&fs, &path).expect("cat").trim_end(), "synthetic-0");
        assert!(fs.changes().expect("changes").is_empty(), "nothing changed");
        let name = walk(&other, &path).expect("name");
        other
            .write(name.ino, b"elsewhere\n", &caller())
            .expect("rename elsewhere");
        let drop = fs.changes().expect("changes");
        let metadata = walk(
            &fs,
            &format!("regions/ap-guangzhou/custom/{image}/metadata.json"),
        )
        .expect("metadata");
        let custom = walk(&fs, "regions/ap-guangzhou/custom").expect("custom");
        let quota = walk(&fs, "regions/ap-guangzhou/quota.json").expect("quota");
        for wanted in [
            Invalidation::Inode(metadata.ino),
            Invalidation::Inode(name.ino),
            Invalidation::Inode(quota.ino),
            Invalidation::Entry {
                parent: custom.ino,
                name: image.clone(),
            },
        ] {
            assert!(drop.contains(&wanted), "{wanted:?} in {drop:?}");
        }
        // The record read moments ago is forgotten: the next read is the present.
        assert_eq!(cat(&fs, &path).expect("cat").trim_end(), "elsewhere");
        assert!(fs.changes().expect("changes").is_empty(), "reported once");
    }

    #[test]
    fn a_transition_reaching_its_end_is_a_change() {
        let (_dir, fs, other, image) = two_mounts();
        let launch = walk(
            &other,
            &format!("regions/ap-guangzhou/custom/{image}/launch"),
        )
        .expect("launch");
        other.write(launch.ino, b"1\n", &caller()).expect("launch");
        let launched = fs.changes().expect("changes");
        let instance = launched
            .iter()
            .find_map(|i| match i {
                Invalidation::Entry { name, .. } if name.starts_with("ins-") => Some(name.clone()),
                _ => None,
            })
            .expect("the new instance is named");
        // Nothing is written when the instance starts running, yet its state changes.
        std::thread::sleep(Duration::from_millis(120));
        let state = walk(
            &fs,
            &format!("regions/ap-guangzhou/instances/{instance}/state"),
        )
        .expect("state");
        assert!(
            fs.changes()
                .expect("changes")
                .contains(&Invalidation::Inode(state.ino)),
            "the end of the transition is reported"
        );
        assert_eq!(
            cat(
                &fs,
                &format!("regions/ap-guangzhou/instances/{instance}/state")
            )
            .expect("cat")
            .trim_end(),
            "RUNNING"
        );
    }

    #[test]
    fn a_reader_far_behind_is_told_everything_changed() {
        let (dir, fs, _other, _image) = two_mounts();
        let store = Store::open(&dir.path().join("s.db"), None).expect("store");
        let owner = store.default_account().expect("account");
        crate::local::insert_synthetic_images(&store, "ap-guangzhou", &owner, 1, 10_001)
            .expect("images");
        assert_eq!(
            fs.changes().expect("changes").first(),
            Some(&Invalidation::Everything)
        );
        assert!(
            fs.changes().expect("changes").is_empty(),
            "then in step again"
        );
    }
}
