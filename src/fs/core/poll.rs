//! Poll: whether a file now shows other contents than it last showed a reader.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{lock, ImageFs, PER_INODE_MAX};
use crate::error::Result;
use crate::fs::inode::Node;

/// What each file last showed a reader, as a hash of its contents, by inode.
#[derive(Default)]
pub(super) struct Seen {
    hashes: Mutex<HashMap<u64, u64>>,
}

fn content_hash(content: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    content.hash(&mut h);
    h.finish()
}

impl Seen {
    /// A reader saw `content` in file `ino`.
    pub(super) fn remember(&self, ino: u64, content: &[u8]) {
        let hash = content_hash(content);
        let mut map = lock(&self.hashes);
        if map.len() >= PER_INODE_MAX {
            map.clear();
        }
        map.insert(ino, hash);
    }
}

impl ImageFs {
    /// Whether a file now shows other contents than it last showed a reader (for poll: a
    /// `state` file signals a change). The first question sets the baseline.
    pub fn changed_since_seen(&self, ino: u64) -> Result<bool> {
        if let Some(view) = self.view(ino) {
            // A view changes only through its own writes.
            return view.map(|_| false);
        }
        let node = self.node(ino)?;
        // A fresh look, not the recent-record cache: a poller wants the store's present.
        if let Node::ImageFile(r, kind, n, _) = node {
            self.recent.images.forget(&(r, kind, n));
            self.recent.shares.forget(&(r, kind, n));
        }
        let now = content_hash(&self.render(node)?);
        let mut seen = lock(&self.seen.hashes);
        match seen.get(&ino) {
            Some(&before) => Ok(before != now),
            None => {
                if seen.len() >= PER_INODE_MAX {
                    seen.clear();
                }
                seen.insert(ino, now);
                Ok(false)
            }
        }
    }
}
