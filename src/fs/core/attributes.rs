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
        | Node::ByNameKind(..) => EntryKind::Directory,
        Node::NameLink(..) => EntryKind::Symlink,
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
        | Node::ByNameKind(..) => 0o555,
        Node::NameLink(..) => 0o777,
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
    pub(super) fn versioned(&self, node: Node, content: &[u8], base: SystemTime) -> Attr {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        content.hash(&mut h);
        self.commands.writes_taken(node.ino()).hash(&mut h);
        let secs = base
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let nanos = u32::try_from(h.finish() % 1_000_000_000).unwrap_or(0);
        let mtime = SystemTime::UNIX_EPOCH + Duration::new(secs, nanos);
        self.attr(node, content.len() as u64, mtime)
    }

    pub(super) fn created(time: &str) -> SystemTime {
        parse_api_time(time).unwrap_or(SystemTime::UNIX_EPOCH)
    }
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
        // Reading changes nothing.
        let now = fs.getattr(name.ino).expect("getattr");
        cat(&fs, &format!("regions/ap-guangzhou/custom/{image}/name")).expect("cat");
        assert_eq!(fs.getattr(name.ino).expect("getattr"), now);
    }
}
