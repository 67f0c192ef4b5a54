//! Filesystems on a local store, and paths walked in them, for the unit tests.

use std::ffi::OsStr;
use std::sync::Arc;
use std::time::Duration;

use super::{Attr, ImageFs};
use crate::error::Result;
use crate::fs::inode::Node;
use crate::local::store::Store;
use crate::local::LocalService;
use crate::service::Caller;

pub(super) fn fs() -> (tempfile::TempDir, ImageFs) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(&dir.path().join("s.db"), None).expect("store"));
    let service = LocalService::open(store, None).expect("service");
    (dir, ImageFs::new(Arc::new(service)).expect("fs"))
}

pub(super) fn walk(fs: &ImageFs, path: &str) -> Result<Attr> {
    let mut attr = fs.getattr(Node::ROOT_INO)?;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        attr = fs.lookup(attr.ino, OsStr::new(part))?;
    }
    Ok(attr)
}

pub(super) fn cat(fs: &ImageFs, path: &str) -> Result<String> {
    let attr = walk(fs, path)?;
    let data = fs.read(attr.ino, 0, u32::MAX)?;
    assert_eq!(attr.size, data.len() as u64, "{path}");
    Ok(String::from_utf8(data).expect("utf-8"))
}

/// A store with one custom image of the default account, and two filesystems on it: the
/// one under test and "another mount" of the same account.
pub(super) fn two_mounts() -> (tempfile::TempDir, ImageFs, ImageFs, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(&dir.path().join("s.db"), None).expect("store"));
    let owner = store.default_account().expect("account");
    crate::local::insert_synthetic_images(&store, "ap-guangzhou", &owner, 0, 1).expect("image");
    let open = || {
        let service = LocalService::open(store.clone(), None)
            .expect("service")
            .with_transition_delay(Some(Duration::from_millis(50)));
        ImageFs::new(Arc::new(service)).expect("fs")
    };
    let (this, other) = (open(), open());
    let custom = walk(&this, "regions/ap-guangzhou/custom").expect("custom");
    let image = this.list(custom.ino).expect("list")[0].name.clone();
    (dir, this, other, image)
}

pub(super) fn caller() -> Caller {
    Caller {
        uid: 0,
        gid: 0,
        pid: 0,
    }
}
