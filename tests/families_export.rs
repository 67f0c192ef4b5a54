//! Mounted tests of image families (`regions/<r>/families/<family>`) and exports (a custom
//! image's `export` file, `--export-dir`), and the Python SDK's story of both against
//! `imagefs serve`.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

const OWNER: &str = "100000000001";
const FRIEND: &str = "100000000002";
const GZ: &str = "ap-guangzhou";
const GIB: u64 = 1 << 30;
/// How long a test waits for a state the transition delay brings (not a timed assertion:
/// the delay is a second).
const STATE_WAIT: Duration = Duration::from_secs(30);

/// Makes a custom image through the mount (launch, then create_image with `json`).
fn make_image(mount: &Mount, json: &str) -> String {
    let instance = launch_one(mount, GZ, "img-9qabwvbn");
    let state = mount
        .region(GZ)
        .join("instances")
        .join(&instance)
        .join("state");
    assert!(
        wait_for_content(&state, "RUNNING\n", STATE_WAIT),
        "{instance} runs"
    );
    let create = mount
        .region(GZ)
        .join("instances")
        .join(&instance)
        .join("create_image");
    command(&create, json).expect("create_image");
    let image = read(&create).trim().to_string();
    let state = mount.region(GZ).join("custom").join(&image).join("state");
    assert!(
        wait_for_content(&state, "NORMAL\n", STATE_WAIT),
        "{image} is made"
    );
    image
}

fn family_target(mount: &Mount, family: &str) -> std::io::Result<PathBuf> {
    std::fs::read_link(mount.region(GZ).join("families").join(family))
}

fn families(mount: &Mount) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(mount.region(GZ).join("families"))
        .expect("families/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn modify(scratch: &Scratch, image: &str, members: serde_json::Value) {
    let key = scratch.key_pair(OWNER);
    let mut body = members;
    body["ImageId"] = image.into();
    let answer = signed_call(
        &scratch.server_url(),
        &key,
        GZ,
        "ModifyImageAttribute",
        &body,
    );
    assert!(answer.get("Error").is_none(), "{answer}");
}

/// `families/web` follows the family: the newest image made in it, the previous one when the
/// newest is deprecated, the newest again when undeprecated, the previous one when the newest
/// is deleted, nothing when every image is deprecated. `metadata.json` shows the members.
#[test]
fn a_familys_link_follows_create_deprecate_and_delete() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount_with(None, &["--transition-delay", "0"]);
    assert!(families(&mount).is_empty());
    let old = make_image(&mount, r#"{"ImageName":"web-1","ImageFamily":"web"}"#);
    let new = make_image(&mount, r#"{"ImageName":"web-2","ImageFamily":"web"}"#);
    make_image(&mount, "no-family");
    assert_eq!(families(&mount), vec!["web".to_string()]);
    let link = |id: &str| PathBuf::from(format!("../custom/{id}"));
    assert_eq!(family_target(&mount, "web").expect("web"), link(&new));
    let metadata = mount.region(GZ).join("families/web/metadata.json");
    let image = json(&metadata);
    assert_eq!(image["ImageId"], new.as_str());
    assert_eq!(image["ImageFamily"], "web");
    assert_eq!(image["ImageDeprecated"], false);

    modify(&scratch, &new, serde_json::json!({"ImageDeprecated": true}));
    assert_eq!(family_target(&mount, "web").expect("web"), link(&old));
    assert_eq!(json(&metadata)["ImageId"], old.as_str());
    // The image's own files show it once the mount learns of the change made elsewhere.
    let deprecated = mount
        .region(GZ)
        .join("custom")
        .join(&new)
        .join("metadata.json");
    let shown = std::time::Instant::now() + STATE_WAIT;
    while json(&deprecated)["ImageDeprecated"] != true {
        assert!(
            std::time::Instant::now() < shown,
            "the deprecation never showed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    modify(
        &scratch,
        &new,
        serde_json::json!({"ImageDeprecated": false}),
    );
    assert_eq!(json(&metadata)["ImageId"], new.as_str());

    std::fs::remove_dir(mount.region(GZ).join("custom").join(&new)).expect("rmdir");
    assert_eq!(family_target(&mount, "web").expect("web"), link(&old));
    assert_eq!(json(&metadata)["ImageId"], old.as_str());

    modify(&scratch, &old, serde_json::json!({"ImageDeprecated": true}));
    assert_eq!(errno_of(family_target(&mount, "web")), libc::ENOENT);
    assert_eq!(errno_of(std::fs::read_to_string(&metadata)), libc::ENOENT);
    assert!(families(&mount).is_empty());
}

/// A family that breaks the rule is refused with the cloud's code.
#[test]
fn a_malformed_family_is_refused() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount_with(None, &["--transition-delay", "0"]);
    let instance = launch_one(&mount, GZ, "img-9qabwvbn");
    let create = mount
        .region(GZ)
        .join("instances")
        .join(&instance)
        .join("create_image");
    assert_eq!(
        errno_of(command(
            &create,
            r#"{"ImageName":"x","ImageFamily":"web/1"}"#
        )),
        libc::EINVAL
    );
    assert!(
        last_error(&mount).contains("InvalidParameterValue.InvalidImageFamily"),
        "{}",
        last_error(&mount)
    );
}

/// What `qemu-img info --output=json` says of a file.
fn qemu_info(path: &Path) -> serde_json::Value {
    let out = Command::new("qemu-img")
        .args(["info", "--output=json"])
        .arg(path)
        .output()
        .expect("qemu-img (apt-get install qemu-utils)");
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// A mount with the transition delay `delay` exporting to `exports_dir`; that directory too.
fn mount_exporting(scratch: &Scratch, delay: &str) -> (PathBuf, Mount) {
    let exports = exports_dir(scratch);
    let exports_arg = exports.to_string_lossy().into_owned();
    let mount = scratch.mount_with(
        None,
        &["--transition-delay", delay, "--export-dir", &exports_arg],
    );
    (exports, mount)
}

/// The directory `--export-dir` names, holding one bucket folder, `bucket`.
fn exports_dir(scratch: &Scratch) -> PathBuf {
    let exports = scratch.path().join("exports");
    std::fs::create_dir_all(exports.join("bucket")).expect("bucket");
    exports
}

fn have_qemu_img() -> bool {
    have("qemu-img", &["--version"], "apt-get install qemu-utils")
}

/// Each format's export is EXPORTING (and cannot be deleted) until its file is in place, then
/// NORMAL; the file is the disk `qemu-img` reads with the image's size, sound, and sparse.
#[test]
fn an_export_writes_a_sparse_disk_qemu_img_reads_at_the_images_size() {
    if !fuse_available() || !have_qemu_img() {
        return;
    }
    let scratch = Scratch::new();
    let (exports, mount) = mount_exporting(&scratch, "1");
    let image = make_image(&mount, "golden");
    let dir = mount.region(GZ).join("custom").join(&image);
    let size = json(&dir.join("metadata.json"))["ImageSize"]
        .as_u64()
        .expect("ImageSize");
    for (format, qemu_format, checkable) in [
        ("RAW", "raw", false),
        ("QCOW2", "qcow2", true),
        ("VHD", "vpc", false),
        ("VMDK", "vmdk", true),
    ] {
        command(&dir.join("export"), &format!("bucket {format} nightly")).expect("export");
        let file = PathBuf::from(read(&dir.join("export")).trim());
        assert_eq!(file.parent(), Some(exports.join("bucket").as_path()));
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert!(
            name.starts_with(&format!("nightly_{image}_system_snap-")),
            "{name}"
        );
        assert!(
            name.ends_with(&format!(".{}", format.to_lowercase())),
            "{name}"
        );
        assert_eq!(read(&dir.join("state")), "EXPORTING\n");
        assert_eq!(errno_of(std::fs::remove_dir(&dir)), libc::EBUSY);
        assert!(last_error(&mount).contains("InvalidImageId.IncorrectState"));
        assert!(
            wait_for_content(&dir.join("state"), "NORMAL\n", STATE_WAIT),
            "{format}: the export ends"
        );
        // NORMAL means the file is in place.
        let info = qemu_info(&file);
        assert_eq!(info["format"], qemu_format, "{info}");
        assert_eq!(info["virtual-size"].as_u64(), Some(size * GIB), "{info}");
        let blocks = std::fs::metadata(&file).expect("file").blocks();
        assert!(
            blocks * 512 < 4 << 20,
            "{format}: {blocks} blocks are not sparse"
        );
        if checkable {
            let check = Command::new("qemu-img")
                .arg("check")
                .arg(&file)
                .output()
                .expect("qemu-img check");
            assert!(check.status.success(), "{format}: {}", stdout(&check));
        }
    }
    // Only the four files: no hidden file is left.
    assert_eq!(
        std::fs::read_dir(exports.join("bucket"))
            .expect("bucket")
            .count(),
        4
    );
}

/// Refusals: a missing bucket, a mount without --export-dir (both the cloud's
/// BucketNotFound, ENOENT); shared and public images have no `export` file, and through the
/// API are refused with the cloud's codes.
#[test]
fn exports_are_refused_with_the_clouds_codes() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let (exports, mount) = mount_exporting(&scratch, "0");
    let image = make_image(&mount, "golden");
    let export = mount.region(GZ).join("custom").join(&image).join("export");
    assert_eq!(errno_of(command(&export, "nope RAW")), libc::ENOENT);
    assert!(last_error(&mount).contains("InvalidParameterValue.BucketNotFound"));
    assert_eq!(errno_of(command(&export, "bucket raw")), libc::EINVAL);
    assert_eq!(errno_of(command(&export, "../exports RAW")), libc::ENOENT);
    let elsewhere = scratch.mount_with(None, &["--transition-delay", "0"]);
    let export_elsewhere = elsewhere
        .region(GZ)
        .join("custom")
        .join(&image)
        .join("export");
    assert_eq!(
        errno_of(command(&export_elsewhere, "bucket RAW")),
        libc::ENOENT
    );
    assert!(last_error(&elsewhere).contains("InvalidParameterValue.BucketNotFound"));

    // Public and shared images have no export file.
    let public = mount.region(GZ).join("public/img-9qabwvbn/export");
    assert_eq!(errno_of(command(&public, "bucket RAW")), libc::ENOENT);
    scratch.key_pair(FRIEND);
    command(
        &mount.region(GZ).join("custom").join(&image).join("share"),
        FRIEND,
    )
    .expect("share");
    let exports_arg = exports.to_string_lossy().into_owned();
    let friend = scratch.mount_with(Some(FRIEND), &["--export-dir", &exports_arg]);
    let shared = friend.region(GZ).join("shared").join(&image);
    assert!(shared.is_dir());
    assert_eq!(
        errno_of(command(&shared.join("export"), "bucket RAW")),
        libc::ENOENT
    );

    // Through the API: the cloud's codes.
    let (server, url) = start_server(
        &scratch.store(),
        &["--export-dir".as_ref(), exports.as_os_str()],
    );
    let _server = KillOnDrop(server);
    let refused = |account: &str, image: &str| {
        let key = scratch.key_pair(account);
        let body = serde_json::json!({"BucketName": "bucket", "ImageIds": [image]});
        let answer = signed_call(&url, &key, GZ, "ExportImages", &body);
        answer["Error"]["Code"].as_str().unwrap_or("").to_string()
    };
    assert_eq!(
        refused(FRIEND, &image),
        "UnsupportedOperation.SharedImageExportUnsupported"
    );
    assert_eq!(
        refused(OWNER, "img-9qabwvbn"),
        "UnsupportedOperation.PublicImageExportUnsupported"
    );
    assert_eq!(
        std::fs::read_dir(exports.join("bucket"))
            .expect("bucket")
            .count(),
        0
    );
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The Python SDK's story (tests/sdk/families_export.py) against `imagefs serve
/// --export-dir`: families rolled forward and back, an export watched from EXPORTING to
/// NORMAL and its refusals; the file it names is the disk it says.
#[test]
fn the_python_sdk_runs_the_families_and_export_story() {
    if !have_python_sdk() {
        return;
    }
    let scratch = Scratch::new();
    let exports = exports_dir(&scratch);
    let owner = scratch.key_pair(OWNER);
    let friend = scratch.key_pair(FRIEND);
    let (server, url) = start_server(
        &scratch.store(),
        &[
            "--export-dir".as_ref(),
            exports.as_os_str(),
            "--transition-delay".as_ref(),
            "1".as_ref(),
        ],
    );
    let _server = KillOnDrop(server);
    let said = python_story(
        "families_export.py",
        &url,
        (OWNER, &owner),
        (FRIEND, &friend),
        "story complete\n",
    );
    let cos_path = said
        .lines()
        .find_map(|l| l.strip_prefix("exported "))
        .expect("the story names its file");
    let size: u64 = said
        .lines()
        .find_map(|l| l.strip_prefix("size "))
        .and_then(|s| s.parse().ok())
        .expect("the story gives the image's size");
    let file = exports
        .join("bucket")
        .join(cos_path.trim_start_matches('/'));
    let mut opened = std::fs::File::open(&file).expect("the exported file");
    let mut magic = [0u8; 4];
    std::io::Read::read_exact(&mut opened, &mut magic).expect("header");
    assert_eq!(&magic, b"QFI\xfb");
    if have_qemu_img() {
        let info = qemu_info(&file);
        assert_eq!(info["format"], "qcow2");
        assert_eq!(info["virtual-size"].as_u64(), Some(size * GIB));
    }
}
