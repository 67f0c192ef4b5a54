//! The files the kernel was told about, for when everything must be dropped.

use crate::fs::inode::{ImageFile, InstanceFile, Node};

/// Files and directories (standing for their files) remembered at most.
const KNOWN_FILES_MAX: usize = 200_000;

/// Files the kernel was told about, so that all of them can be dropped when the change feed
/// loses track. An image's or instance's files are remembered by their directory (a listing
/// tells the kernel of all of them at once). Bounded: past the bound it starts over (and
/// says so in the log).
#[derive(Default)]
pub(super) struct KnownFiles {
    /// Files, and directories standing for all their files.
    inodes: std::collections::HashSet<u64>,
    /// The last inode put in `inodes` (a listing's files follow one another).
    last: u64,
    pub(super) overflowed: bool,
}

impl KnownFiles {
    /// Remembers that the kernel knows file `ino`.
    pub(super) fn note(&mut self, ino: u64) {
        let key = match Node::from_ino(ino) {
            Some(node @ (Node::ImageFile(..) | Node::InstanceFile(..))) => node.parent().ino(),
            Some(
                Node::Root
                | Node::AccountJson
                | Node::Errors
                | Node::Regions
                | Node::Region(_)
                | Node::RegionFile(..)
                | Node::KindDir(..)
                | Node::ImageDir(..)
                | Node::InstancesDir(_)
                | Node::InstanceDir(..)
                | Node::ByName(_)
                | Node::ByNameKind(..)
                | Node::NameLink(..)
                | Node::Families(_)
                | Node::FamilyLink(..)
                | Node::InstancesByName(_)
                | Node::InstanceNameLink(..)
                | Node::InstanceNameDir(..)
                | Node::InstanceNameDirLink(..),
            )
            | None => ino,
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
    pub(super) fn files(&self) -> Vec<u64> {
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
                    | Node::NameLink(..)
                    | Node::Families(_)
                    | Node::FamilyLink(..)
                    | Node::InstancesByName(_)
                    | Node::InstanceNameLink(..)
                    | Node::InstanceNameDir(..)
                    | Node::InstanceNameDirLink(..),
                )
                | None => files.push(ino),
            }
        }
        files
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
