//! One conformance suite for both backends: the user stories of the scenarios, run once on
//! the local backend and once on the tencentcloud backend pointed at `imagefs serve` on the
//! same kind of store. They must behave the same.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

const OWNER: &str = "100000000001";
const FRIEND: &str = "100000000002";

fn wait(path: &Path, state: &str) {
    let out = run(
        imagefs_bin(),
        &[
            "wait",
            path.to_str().expect("p"),
            "--state",
            state,
            "--timeout",
            "10",
        ],
    );
    assert!(
        out.status.success(),
        "wait {}: {}",
        path.display(),
        stderr(&out)
    );
}

fn launch(region: &Path, image: &str, count: usize) -> Vec<String> {
    let file = region.join(image).join("launch");
    command(&file, &format!("{count}\n")).expect("launch");
    let ids: Vec<String> = read(&file).lines().map(str::to_owned).collect();
    assert_eq!(ids.len(), count);
    ids
}

fn make_image(region: &Path, name: &str) -> PathBuf {
    let ids = launch(region, "public/img-487zeit5", 1);
    let instance = region.join("instances").join(&ids[0]);
    wait(&instance, "RUNNING");
    command(&instance.join("create_image"), name).expect("create_image");
    let image = region
        .join("custom")
        .join(read(&instance.join("create_image")).trim());
    wait(&image, "NORMAL");
    image
}

fn last_error(mount: &Mount) -> String {
    read(&mount.path("errors"))
        .lines()
        .last()
        .unwrap_or("")
        .to_string()
}

fn golden_image_pipeline(backend: TestBackend) {
    let scratch = Scratch::new();
    let mount = scratch.mount_on(backend, OWNER);
    let region = mount.region("ap-guangzhou");
    let image = make_image(&region, "web-golden");
    let meta = json(&image.join("metadata.json"));
    assert_eq!(meta["ImageName"], "web-golden");
    assert_eq!(meta["ImageType"], "PRIVATE_IMAGE");
    assert_eq!(meta["OsName"], "Ubuntu Server 22.04 LTS 64位");
    let out = sh(
        &image,
        "echo ap-shanghai ap-beijing > copy_to && cat copy_to",
    );
    assert!(out.status.success(), "{backend:?}: {}", stderr(&out));
    let text = stdout(&out);
    let copies: Vec<&str> = text
        .lines()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(copies, vec!["ap-shanghai", "ap-beijing"], "{backend:?}");
    let copy_id = stdout(&out)
        .lines()
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .expect("id")
        .to_string();
    wait(
        &mount.region("ap-shanghai").join("custom").join(&copy_id),
        "NORMAL",
    );
    let ids = launch(
        &region,
        &format!(
            "custom/{}",
            image.file_name().expect("id").to_string_lossy()
        ),
        3,
    );
    let listed = std::fs::read_dir(region.join("instances"))
        .expect("instances")
        .count();
    assert_eq!(listed, 4, "{backend:?}: {ids:?}");
    assert_eq!(json(&region.join("quota.json"))["CustomImagesUsed"], 1);
}

fn sharing_story(backend: TestBackend) {
    let scratch = Scratch::new();
    let mine = scratch.mount_on(backend, OWNER);
    let theirs = scratch.mount_on(backend, FRIEND);
    let image = make_image(&mine.region("ap-guangzhou"), "team-base");
    let id = image
        .file_name()
        .expect("id")
        .to_string_lossy()
        .into_owned();
    command(&image.join("share"), FRIEND).expect("share");
    assert_eq!(read(&image.join("share")), format!("{FRIEND}\n"));
    let shared = theirs.region("ap-guangzhou").join("shared").join(&id);
    assert!(
        wait_for_content(&shared.join("state"), "NORMAL\n", Duration::from_secs(3)),
        "{backend:?}"
    );
    assert_eq!(
        json(&shared.join("metadata.json"))["ImageType"],
        "SHARED_IMAGE"
    );
    assert!(!theirs
        .region("ap-shanghai")
        .join("shared")
        .join(&id)
        .exists());
    launch(&theirs.region("ap-guangzhou"), &format!("shared/{id}"), 1);
    command(&shared.join("copy_to"), "ap-guangzhou").expect("copy into own images");
    assert_eq!(
        errno_of(command(&shared.join("name"), "taken")),
        libc::EPERM,
        "{backend:?}"
    );
    assert_eq!(
        errno_of(std::fs::remove_dir(&shared)),
        libc::EPERM,
        "{backend:?}"
    );
    assert_eq!(
        errno_of(std::fs::remove_dir(&image)),
        libc::EBUSY,
        "{backend:?}"
    );
    assert!(
        last_error(&mine).contains(" InvalidImageId.InShared "),
        "{backend:?}: {}",
        last_error(&mine)
    );
    command(&image.join("unshare"), FRIEND).expect("unshare");
    std::fs::remove_dir(&image).expect("delete");
    assert!(!image.exists());
}

fn rules_and_errno(backend: TestBackend) {
    let scratch = Scratch::new();
    let mount = scratch.mount_on(backend, OWNER);
    let region = mount.region("ap-guangzhou");
    let image = make_image(&region, "rules");
    let other = make_image(&region, "other");
    for (file, text, errno, code) in [
        (
            other.join("name"),
            "n".repeat(61),
            libc::EINVAL,
            "InvalidParameterValue.TooLarge",
        ),
        (
            other.join("name"),
            "rules".to_string(),
            libc::EEXIST,
            "InvalidImageName.Duplicate",
        ),
        (
            image.join("share"),
            OWNER.to_string(),
            libc::EINVAL,
            "InvalidAccountIs.YourSelf",
        ),
        (
            image.join("share"),
            "100000000099".to_string(),
            libc::ENOENT,
            "InvalidAccountId.NotFound",
        ),
        (
            image.join("copy_to"),
            "ap-singapore".to_string(),
            libc::EINVAL,
            "InvalidRegion.Unavailable",
        ),
        (
            image.join("launch"),
            "0".to_string(),
            libc::EINVAL,
            "InvalidParameterValue.Range",
        ),
    ] {
        assert_eq!(
            errno_of(command(&file, &text)),
            errno,
            "{backend:?}: {} <- {text}",
            file.display()
        );
        assert!(
            last_error(&mount).contains(&format!(" {code} ")),
            "{backend:?}: {}",
            last_error(&mount)
        );
    }
    let store = scratch.store().to_string_lossy().into_owned();
    let out = run(
        imagefs_bin(),
        &["store", "set", "custom-image-quota", "2", "--store", &store],
    );
    assert!(out.status.success());
    let ids = launch(&region, "public/img-9qabwvbn", 1);
    let instance = region.join("instances").join(&ids[0]);
    wait(&instance, "RUNNING");
    assert_eq!(
        errno_of(command(&instance.join("create_image"), "third")),
        libc::EDQUOT,
        "{backend:?}"
    );
    assert!(
        last_error(&mount).contains(" ImageQuotaLimitExceeded "),
        "{backend:?}"
    );
}

fn backup_restore_and_terminate(backend: TestBackend) {
    let scratch = Scratch::new();
    let mount = scratch.mount_on(backend, OWNER);
    let region = mount.region("ap-guangzhou");
    let ids = launch(&region, "public/img-9qabwvbn", 2);
    let instance = region.join("instances").join(&ids[0]);
    wait(&instance, "RUNNING");
    command(&instance.join("create_image"), "db-backup").expect("backup");
    let backup = read(&instance.join("create_image")).trim().to_string();
    wait(&region.join("custom").join(&backup), "NORMAL");
    command(&instance.join("reset"), "img-487zeit5").expect("reset");
    wait(&instance, "RUNNING");
    assert_eq!(
        json(&instance.join("metadata.json"))["ImageId"],
        "img-487zeit5",
        "{backend:?}"
    );
    command(&instance.join("reset"), &backup).expect("restore");
    wait(&instance, "RUNNING");
    assert_eq!(
        json(&instance.join("metadata.json"))["ImageId"],
        backup.as_str(),
        "{backend:?}"
    );
    assert_eq!(
        errno_of(command(&instance.join("reset"), "img-zzzzzzzz")),
        libc::ENOENT,
        "{backend:?}"
    );
    std::fs::remove_dir(region.join("instances").join(&ids[1])).expect("terminate");
    assert!(
        !region.join("instances").join(&ids[1]).exists(),
        "{backend:?}"
    );
}

fn import_a_disk(backend: TestBackend) {
    let scratch = Scratch::new();
    let mount = scratch.mount_on(backend, OWNER);
    let region = mount.region("ap-guangzhou");
    let disk = scratch.path().join("app.qcow2");
    make_disk(&disk, "qcow2", "20G");
    let spec = format!(
        r#"{{"ImageName":"app-1.4","ImageUrl":"{}","OsType":"Ubuntu","OsVersion":"22.04","Architecture":"x86_64"}}"#,
        disk.display()
    );
    command(&region.join("import"), &spec).expect("import");
    let image = region
        .join("custom")
        .join(read(&region.join("import")).trim());
    wait(&image, "NORMAL");
    let meta = json(&image.join("metadata.json"));
    assert_eq!(meta["ImageSize"], 20, "{backend:?}");
    assert_eq!(meta["ImageSource"], "EXTERNAL_IMPORT", "{backend:?}");
    let bad = spec.replace("Ubuntu", "Plan9");
    assert_eq!(
        errno_of(command(&region.join("import"), &bad)),
        libc::EINVAL,
        "{backend:?}"
    );
    assert!(
        last_error(&mount).contains(" InvalidImageOsType.Unsupported "),
        "{backend:?}"
    );
}

/// Walking and reading the tree with ordinary tools: sizes agree with contents, image
/// directories carry their CreatedTime, `by-name` links resolve, `find | xargs cat` reads all.
fn reading_the_tree(backend: TestBackend) {
    let scratch = Scratch::new();
    let mount = scratch.mount_on(backend, OWNER);
    let region = mount.region("ap-guangzhou");
    let image = region.join("public/img-9qabwvbn");
    for file in [
        "metadata.json",
        "name",
        "state",
        "price.json",
        "description",
    ] {
        let path = image.join(file);
        assert_eq!(
            std::fs::metadata(&path).expect("stat").len(),
            read(&path).len() as u64,
            "{backend:?}: {file}"
        );
    }
    let meta = json(&image.join("metadata.json"));
    assert_eq!(meta["ImageName"], "CentOS 7.6 64位", "{backend:?}");
    let created = std::fs::metadata(&image)
        .expect("stat")
        .modified()
        .expect("mtime");
    let expected = imagefs::model::parse_api_time(meta["CreatedTime"].as_str().expect("time"))
        .expect("CreatedTime parses");
    assert_eq!(
        created, expected,
        "{backend:?}: a directory's mtime is its CreatedTime"
    );
    assert_eq!(
        std::fs::read_link(region.join("by-name/public/CentOS 7.6 64位")).expect("link"),
        PathBuf::from("../../public/img-9qabwvbn"),
        "{backend:?}"
    );
    let out = sh(
        &region,
        "find public -type f -name state | xargs cat | sort | uniq -c | wc -l",
    );
    assert!(out.status.success(), "{backend:?}: {}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "1",
        "{backend:?}: every public image is NORMAL"
    );
    let out = sh(
        &region,
        "grep -l '\"ImageState\": \"NORMAL\"' -r public | wc -l",
    );
    let listed = std::fs::read_dir(region.join("public"))
        .expect("dir")
        .count();
    assert_eq!(stdout(&out).trim(), listed.to_string(), "{backend:?}");
}

/// Changes made through another mount of the same account show in this one: a new image is
/// listed, a rename is read in full, a deleted image disappears.
fn changes_made_elsewhere(backend: TestBackend) {
    let scratch = Scratch::new();
    let here = scratch.mount_on(backend, OWNER);
    let there = scratch.mount_on(backend, OWNER);
    let custom = here.region("ap-guangzhou").join("custom");
    assert_eq!(std::fs::read_dir(&custom).expect("dir").count(), 0);
    let made = make_image(&there.region("ap-guangzhou"), "made-there");
    let id = made.file_name().expect("id").to_string_lossy().into_owned();
    let name_here = custom.join(&id).join("name");
    let listed = || {
        std::fs::read_dir(&custom)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while listed() != vec![id.clone()] && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(listed(), vec![id.clone()], "{backend:?}");
    assert_eq!(read(&name_here), "made-there\n", "{backend:?}");
    command(&made.join("name"), "renamed-there-to-something-longer").expect("rename");
    assert!(
        wait_for_content(
            &name_here,
            "renamed-there-to-something-longer\n",
            Duration::from_secs(3)
        ),
        "{backend:?}: {:?}",
        read(&name_here)
    );
    assert_eq!(
        std::fs::metadata(&name_here).expect("stat").len(),
        34,
        "{backend:?}: stat agrees"
    );
    std::fs::remove_dir(&made).expect("delete there");
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while custom.join(&id).exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!custom.join(&id).exists(), "{backend:?}");
    assert!(listed().is_empty(), "{backend:?}");
}

/// The tree's shape is the image service's: creating, renaming, removing entries, changing
/// modes and writing to read-only files are refused with EPERM and recorded.
fn the_tree_is_not_a_scratch_disk(backend: TestBackend) {
    let scratch = Scratch::new();
    let mount = scratch.mount_on(backend, OWNER);
    let region = mount.region("ap-guangzhou");
    let image = region.join("public/img-9qabwvbn");
    let custom = region.join("custom");
    assert_eq!(
        errno_of(std::fs::create_dir(custom.join("img-aaaaaaaa"))),
        libc::EPERM
    );
    assert_eq!(
        errno_of(std::fs::write(custom.join("notes"), b"x")),
        libc::EPERM
    );
    assert_eq!(
        errno_of(std::fs::remove_file(image.join("name"))),
        libc::EPERM
    );
    assert_eq!(
        errno_of(std::fs::rename(image.join("name"), image.join("other"))),
        libc::EPERM
    );
    assert_eq!(
        errno_of(std::fs::remove_dir(&image)),
        libc::EPERM,
        "{backend:?}"
    );
    let out = sh(&image, "echo changed > metadata.json");
    assert!(!out.status.success(), "{backend:?}");
    assert!(
        stderr(&out).contains("Operation not permitted"),
        "{backend:?}: {}",
        stderr(&out)
    );
    // Opening without O_TRUNC reaches nothing that could refuse; the write is refused.
    let append = std::fs::OpenOptions::new()
        .append(true)
        .open(image.join("name"))
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"changed\n"));
    assert_eq!(errno_of(append), libc::EPERM, "{backend:?}");
    assert!(
        last_error(&mount).contains(
            " write /regions/ap-guangzhou/public/img-9qabwvbn/name UnsupportedOperation "
        ),
        "{backend:?}: {}",
        last_error(&mount)
    );
    assert_eq!(
        read(&image.join("name")),
        "CentOS 7.6 64位\n",
        "{backend:?}"
    );
    let meta = read(&image.join("metadata.json"));
    assert!(
        serde_json::from_str::<serde_json::Value>(&meta).is_ok(),
        "{backend:?}"
    );
}

/// A bare `launch` puts the instance in the region's first available zone, and its
/// `metadata.json` is the whole `Instance` (the members Terraform reads unconditionally
/// among them), the same through the API as in the emulator.
fn instances_are_whole(backend: TestBackend) {
    let scratch = Scratch::new();
    let mount = scratch.mount_on(backend, OWNER);
    let region = mount.region("ap-guangzhou");
    let ids = launch(&region, "public/img-9qabwvbn", 2);
    let instance = region.join("instances").join(&ids[0]);
    wait(&instance, "RUNNING");
    let meta = json(&instance.join("metadata.json"));
    assert_eq!(meta["Placement"]["Zone"], "ap-guangzhou-2", "{backend:?}");
    assert_eq!(
        meta["SystemDisk"]["DiskType"], "CLOUD_PREMIUM",
        "{backend:?}"
    );
    assert_eq!(meta["SystemDisk"]["DiskSize"], 50, "{backend:?}");
    assert_eq!(
        meta["InternetAccessible"]["InternetChargeType"], "TRAFFIC_POSTPAID_BY_HOUR",
        "{backend:?}"
    );
    let vpc = meta["VirtualPrivateCloud"]["VpcId"].as_str().unwrap_or("");
    assert!(
        vpc.starts_with("vpc-") && vpc.len() == 12,
        "{backend:?}: {meta}"
    );
    assert!(
        meta["SecurityGroupIds"][0]
            .as_str()
            .unwrap_or("")
            .starts_with("sg-"),
        "{backend:?}: {meta}"
    );
    assert_eq!(meta["Uuid"].as_str().map(str::len), Some(36), "{backend:?}");
    assert_eq!(
        meta["LoginSettings"]["KeyIds"],
        serde_json::json!([]),
        "{backend:?}"
    );
    assert_eq!(
        meta["InstanceChargeType"], "POSTPAID_BY_HOUR",
        "{backend:?}"
    );
    assert!(meta["ExpiredTime"].is_null(), "{backend:?}");
    let other = json(&region.join("instances").join(&ids[1]).join("metadata.json"));
    assert_eq!(other["VirtualPrivateCloud"]["VpcId"], vpc, "{backend:?}");
    assert_ne!(other["Uuid"], meta["Uuid"], "{backend:?}");
}

macro_rules! on_both_backends {
    ($($scenario:ident),*) => {
        mod local {
            $(#[test] fn $scenario() { if super::fuse_available() { super::$scenario(super::TestBackend::Local) } })*
        }
        mod cloud {
            $(#[test] fn $scenario() { if super::fuse_available() { super::$scenario(super::TestBackend::Cloud) } })*
        }
    };
}

on_both_backends!(
    golden_image_pipeline,
    sharing_story,
    rules_and_errno,
    backup_restore_and_terminate,
    import_a_disk,
    reading_the_tree,
    changes_made_elsewhere,
    the_tree_is_not_a_scratch_disk,
    instances_are_whole
);
