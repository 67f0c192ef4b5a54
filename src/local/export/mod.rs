//! ExportImages: custom images of the account become disk files in a bucket, locally a folder
//! of the process's export directory (`--export-dir`).
//!
//! Each file is written at once under a hidden name (`.<file>.part`: an empty sparse disk of
//! the asked format whose header says the image's size) and recorded in the store with its
//! absolute paths and due time; the image is `EXPORTING`. When the time comes, whoever settles
//! the store's transitions (any command, a mount polling for changes, the process that started
//! the export, which waits for it) renames the file to the name the answer gave and makes the
//! image `NORMAL` again, in one transaction: an image seen `NORMAL` has its file in place, even
//! if the process that started the export has exited.

mod disk;

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rusqlite::{params, Connection};

use super::images::OwnerAction;
use super::rows::ImageRow;
use super::settings::meta_value;
use super::store::Store;
use super::transitions::{now_ms, settle};
use super::LocalService;
use crate::error::{Code, Error, Result};
use crate::local::import::probe::DiskFormat;
use crate::model::{ExportSpec, ExportTask, ImageId, ImageState};

const GIB: u64 = 1 << 30;

/// The largest image the cloud exports, in GB ("每块盘不超过500GB").
const EXPORT_SIZE_MAX: i64 = 500;

/// ExportFormat: RAW (the default), QCOW2, VHD or VMDK, as the API spells them.
fn export_format(format: Option<&str>) -> Result<DiskFormat> {
    let format = format.unwrap_or("RAW");
    [
        DiskFormat::Raw,
        DiskFormat::Qcow2,
        DiskFormat::Vhd,
        DiskFormat::Vmdk,
    ]
    .into_iter()
    .find(|f| f.name() == format)
    .ok_or_else(|| {
        Error::new(
            Code::InvalidParameterValue,
            format!("ExportFormat `{format}` is not one of RAW, QCOW2, VHD, VMDK"),
        )
    })
}

fn extension(format: DiskFormat) -> &'static str {
    match format {
        DiskFormat::Raw => "raw",
        DiskFormat::Qcow2 => "qcow2",
        DiskFormat::Vhd => "vhd",
        DiskFormat::Vmdk => "vmdk",
    }
}

/// ImageIds: at least one, each an image ID, none twice.
fn image_ids(spec: &ExportSpec) -> Result<Vec<ImageId>> {
    let given = spec.image_ids.as_deref().unwrap_or_default();
    if given.is_empty() {
        return Err(Error::new(
            Code::InvalidParameterImageIdsSnapshotIdsMustOne,
            "ImageIds must name the images to export (SnapshotIds is not open to users)",
        ));
    }
    let mut ids: Vec<ImageId> = Vec::with_capacity(given.len());
    for id in given {
        let id = ImageId::parse(id)?;
        if ids.contains(&id) {
            return Err(Error::new(
                Code::InvalidParameterValue,
                format!("ImageIds names {id} twice"),
            ));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// FileNamePrefixList: none, or one prefix per image, each usable in a file name (not empty,
/// no `/` or NUL, not starting with `.`: imagefs's rule, as the files are local).
fn prefixes(spec: &ExportSpec, images: usize) -> Result<Vec<Option<String>>> {
    let Some(list) = &spec.file_name_prefix_list else {
        return Ok(vec![None; images]);
    };
    let refuse =
        |why: String| Error::new(Code::InvalidParameterValueInvalidFileNamePrefixList, why);
    if list.len() != images {
        return Err(refuse(format!(
            "FileNamePrefixList has {} prefixes for {images} images: one per image",
            list.len()
        )));
    }
    list.iter()
        .map(|p| {
            if p.is_empty() || p.starts_with('.') || p.contains(['/', '\0']) || p.len() > 200 {
                Err(refuse(format!(
                    "file name prefix `{}` is empty, starts with `.`, is over 200 bytes or contains `/`",
                    p.escape_default()
                )))
            } else {
                Ok(Some(p.clone()))
            }
        })
        .collect()
}

/// The bucket's folder: a directory directly under the export directory (not a symlink).
fn bucket_dir(export_dir: Option<&Path>, bucket: &str) -> Result<PathBuf> {
    let not_found = |why: String| Error::new(Code::InvalidParameterValueBucketNotFound, why);
    let dir = export_dir.ok_or_else(|| {
        not_found(format!(
            "no bucket `{bucket}`: this imagefs exports nothing (start it with --export-dir DIR)"
        ))
    })?;
    let single =
        !bucket.is_empty() && bucket != "." && bucket != ".." && !bucket.contains(['/', '\0']);
    let path = dir.join(bucket);
    let is_dir = single
        && std::fs::symlink_metadata(&path)
            .map(|m| m.is_dir())
            .unwrap_or(false);
    if !is_dir {
        return Err(not_found(format!(
            "no bucket `{bucket}`: no folder of that name in the export directory {}",
            dir.display()
        )));
    }
    std::path::absolute(&path).map_err(|e| not_found(format!("{}: {e}", path.display())))
}

/// Whether this image may be exported: the rules other than ownership, in the cloud's terms.
fn check_exportable(row: &ImageRow) -> Result<()> {
    let image = &row.image;
    let id = &image.image_id;
    if image.image_state != ImageState::Normal || row.copying {
        let state = if row.copying {
            "SYNCING"
        } else {
            image.image_state.as_str()
        };
        return Err(Error::new(
            Code::InvalidParameterValueInvalidImageState,
            format!("image {id} is {state}: only NORMAL images are exported"),
        ));
    }
    if row.provider.is_some() {
        return Err(Error::new(
            Code::UnsupportedOperationMarketImageExportUnsupported,
            format!("image {id} was made from a marketplace image, which is not exported"),
        ));
    }
    if image.platform == "Windows" {
        return Err(Error::new(
            Code::UnsupportedOperationWindowsImageExportUnsupported,
            format!("image {id} is a Windows image, which is not exported"),
        ));
    }
    if image.image_size > EXPORT_SIZE_MAX {
        return Err(Error::new(
            Code::UnsupportedOperationImageTooLargeExportUnsupported,
            format!(
                "image {id} is {} GB: images over {EXPORT_SIZE_MAX} GB are not exported",
                image.image_size
            ),
        ));
    }
    Ok(())
}

/// One file of an export.
struct Planned {
    image: ImageId,
    size_gib: i64,
    cos_path: String,
    path: PathBuf,
    part: PathBuf,
}

/// `<prefix>_<ImageId>_system_<SnapshotId>.<format>`, as the API names its files (without a
/// system-disk snapshot, `_<SnapshotId>` is left out).
fn file_name(row: &ImageRow, prefix: Option<&str>, format: DiskFormat) -> String {
    let snapshot = row
        .image
        .snapshot_set
        .iter()
        .find(|s| s.disk_usage == "SYSTEM_DISK")
        .map(|s| format!("_{}", s.snapshot_id))
        .unwrap_or_default();
    let prefix = prefix.map(|p| format!("{p}_")).unwrap_or_default();
    format!(
        "{prefix}{}_system{snapshot}.{}",
        row.image.image_id,
        extension(format)
    )
}

fn next_task_id(c: &Connection) -> Result<u64> {
    let last: u64 = meta_value(c, "export_task_seq")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let next = last + 1;
    c.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES ('export_task_seq', ?1)")?
        .execute([next.to_string()])?;
    Ok(next)
}

/// ExportImages: checks the request, then each image in the cloud's order (the account's own
/// custom image, NORMAL, not from the marketplace, not Windows, at most 500 GB), all or none;
/// writes each file under its hidden name and records it. A dry run checks and writes
/// nothing.
pub(super) fn export_images(
    service: &LocalService,
    region: &str,
    spec: &ExportSpec,
) -> Result<ExportTask> {
    service.throttle()?;
    service.region(region)?;
    let ids = image_ids(spec)?;
    let format = export_format(spec.export_format.as_deref())?;
    let prefixes = prefixes(spec, ids.len())?;
    let bucket = bucket_dir(service.export_dir.as_deref(), &spec.bucket_name)?;
    let (_, _, due) = service.transition("EXPORTING", "NORMAL")?;
    let task = service.command_tx(|tx| {
        settle(tx)?;
        let mut planned = Vec::with_capacity(ids.len());
        for (id, prefix) in ids.iter().zip(&prefixes) {
            let row = service.own_custom_in(tx, region, id, OwnerAction::ExportImages)?;
            check_exportable(&row)?;
            let name = file_name(&row, prefix.as_deref(), format);
            planned.push(Planned {
                image: id.clone(),
                size_gib: row.image.image_size,
                cos_path: format!("/{name}"),
                path: bucket.join(&name),
                part: bucket.join(format!(".{name}.part")),
            });
        }
        if spec.dry_run == Some(true) {
            return Ok(ExportTask::default());
        }
        let task_id = next_task_id(tx)?;
        for (i, file) in planned.iter().enumerate() {
            let size = u64::try_from(file.size_gib.max(1)).unwrap_or(1) * GIB;
            let written = match due {
                None => write_disk(&file.path, format, size),
                Some(_) => write_disk(&file.part, format, size),
            };
            if let Err(e) = written {
                for earlier in &planned[..i] {
                    let _ = std::fs::remove_file(if due.is_some() {
                        &earlier.part
                    } else {
                        &earlier.path
                    });
                }
                return Err(e);
            }
            if let Some(due) = due {
                record(tx, region, service, task_id, format, file, due)?;
            }
        }
        Ok(ExportTask {
            task_id,
            cos_paths: planned.iter().map(|f| f.cos_path.clone()).collect(),
            files: planned
                .iter()
                .map(|f| f.path.display().to_string())
                .collect(),
        })
    })?;
    if let Some(due) = due {
        if spec.dry_run != Some(true) {
            settle_when_due(service.store.clone(), due);
        }
    }
    Ok(task)
}

/// Writes an empty disk of `format` and `size` bytes at `path` (replacing a file there, as
/// an object of the same key in a bucket is replaced).
fn write_disk(path: &Path, format: DiskFormat, size: u64) -> Result<()> {
    let refuse = |e: std::io::Error| {
        Error::new(
            Code::InvalidParameterValueInvalidBucketPermissionForExport,
            format!("cannot write {}: {e}", path.display()),
        )
    };
    let mut file: File = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(refuse)?;
    disk::write_empty_disk(&mut file, format, size).map_err(refuse)?;
    file.sync_all().map_err(refuse)
}

fn record(
    tx: &Connection,
    region: &str,
    service: &LocalService,
    task_id: u64,
    format: DiskFormat,
    file: &Planned,
    due: i64,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO exports (task_id, region, image_id, owner, image_size, format, path,
            part_path, due) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        i64::try_from(task_id).unwrap_or(i64::MAX),
        region,
        file.image.as_str(),
        service.account.as_str(),
        file.size_gib,
        format.name(),
        file.path.display().to_string(),
        file.part.display().to_string(),
        due,
    ])?;
    tx.prepare_cached(
        "UPDATE images SET image_state = 'EXPORTING' WHERE region = ?1 AND image_id = ?2",
    )?
    .execute(params![region, file.image.as_str()])?;
    Ok(())
}

/// The process that started an export settles it when it is due (another imagefs may do so
/// first; settling twice does nothing).
fn settle_when_due(store: Arc<Store>, due: i64) {
    let spawned = std::thread::Builder::new()
        .name("imagefs-export".into())
        .spawn(move || {
            let wait = due.saturating_sub(now_ms()).max(0);
            std::thread::sleep(std::time::Duration::from_millis(
                u64::try_from(wait).unwrap_or(0),
            ));
            if let Err(e) = store.with_tx(settle) {
                log::warn!("settling exports: {e}");
            }
        });
    if let Err(e) = spawned {
        log::warn!("cannot start the thread that settles an export: {e}");
    }
}

/// How often a store handle looks for exports whose starter exited.
const EXPORT_LOOK_INTERVAL_MS: i64 = 1000;

/// Whether an export is due: one look at an index, for readers that settle only then.
pub(super) fn exports_due(c: &Connection, now: i64) -> Result<bool> {
    Ok(
        c.prepare_cached("SELECT EXISTS (SELECT 1 FROM exports WHERE due <= ?1)")?
            .query_row([now], |r| r.get(0))?,
    )
}

/// Settles the store's due transitions if an export is among them (a mount's change feed
/// and opening a service call this, so a file appears though its starter exited). Looks at
/// most once a second per store handle: the process that started an export settles it on
/// time, and any write settles what is due; this covers a starter that exited.
pub(super) fn settle_due_exports(store: &Store) -> Result<()> {
    let now = now_ms();
    let last = store.exports_looked_at.load(Ordering::Relaxed);
    if now.saturating_sub(last) < EXPORT_LOOK_INTERVAL_MS
        || store
            .exports_looked_at
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return Ok(());
    }
    if store.with_conn(|c| exports_due(c, now))? {
        store.with_tx(settle)?;
    }
    Ok(())
}

/// Puts each due export's file in place and makes its image NORMAL again (part of
/// [`settle`]). A file that cannot be put in place is logged: the export is over either way.
pub(super) fn settle_exports(c: &Connection, now: i64) -> Result<()> {
    let due: Vec<(i64, String, String, i64, String, String, String)> = {
        let mut stmt = c.prepare_cached(
            "SELECT task_id, region, image_id, image_size, format, path, part_path
             FROM exports WHERE due <= ?1",
        )?;
        let rows = stmt.query_map([now], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (task, region, image, size_gib, format, path, part) in due {
        if let Err(e) = put_in_place(Path::new(&path), Path::new(&part), &format, size_gib) {
            log::warn!("export task {task} of {image}: {}: {e}", path);
        }
        c.prepare_cached(
            "UPDATE images SET image_state = 'NORMAL'
             WHERE region = ?1 AND image_id = ?2 AND image_state = 'EXPORTING'",
        )?
        .execute(params![region, image])?;
        c.prepare_cached("DELETE FROM exports WHERE task_id = ?1 AND image_id = ?2")?
            .execute(params![task, image])?;
    }
    Ok(())
}

/// Renames the hidden file to its name; if it is gone (removed meanwhile), writes the disk
/// anew there.
fn put_in_place(path: &Path, part: &Path, format: &str, size_gib: i64) -> std::io::Result<()> {
    match std::fs::rename(part, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let format = export_format(Some(format))
                .map_err(|e| std::io::Error::other(e.message().to_string()))?;
            let size = u64::try_from(size_gib.max(1)).unwrap_or(1) * GIB;
            write_disk(path, format, size)
                .map_err(|e| std::io::Error::other(e.message().to_string()))
        }
        Err(e) => Err(e),
    }
}

/// The exports of an image still under way (for tests and `store` tools).
#[cfg(test)]
fn pending(store: &Store, image: &ImageId) -> Result<Option<i64>> {
    use rusqlite::OptionalExtension;
    store.with_conn(|c| {
        Ok(c.query_row(
            "SELECT due FROM exports WHERE image_id = ?1",
            [image.as_str()],
            |r| r.get(0),
        )
        .optional()?)
    })
}

#[cfg(test)]
mod tests;
