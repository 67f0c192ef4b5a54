use std::os::unix::fs::MetadataExt;

use super::*;
use crate::error::Code;
use crate::local::import::probe::{probe, Probe};
use crate::local::testing::*;

fn spec(bucket: &str, images: &[&ImageId], format: Option<&str>) -> ExportSpec {
    ExportSpec {
        bucket_name: bucket.into(),
        image_ids: Some(images.iter().map(|i| i.to_string()).collect()),
        export_format: format.map(str::to_string),
        ..ExportSpec::default()
    }
}

/// An export directory with one bucket, `b`.
fn export_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("b")).expect("bucket");
    dir
}

fn probed(path: &str) -> (DiskFormat, u64) {
    let mut file = File::open(path).expect("the exported file");
    match probe(&mut file).expect("probe") {
        Probe::Disk {
            format,
            virtual_size,
            sound: true,
            ..
        } => (format, virtual_size),
        other => panic!("{path}: {other:?}"),
    }
}

/// With no delay the file is there when the call returns, named as the answer says, a sound
/// sparse disk of the image's size; with a prefix it is named after it.
#[test]
fn an_export_writes_a_disk_of_the_images_size_named_as_answered() {
    let w = world();
    let dir = export_dir();
    let s = w
        .service(OWNER, 0)
        .with_export_dir(Some(dir.path().to_path_buf()));
    let image = custom(&s, GZ, "golden");
    let size = s.image(GZ, ImageKind::Custom, &image).unwrap().image_size;
    let snapshot = s.image(GZ, ImageKind::Custom, &image).unwrap().snapshot_set[0]
        .snapshot_id
        .clone();
    for (format, found) in [
        (None, DiskFormat::Raw),
        (Some("QCOW2"), DiskFormat::Qcow2),
        (Some("VHD"), DiskFormat::Vhd),
        (Some("VMDK"), DiskFormat::Vmdk),
    ] {
        let task = s
            .export_images(GZ, &spec("b", &[&image], format))
            .unwrap()
            .expect("not a dry run");
        let name = format!("{image}_system_{snapshot}.{}", extension(found));
        assert_eq!(task.cos_paths, vec![format!("/{name}")]);
        let path = dir.path().join("b").join(&name);
        assert_eq!(task.files, vec![path.display().to_string()]);
        assert_eq!(
            probed(&task.files[0]),
            (found, u64::try_from(size).unwrap() * GIB)
        );
        assert!(std::fs::metadata(&path).unwrap().blocks() < 16 << 10);
    }
    let mut prefixed = spec("b", &[&image], Some("QCOW2"));
    prefixed.file_name_prefix_list = Some(vec!["nightly".into()]);
    let task = s.export_images(GZ, &prefixed).unwrap().unwrap();
    assert_eq!(
        task.cos_paths,
        vec![format!("/nightly_{image}_system_{snapshot}.qcow2")]
    );
    assert_eq!(
        s.image(GZ, ImageKind::Custom, &image).unwrap().image_state,
        ImageState::Normal
    );
}

/// While the export runs the image is EXPORTING, cannot be deleted, copied or exported again,
/// still launches and stands for its family; only a hidden file is in the bucket. When due,
/// a settle puts the file in place and the image is NORMAL.
#[test]
fn an_export_is_exporting_until_due_then_its_file_is_in_place() {
    let w = world();
    let dir = export_dir();
    let quick = w.service(OWNER, 0);
    let image = custom(&quick, GZ, "golden");
    quick
        .modify_image(GZ, &image, &ImageChanges::family("web"))
        .unwrap();
    let s = w
        .service(OWNER, 600_000)
        .with_export_dir(Some(dir.path().to_path_buf()));
    let task = s
        .export_images(GZ, &spec("b", &[&image], Some("VMDK")))
        .unwrap()
        .unwrap();
    assert!(task.task_id >= 1);
    let state = || s.image(GZ, ImageKind::Custom, &image).unwrap().image_state;
    assert_eq!(state(), ImageState::Exporting);
    let path = PathBuf::from(&task.files[0]);
    assert!(!path.exists());
    let hidden: Vec<String> = std::fs::read_dir(dir.path().join("b"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(hidden.len(), 1);
    assert!(
        hidden[0].starts_with('.') && hidden[0].ends_with(".part"),
        "{hidden:?}"
    );
    assert_eq!(
        code(s.delete_image(GZ, &image)),
        Code::InvalidImageIdIncorrectState.as_str()
    );
    assert_eq!(
        code(s.export_images(GZ, &spec("b", &[&image], None))),
        Code::InvalidParameterValueInvalidImageState.as_str()
    );
    let copy = crate::model::CopySpec {
        destination_regions: vec!["ap-shanghai".into()],
        ..Default::default()
    };
    assert_eq!(
        code(s.sync_images(GZ, ImageKind::Custom, &image, &copy)),
        Code::InvalidImageIdIncorrectState.as_str()
    );
    assert_eq!(
        s.image_from_family(GZ, "web").unwrap().map(|i| i.image_id),
        Some(image.clone())
    );
    // Its time comes (made so here): whoever settles puts the file in place.
    w.store
        .with_tx(|c| {
            c.execute("UPDATE exports SET due = ?1", [now_ms() - 1])?;
            Ok(())
        })
        .unwrap();
    assert!(pending(&w.store, &image).unwrap().is_some());
    // This handle looked when the service opened: not again within the second.
    settle_due_exports(&w.store).unwrap();
    assert!(pending(&w.store, &image).unwrap().is_some());
    w.store
        .exports_looked_at
        .store(now_ms() - 1000, std::sync::atomic::Ordering::Relaxed);
    settle_due_exports(&w.store).unwrap();
    assert!(pending(&w.store, &image).unwrap().is_none());
    assert_eq!(state(), ImageState::Normal);
    assert_eq!(probed(&task.files[0]).0, DiskFormat::Vmdk);
    assert_eq!(std::fs::read_dir(dir.path().join("b")).unwrap().count(), 1);
    s.delete_image(GZ, &image).unwrap();
}

/// The refusals, each with the code the cloud lists for it.
#[test]
fn exports_are_refused_with_the_clouds_codes() {
    let w = world();
    let dir = export_dir();
    let s = w
        .service(OWNER, 0)
        .with_export_dir(Some(dir.path().to_path_buf()));
    let image = custom(&s, GZ, "golden");
    let other = custom(&s, GZ, "other");
    let public = id("img-9qabwvbn");
    let export = |spec: ExportSpec| code(s.export_images(GZ, &spec));
    assert_eq!(
        export(spec("nope", &[&image], None)),
        Code::InvalidParameterValueBucketNotFound.as_str()
    );
    for bucket in ["", ".", "..", "b/..", "/b"] {
        assert_eq!(
            export(spec(bucket, &[&image], None)),
            Code::InvalidParameterValueBucketNotFound.as_str(),
            "{bucket}"
        );
    }
    let nowhere = w.service(OWNER, 0);
    assert_eq!(
        code(nowhere.export_images(GZ, &spec("b", &[&image], None))),
        Code::InvalidParameterValueBucketNotFound.as_str()
    );
    assert_eq!(
        export(spec("b", &[], None)),
        Code::InvalidParameterImageIdsSnapshotIdsMustOne.as_str()
    );
    assert_eq!(
        export(spec("b", &[&image], Some("qcow2"))),
        Code::InvalidParameterValue.as_str()
    );
    let mut prefixed = spec("b", &[&image, &other], None);
    prefixed.file_name_prefix_list = Some(vec!["one".into()]);
    assert_eq!(
        export(prefixed.clone()),
        Code::InvalidParameterValueInvalidFileNamePrefixList.as_str()
    );
    prefixed.file_name_prefix_list = Some(vec!["one".into(), "a/b".into()]);
    assert_eq!(
        export(prefixed),
        Code::InvalidParameterValueInvalidFileNamePrefixList.as_str()
    );
    assert_eq!(
        export(spec("b", &[&public], None)),
        Code::UnsupportedOperationPublicImageExportUnsupported.as_str()
    );
    assert_eq!(
        export(spec("b", &[&id("img-00000000")], None)),
        Code::InvalidImageIdNotFound.as_str()
    );
    s.share_image(GZ, &image, &[account(FRIEND)]).unwrap();
    let friend = w
        .service(FRIEND, 0)
        .with_export_dir(Some(dir.path().to_path_buf()));
    assert_eq!(
        code(friend.export_images(GZ, &spec("b", &[&image], None))),
        Code::UnsupportedOperationSharedImageExportUnsupported.as_str()
    );
    // All or none: a refused image leaves nothing written.
    assert_eq!(
        export(spec("b", &[&other, &public], None)),
        Code::UnsupportedOperationPublicImageExportUnsupported.as_str()
    );
    assert_eq!(std::fs::read_dir(dir.path().join("b")).unwrap().count(), 0);
    // A dry run checks and writes nothing.
    let mut dry = spec("b", &[&image], None);
    dry.dry_run = Some(true);
    assert_eq!(s.export_images(GZ, &dry).unwrap(), None);
    assert_eq!(std::fs::read_dir(dir.path().join("b")).unwrap().count(), 0);
}
