//! New IDs: random suffixes from the kernel, images and instances numbered afresh.

use rusqlite::{Connection, OptionalExtension};

use crate::error::{Error, Result};
use crate::model::{ImageId, InstanceId, Snapshot};

/// 8 random lowercase letters or digits, from the kernel's random source.
pub(super) fn random_suffix() -> Result<String> {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut bytes = [0u8; 8];
    // SAFETY: getrandom writes at most bytes.len() bytes into the buffer.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if n != bytes.len() as isize {
        return Err(Error::internal("no randomness for a new ID"));
    }
    Ok(bytes
        .iter()
        .map(|b| DIGITS[usize::from(*b) % 36] as char)
        .collect())
}

pub(super) fn new_image_id(c: &Connection) -> Result<ImageId> {
    loop {
        let id = ImageId::parse(&format!("img-{}", random_suffix()?))?;
        let taken = c
            .prepare_cached("SELECT 1 FROM images WHERE image_id = ?1")?
            .query_row([id.as_str()], |_| Ok(()))
            .optional()?
            .is_some();
        if !taken {
            return Ok(id);
        }
    }
}

pub(super) fn new_instance_id(c: &Connection) -> Result<InstanceId> {
    loop {
        let id = InstanceId::parse(&format!("ins-{}", random_suffix()?))?;
        let taken = c
            .prepare_cached("SELECT 1 FROM instances WHERE instance_id = ?1")?
            .query_row([id.as_str()], |_| Ok(()))
            .optional()?
            .is_some();
        if !taken {
            return Ok(id);
        }
    }
}

/// The snapshot set of a new image: its system disk, of `disk_size` GiB, under a new ID.
pub(super) fn system_disk_snapshot(disk_size: i64) -> Result<Vec<Snapshot>> {
    Ok(vec![Snapshot {
        snapshot_id: format!("snap-{}", random_suffix()?),
        disk_usage: "SYSTEM_DISK".into(),
        disk_size,
    }])
}
