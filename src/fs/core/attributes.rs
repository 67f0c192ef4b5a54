//! What `stat` shows of a node: its type, permissions, size, and an mtime that versions a
//! file's contents.

use std::time::{Duration, SystemTime};

use super::ImageFs;
use crate::fs::inode::{ControlFile, ImageFile, Node};
use crate::model::{parse_api_time, ImageKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Directory,
    File,
    Symlink,
}

/// What `stat` shows of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    pub ino: u64,
    pub kind: EntryKind,
    pub size: u64,
    pub perm: u16,
    pub mtime: SystemTime,
}

fn entry_kind(node: Node) -> EntryKind {
    match node {
        Node::Root
        | Node::Regions
        | Node::Region(_)
        | Node::KindDir(..)
        | Node::ImageDir(..)
        | Node::InstancesDir(_)
        | Node::InstanceDir(..)
        | Node::ByName(_)
        | Node::ByNameKind(..)
        | Node::Families(_)
        | Node::InstancesByName(_)
        | Node::InstanceNameDir(..) => EntryKind::Directory,
        Node::NameLink(..)
        | Node::FamilyLink(..)
        | Node::InstanceNameLink(..)
        | Node::InstanceNameDirLink(..) => EntryKind::Symlink,
        Node::AccountJson
        | Node::Errors
        | Node::RegionFile(..)
        | Node::ImageFile(..)
        | Node::InstanceFile(..) => EntryKind::File,
    }
}

fn perm(node: Node) -> u16 {
    match node {
        // Directories whose entries the user may remove.
        Node::KindDir(_, ImageKind::Custom) | Node::InstancesDir(_) => 0o755,
        Node::Root
        | Node::Regions
        | Node::Region(_)
        | Node::KindDir(..)
        | Node::ImageDir(..)
        | Node::InstanceDir(..)
        | Node::ByName(_)
        | Node::ByNameKind(..)
        | Node::Families(_)
        | Node::InstancesByName(_)
        | Node::InstanceNameDir(..) => 0o555,
        Node::NameLink(..)
        | Node::FamilyLink(..)
        | Node::InstanceNameLink(..)
        | Node::InstanceNameDirLink(..) => 0o777,
        // Write-only whatever the image's kind (only custom images have it).
        Node::ImageFile(_, _, _, ImageFile::Unshare) => 0o200,
        Node::AccountJson
        | Node::Errors
        | Node::RegionFile(..)
        | Node::ImageFile(..)
        | Node::InstanceFile(..) => node.control_file().map_or(0o444, ControlFile::perm),
    }
}

impl ImageFs {
    pub(super) fn attr(&self, node: Node, size: u64, mtime: SystemTime) -> Attr {
        Attr {
            ino: node.ino(),
            kind: entry_kind(node),
            size,
            perm: perm(node),
            mtime,
        }
    }

    /// A file's attributes: its size, and an mtime in the second of `base` whose nanoseconds
    /// are a version of the contents (and of the writes the file took). Whenever the contents
    /// change, so does the mtime, and the kernel drops the pages it cached of the old ones.
    /// Never later than now (see `version_mtime`).
    pub(super) fn versioned(&self, node: Node, content: &[u8], base: SystemTime) -> Attr {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        content.hash(&mut h);
        self.commands.writes_taken(node.ino()).hash(&mut h);
        let mtime = version_mtime(base, h.finish(), SystemTime::now());
        self.attr(node, content.len() as u64, mtime)
    }

    /// The time of an API `CreatedTime`, never later than now (a cloud's clock may run ahead
    /// of this machine's).
    pub(super) fn created(time: &str) -> SystemTime {
        parse_api_time(time)
            .unwrap_or(SystemTime::UNIX_EPOCH)
            .min(SystemTime::now())
    }
}

/// An mtime in the second of `base` whose nanoseconds are `version`, unless that lies after
/// `now`: a `CreatedTime` has whole seconds, so in the second an image was made its files'
/// versions would land up to a second in the future, and `ls -l` would show them with a year
/// instead of a time. Then the mtime is `now` (still a new one whenever the contents change,
/// since the clock moves on; stable once the second has passed).
fn version_mtime(base: SystemTime, version: u64, now: SystemTime) -> SystemTime {
    let secs = base
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let nanos = u32::try_from(version % 1_000_000_000).unwrap_or(0);
    (SystemTime::UNIX_EPOCH + Duration::new(secs, nanos)).min(now)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{caller, cat, two_mounts, walk};
    use super::*;

    #[test]
    fn a_file_mtime_versions_its_contents_and_writes() {
        let (_dir, fs, _other, image) = two_mounts();
        let name = walk(&fs, &format!("regions/ap-guangzhou/custom/{image}/name")).expect("name");
        let dir = walk(&fs, &format!("regions/ap-guangzhou/custom/{image}")).expect("dir");
        let second = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .expect("after 1970")
                .as_secs()
        };
        // The version lives in the nanoseconds: `ls -l` still shows CreatedTime.
        assert_eq!(second(name.mtime), second(dir.mtime));
        fs.write(name.ino, b"renamed\n", &caller()).expect("rename");
        let renamed = fs.getattr(name.ino).expect("getattr");
        assert_ne!(renamed.mtime, name.mtime);
        assert_eq!(second(renamed.mtime), second(dir.mtime));
        // The same contents again: the write still shows, so a page it went through is dropped.
        fs.write(name.ino, b"renamed\n", &caller())
            .expect("rename again");
        assert_ne!(fs.getattr(name.ino).expect("getattr").mtime, renamed.mtime);
        // Reading changes nothing (once the second the image was made has passed: in it, a
        // version ahead of the clock shows as now).
        while second(SystemTime::now()) <= second(dir.mtime) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let now = fs.getattr(name.ino).expect("getattr");
        cat(&fs, &format!("regions/ap-guangzhou/custom/{image}/name")).expect("cat");
        assert_eq!(fs.getattr(name.ino).expect("getattr"), now);
    }

    #[test]
    fn mtimes_are_never_later_than_now() {
        let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let early = base + Duration::from_millis(100);
        let version = 900_000_000;
        // In the second of `base`, a version past now is now.
        assert_eq!(version_mtime(base, version, early), early);
        // Once the second has passed, the version shows.
        let later = base + Duration::from_secs(5);
        assert_eq!(
            version_mtime(base, version, later),
            base + Duration::from_nanos(version)
        );
        // Right after an image is made, none of its files is dated in the future.
        let (_dir, fs, _other, image) = two_mounts();
        let dir = format!("regions/ap-guangzhou/custom/{image}");
        for entry in ["", "/name", "/state", "/metadata.json"] {
            let attr = walk(&fs, &format!("{dir}{entry}")).expect("walk");
            let attr = fs.getattr(attr.ino).expect("getattr");
            assert!(attr.mtime <= SystemTime::now(), "{dir}{entry}");
        }
        // A CreatedTime ahead of this machine's clock is shown as now.
        let ahead = crate::model::format_api_time(SystemTime::now() + Duration::from_secs(3600));
        assert!(ImageFs::created(&ahead) <= SystemTime::now());
    }
}
