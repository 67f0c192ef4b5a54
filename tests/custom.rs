//! Mounted tests of the custom-image control files: rename, describe, share, unshare, copy_to,
//! delete, and the two-account sharing story on one store.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

const OWNER: &str = "100000000001";
const FRIEND: &str = "100000000002";

/// Makes a custom image in `region` through the mount (launch, then create_image).
fn make_image(mount: &Mount, region: &str, name: &str) -> PathBuf {
    let launch = mount.region(region).join("public/img-9qabwvbn/launch");
    command(&launch, "1").expect("launch");
    let instance = read(&launch).trim().to_string();
    let create = mount
        .region(region)
        .join("instances")
        .join(&instance)
        .join("create_image");
    command(&create, name).expect("create_image");
    let image = read(&create).trim().to_string();
    mount.region(region).join("custom").join(image)
}

fn image_id(dir: &Path) -> String {
    dir.file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned()
}

fn assert_refused(mount: &Mount, file: &Path, text: &str, errno: i32, code: &str) {
    let before = read(&mount.path("errors")).lines().count();
    assert_eq!(
        errno_of(command(file, text)),
        errno,
        "{} <- {text:?}",
        file.display()
    );
    assert_eq!(read(&mount.path("errors")).lines().count(), before + 1);
    let relative = file.strip_prefix(&mount.root).expect("inside the mount");
    let last = last_error(mount);
    assert!(
        last.contains(&format!(" write /{} {code} ", relative.display())),
        "{text:?}: {last}"
    );
}

fn assert_rmdir_refused(mount: &Mount, dir: &Path, errno: i32, code: &str) {
    assert_eq!(
        errno_of(std::fs::remove_dir(dir)),
        errno,
        "{}",
        dir.display()
    );
    let relative = dir.strip_prefix(&mount.root).expect("inside the mount");
    let last = last_error(mount);
    assert!(
        last.contains(&format!(" rmdir /{} {code} ", relative.display())),
        "{last}"
    );
}

/// Adds the second account to the store.
fn add_friend(scratch: &Scratch) {
    let out = run(
        imagefs_bin(),
        &[
            "accounts",
            "add",
            FRIEND,
            "--store",
            scratch.store().to_str().expect("p"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

fn setup(scratch: &Scratch, extra: &[&str]) -> (Mount, Mount) {
    add_friend(scratch);
    let mut args = vec!["--transition-delay", "0"];
    args.extend_from_slice(extra);
    (
        scratch.mount_with(Some(OWNER), &args),
        scratch.mount_with(Some(FRIEND), &args),
    )
}

#[test]
fn rename_and_describe() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount_with(None, &["--transition-delay", "0"]);
    let image = make_image(&mount, "ap-guangzhou", "web-base");
    let out = sh(&image, "echo 'web-base-v2' > name && echo 'nginx + app, Nov build' > description && cat name description");
    assert_eq!(
        stdout(&out),
        "web-base-v2\nnginx + app, Nov build\n",
        "{}",
        stderr(&out)
    );
    let meta = json(&image.join("metadata.json"));
    assert_eq!(meta["ImageName"], "web-base-v2");
    assert_eq!(meta["ImageDescription"], "nginx + app, Nov build");
    // stat agrees with cat at once: the kernel's cached sizes were dropped.
    for file in ["name", "description", "metadata.json"] {
        assert_eq!(
            std::fs::metadata(image.join(file)).expect("stat").len(),
            read(&image.join(file)).len() as u64,
            "{file}"
        );
    }
    let other = make_image(&mount, "ap-guangzhou", "other");
    assert_refused(
        &mount,
        &other.join("name"),
        "web-base-v2\n",
        libc::EEXIST,
        "InvalidImageName.Duplicate",
    );
    assert_refused(
        &mount,
        &other.join("name"),
        &"n".repeat(61),
        libc::EINVAL,
        "InvalidParameterValue.TooLarge",
    );
    assert_refused(
        &mount,
        &other.join("name"),
        "\n",
        libc::EINVAL,
        "InvalidParameterValue",
    );
    assert_refused(
        &mount,
        &other.join("description"),
        &"d".repeat(257),
        libc::EINVAL,
        "InvalidParameterValue.TooLarge",
    );
    assert_eq!(read(&other.join("name")), "other\n");
    // Public and marketplace images cannot be renamed.
    let public = mount.region("ap-guangzhou").join("public/img-9qabwvbn");
    assert_eq!(errno_of(command(&public.join("name"), "mine")), libc::EPERM);
    assert_eq!(errno_of(std::fs::remove_dir(&public)), libc::EPERM);
}

#[test]
fn the_two_account_sharing_story() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let (mine, theirs) = setup(&scratch, &[]);
    let image = make_image(&mine, "ap-guangzhou", "team-base");
    let id = image_id(&image);
    command(&image.join("share"), &format!("{FRIEND}\n")).expect("share");
    assert_eq!(read(&image.join("share")), format!("{FRIEND}\n"));

    // The friend's mount shows it under shared/ in that region only, within about a second.
    let shared = theirs.region("ap-guangzhou").join("shared").join(&id);
    assert!(wait_for_content(
        &shared.join("state"),
        "NORMAL\n",
        Duration::from_secs(3)
    ));
    assert_eq!(
        json(&shared.join("metadata.json"))["ImageType"],
        "SHARED_IMAGE"
    );
    assert!(!theirs
        .region("ap-shanghai")
        .join("shared")
        .join(&id)
        .exists());
    assert!(!theirs
        .region("ap-guangzhou")
        .join("custom")
        .join(&id)
        .exists());
    for absent in ["share", "unshare"] {
        assert!(!shared.join(absent).exists(), "{absent}");
    }

    // It can launch from it and copy it into its own custom images, in that region only.
    command(&shared.join("launch"), "2").expect("launch from a shared image");
    assert_eq!(read(&shared.join("launch")).lines().count(), 2);
    assert_refused(
        &theirs,
        &shared.join("copy_to"),
        "ap-shanghai",
        libc::EINVAL,
        "InvalidRegion.Unavailable",
    );
    command(&shared.join("copy_to"), "ap-guangzhou").expect("copy into own custom images");
    let copy_line = read(&shared.join("copy_to"));
    let copy_id = copy_line
        .trim()
        .strip_prefix("ap-guangzhou ")
        .expect("region and ID")
        .to_string();
    let copy = theirs.region("ap-guangzhou").join("custom").join(&copy_id);
    assert_eq!(json(&copy.join("metadata.json"))["ImageCreator"], FRIEND);
    assert_eq!(read(&copy.join("name")), "team-base\n");

    // It cannot rename, share, unshare or delete the original.
    assert_eq!(
        errno_of(command(&shared.join("name"), "taken")),
        libc::EPERM
    );
    assert_eq!(
        errno_of(command(&shared.join("description"), "taken")),
        libc::EPERM
    );
    // share and unshare do not exist for the receiver; creating them (as `echo >` does) is refused.
    assert_eq!(
        errno_of(std::fs::write(shared.join("share"), OWNER)),
        libc::EPERM
    );
    assert_eq!(
        errno_of(std::fs::write(shared.join("unshare"), FRIEND)),
        libc::EPERM
    );
    assert_eq!(errno_of(std::fs::remove_dir(&shared)), libc::EPERM);
    let errors = read(&theirs.path("errors"));
    assert!(
        errors.contains("UnsupportedOperation.SharedImageModifyUnsupported"),
        "{errors}"
    );
    assert_eq!(read(&image.join("name")), "team-base\n");

    // The owner must unshare before deleting.
    assert_rmdir_refused(&mine, &image, libc::EBUSY, "InvalidImageId.InShared");
    command(&image.join("unshare"), FRIEND).expect("unshare");
    assert_eq!(read(&image.join("share")), "");
    assert!(
        wait_until_gone(&shared, Duration::from_secs(3)),
        "the friend's view updates"
    );
    std::fs::remove_dir(&image).expect("delete");
    assert!(!image.exists());
    // The friend's own copy lives on.
    assert!(copy.join("metadata.json").exists());
}

fn wait_until_gone(path: &Path, limit: Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if !path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    !path.exists()
}

#[test]
fn sharing_rules() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let (mine, _theirs) = setup(&scratch, &[]);
    for extra in ["100000000003", "100000000004"] {
        run(
            imagefs_bin(),
            &[
                "accounts",
                "add",
                extra,
                "--store",
                scratch.store().to_str().expect("p"),
            ],
        );
    }
    let image = make_image(&mine, "ap-guangzhou", "rules");
    let share = image.join("share");
    assert_refused(
        &mine,
        &share,
        OWNER,
        libc::EINVAL,
        "InvalidAccountIs.YourSelf",
    );
    assert_refused(
        &mine,
        &share,
        "100000000099",
        libc::ENOENT,
        "InvalidAccountId.NotFound",
    );
    assert_refused(
        &mine,
        &share,
        "12ab",
        libc::EINVAL,
        "InvalidAccountId.NotFound",
    );
    assert_refused(&mine, &share, "\n", libc::EINVAL, "MissingParameter");
    // All or nothing: one unknown account refuses the whole write.
    assert_refused(
        &mine,
        &share,
        &format!("{FRIEND} 100000000099"),
        libc::ENOENT,
        "InvalidAccountId.NotFound",
    );
    assert_eq!(read(&share), "");
    // Whitespace or commas separate values.
    command(&share, &format!("{FRIEND},100000000003\n")).expect("two at once");
    assert_eq!(read(&share), format!("{FRIEND}\n100000000003\n"));
    assert_refused(
        &mine,
        &share,
        FRIEND,
        libc::EEXIST,
        "FailedOperation.AccountAlreadyExists",
    );
    let out = run(
        imagefs_bin(),
        &[
            "store",
            "set",
            "share-limit",
            "2",
            "--store",
            scratch.store().to_str().expect("p"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_refused(&mine, &share, "100000000004", libc::EDQUOT, "OverQuota");
    let unshare = image.join("unshare");
    assert_refused(
        &mine,
        &unshare,
        "100000000004",
        libc::ENOENT,
        "InvalidAccountId.NotFound",
    );
    assert_refused(
        &mine,
        &unshare,
        &format!("{FRIEND} 100000000004"),
        libc::ENOENT,
        "InvalidAccountId.NotFound",
    );
    assert_eq!(read(&share).lines().count(), 2, "nothing was unshared");
    command(&unshare, &format!("{FRIEND} 100000000003")).expect("unshare both");
    assert_eq!(read(&share), "");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&unshare)
            .expect("stat")
            .permissions()
            .mode()
            & 0o777,
        0o200
    );
    assert_eq!(
        std::fs::metadata(&share)
            .expect("stat")
            .permissions()
            .mode()
            & 0o777,
        0o644
    );
}

#[test]
fn copy_to_other_regions() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount_with(None, &["--transition-delay", "0"]);
    let image = make_image(&mount, "ap-guangzhou", "golden");
    let slow = scratch.mount_with(None, &["--transition-delay", "1"]);
    let copy_to = slow
        .region("ap-guangzhou")
        .join("custom")
        .join(image_id(&image))
        .join("copy_to");
    let out = sh(
        &slow.root,
        &format!(
            "echo ap-shanghai ap-beijing > {} && cat {}",
            copy_to.display(),
            copy_to.display()
        ),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let copies: Vec<(String, String)> = stdout(&out)
        .lines()
        .map(|l| {
            let (r, i) = l.split_once(' ').expect("region and ID");
            (r.to_string(), i.to_string())
        })
        .collect();
    assert_eq!(
        copies.iter().map(|(r, _)| r.as_str()).collect::<Vec<_>>(),
        vec!["ap-shanghai", "ap-beijing"]
    );
    // The source shows SYNCING while its copies are in progress, as the cloud's does.
    let source = slow
        .region("ap-guangzhou")
        .join("custom")
        .join(image_id(&image));
    assert_eq!(read(&source.join("state")), "SYNCING\n");
    for (region, id) in &copies {
        let dir = slow.region(region).join("custom").join(id);
        assert_eq!(read(&dir.join("state")), "SYNCING\n", "{region}");
        assert_eq!(read(&dir.join("name")), "golden\n");
        assert_eq!(
            json(&slow.region(region).join("quota.json"))["CustomImagesUsed"],
            1
        );
    }
    for (region, id) in &copies {
        let dir = slow.region(region).join("custom").join(id);
        assert!(wait_for_content(
            &dir.join("state"),
            "NORMAL\n",
            Duration::from_secs(5)
        ));
        assert_eq!(json(&dir.join("price.json"))["Free"], true);
    }
    // It is NORMAL again once they are done, in every mount.
    assert!(wait_for_content(
        &source.join("state"),
        "NORMAL\n",
        Duration::from_secs(5)
    ));
    assert!(wait_for_content(
        &image.join("state"),
        "NORMAL\n",
        Duration::from_secs(5)
    ));

    let copy_to = image.join("copy_to");
    assert_refused(
        &mount,
        &copy_to,
        "ap-singapore",
        libc::EINVAL,
        "InvalidRegion.Unavailable",
    );
    assert_refused(
        &mount,
        &copy_to,
        "ap-shenzhen-fsi",
        libc::EINVAL,
        "InvalidRegion.Unavailable",
    );
    assert_refused(
        &mount,
        &copy_to,
        "ap-atlantis",
        libc::ENOENT,
        "InvalidRegion.NotFound",
    );
    assert_refused(
        &mount,
        &copy_to,
        "ap-guangzhou",
        libc::EINVAL,
        "InvalidParameterValue.InvalidRegion",
    );
    // ap-shanghai already holds a `golden`: the whole write is refused, ap-nanjing included.
    assert_refused(
        &mount,
        &copy_to,
        "ap-nanjing ap-shanghai",
        libc::EEXIST,
        "InvalidImageName.Duplicate",
    );
    assert!(std::fs::read_dir(mount.region("ap-nanjing").join("custom"))
        .expect("dir")
        .next()
        .is_none());
    // Named otherwise (SyncImages JSON with ImageName), the copy goes where the name is taken.
    command(
        &copy_to,
        r#"{"DestinationRegions": ["ap-shanghai"], "ImageName": "golden-2"}"#,
    )
    .expect("a copy named golden-2");
    let named = read(&copy_to);
    let (region, id) = named.trim().split_once(' ').expect("region and ID");
    assert_eq!(region, "ap-shanghai");
    assert_eq!(
        read(&mount.region(region).join("custom").join(id).join("name")),
        "golden-2\n"
    );
    // The destination's quota counts.
    let out = run(
        imagefs_bin(),
        &[
            "store",
            "set",
            "custom-image-quota",
            "1",
            "--store",
            scratch.store().to_str().expect("p"),
        ],
    );
    assert!(out.status.success());
    make_image_expect_quota(&mount);
    assert_refused(
        &mount,
        &copy_to,
        "ap-chengdu",
        libc::EDQUOT,
        "ImageQuotaLimitExceeded",
    );
}

/// With a quota of 1, ap-chengdu takes one image of its own first.
fn make_image_expect_quota(mount: &Mount) {
    make_image(mount, "ap-chengdu", "local-one");
}

#[test]
fn transitional_images_cannot_be_shared_copied_or_deleted() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let (fast, _theirs) = setup(&scratch, &[]);
    let ids = {
        let launch = fast
            .region("ap-guangzhou")
            .join("public/img-9qabwvbn/launch");
        command(&launch, "1").expect("launch");
        read(&launch).trim().to_string()
    };
    let slow = scratch.mount_with(None, &["--transition-delay", "30"]);
    let create = slow
        .region("ap-guangzhou")
        .join("instances")
        .join(&ids)
        .join("create_image");
    command(&create, "slow-one").expect("create");
    let image = slow
        .region("ap-guangzhou")
        .join("custom")
        .join(read(&create).trim());
    assert_eq!(read(&image.join("state")), "CREATING\n");
    assert_refused(
        &slow,
        &image.join("share"),
        FRIEND,
        libc::EBUSY,
        "InvalidParameterValue.InvalidImageState",
    );
    assert_refused(
        &slow,
        &image.join("copy_to"),
        "ap-shanghai",
        libc::EBUSY,
        "InvalidImageId.IncorrectState",
    );
    assert_rmdir_refused(&slow, &image, libc::EBUSY, "InvalidImageId.IncorrectState");
    // Renaming is allowed in any state.
    command(&image.join("name"), "renamed-while-creating").expect("rename");
}

/// Files are read through the kernel's page cache, kept exact: a change made by another
/// mount drops what the kernel holds of the image within a few tenths of a second, whether
/// the size changed or not, and `stat` agrees with `cat` again at the same moment.
#[test]
fn a_change_made_elsewhere_is_read_exactly() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let a = scratch.mount_with(None, &["--transition-delay", "0"]);
    let b = scratch.mount_with(None, &["--transition-delay", "0"]);
    let image = make_image(&a, "ap-guangzhou", "short");
    let id = image_id(&image);
    let in_b = b.region("ap-guangzhou").join("custom").join(&id);
    // A reads twice (the second read comes from its page cache) and knows the size.
    assert_eq!(read(&image.join("name")), "short\n");
    assert_eq!(read(&image.join("name")), "short\n");
    assert_eq!(
        std::fs::metadata(image.join("name")).expect("stat").len(),
        6
    );
    let before = read(&image.join("metadata.json"));
    // Same size, other bytes.
    command(&in_b.join("name"), "shore").expect("rename elsewhere");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(read(&image.join("name")), "shore\n");
    // Listed (the kernel is handed the files' contents with the listing), then changed.
    let out = sh(&image, "grep -rl shore . | sort");
    assert_eq!(stdout(&out), "./metadata.json\n./name\n");
    command(&in_b.join("name"), "shark").expect("rename elsewhere");
    std::thread::sleep(Duration::from_millis(400));
    let out = sh(&image, "grep -rh shark .");
    assert!(stdout(&out).contains("shark\n"), "{}", stdout(&out));
    assert!(!stdout(&out).contains("shore"), "{}", stdout(&out));
    // Longer: never cut at the size the kernel held.
    command(&in_b.join("name"), "a-much-longer-name-than-before").expect("rename elsewhere");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        std::fs::metadata(image.join("name")).expect("stat").len(),
        31,
        "stat shows the new size"
    );
    assert_eq!(
        read(&image.join("name")),
        "a-much-longer-name-than-before\n"
    );
    let after = read(&image.join("metadata.json"));
    assert_ne!(before, after);
    assert!(
        serde_json::from_str::<serde_json::Value>(&after).is_ok(),
        "whole JSON: {after}"
    );
    for file in ["name", "metadata.json"] {
        assert_eq!(
            std::fs::metadata(image.join(file)).expect("stat").len(),
            read(&image.join(file)).len() as u64
        );
    }
    // A share list read in A, then changed through B (A keeps share lists briefly).
    add_friend(&scratch);
    assert_eq!(read(&image.join("share")), "");
    command(&in_b.join("share"), FRIEND).expect("share elsewhere");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(read(&image.join("share")), format!("{FRIEND}\n"));
    command(&in_b.join("unshare"), FRIEND).expect("unshare elsewhere");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(read(&image.join("share")), "");
    // Listings too: A lists custom/ (the kernel keeps the listing), B makes an image.
    let listing = |m: &Mount| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(m.region("ap-guangzhou").join("custom"))
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(listing(&a), vec![id.clone()]);
    assert_eq!(listing(&a), vec![id.clone()]);
    let second = image_id(&make_image(&b, "ap-guangzhou", "second"));
    std::thread::sleep(Duration::from_millis(400));
    let mut both = vec![id.clone(), second.clone()];
    both.sort();
    assert_eq!(listing(&a), both, "an image made elsewhere is listed");
    // Deleted elsewhere: gone from A too, though A looked it up moments ago.
    assert!(image.join("name").exists());
    std::fs::remove_dir(&in_b).expect("delete elsewhere");
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        !image.exists(),
        "the deleted image is gone from the other mount"
    );
    assert_eq!(listing(&a), vec![second], "and from its listing");
}

/// `regions/<r>/by-name/<kind>/<ImageName>` symlinks to the image directories.
#[test]
fn images_by_name() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let (mine, _theirs) = setup(&scratch, &[]);
    let region = mine.region("ap-guangzhou");
    let by_name = region.join("by-name");
    let centos = by_name.join("public/CentOS 7.6 64位");
    assert_eq!(
        std::fs::read_link(&centos).expect("readlink"),
        PathBuf::from("../../public/img-9qabwvbn")
    );
    assert_eq!(read(&centos.join("state")), "NORMAL\n");
    let out = sh(&by_name, "ls public | wc -l");
    let public = std::fs::read_dir(region.join("public"))
        .expect("dir")
        .count();
    assert_eq!(stdout(&out).trim(), public.to_string());

    let image = make_image(&mine, "ap-guangzhou", "web-base");
    let id = image_id(&image);
    assert_eq!(read(&by_name.join("custom/web-base/name")), "web-base\n");
    // Renamed: the link follows, including names that cannot be file names as they are.
    command(&image.join("name"), "team/web").expect("rename");
    let listed: Vec<String> = std::fs::read_dir(by_name.join("custom"))
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed, vec![format!("team_web.{id}")]);
    assert_eq!(
        std::fs::read_link(by_name.join("custom").join(format!("team_web.{id}")))
            .expect("readlink"),
        PathBuf::from(format!("../../custom/{id}"))
    );
    // Names shared by several images of a kind get the ID appended.
    let out = run(
        imagefs_bin(),
        &[
            "accounts",
            "add",
            "100000000003",
            "--store",
            scratch.store().to_str().expect("p"),
        ],
    );
    assert!(out.status.success());
    let third = scratch.mount_with(Some("100000000003"), &["--transition-delay", "0"]);
    let other_image = make_image(&third, "ap-guangzhou", "team/web");
    command(&other_image.join("share"), FRIEND).expect("share");
    command(&image.join("share"), FRIEND).expect("share");
    let friend = scratch.mount_with(Some(FRIEND), &[]);
    let mut shared: Vec<String> =
        std::fs::read_dir(friend.region("ap-guangzhou").join("by-name/shared"))
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
    shared.sort();
    let mut expected = vec![
        format!("team_web.{id}"),
        format!("team_web.{}", image_id(&other_image)),
    ];
    expected.sort();
    assert_eq!(shared, expected);
    // The links cannot be changed.
    assert_eq!(
        errno_of(std::fs::remove_file(
            by_name.join("custom").join(format!("team_web.{id}"))
        )),
        libc::EPERM
    );
}

/// `echo > file` in a loop costs two requests a write (the truncation and the write): the
/// truncation's reply carries the file's attributes, so the next `open` needs no GETATTR to
/// check permissions. And truncating without writing changes nothing.
#[test]
fn control_writes_in_a_loop_cost_no_getattr() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount_with(None, &["--transition-delay", "0"]);
    let image = make_image(&mount, "ap-guangzhou", "looped");
    let description = image.join("description");
    command(&description, "warm-up").expect("describe");
    let before = request_counts(&mount);
    let started = std::time::Instant::now();
    for i in 0..20 {
        command(&description, &format!("round {i}")).expect("describe");
    }
    let ticks = started.elapsed().as_millis() as u64 / 100 + 1;
    let after = request_counts(&mount);
    let served =
        |kind: &str| after.get(kind).copied().unwrap_or(0) - before.get(kind).copied().unwrap_or(0);
    assert_eq!(served("write"), 20);
    assert_eq!(served("setattr"), 20);
    // The only GETATTRs: the watcher drops the image's files (this one too) when it reads
    // these very changes in the store's journal, twice every 100 ms tick.
    assert!(
        served("getattr") <= 2 * ticks && served("getattr") < 20,
        "{} GETATTRs in {ticks} ticks: {after:?}",
        served("getattr")
    );
    assert_eq!(read(&description), "round 19\n");
    let out = sh(&image, ": > description; cat description");
    assert_eq!(stdout(&out), "round 19\n");
    assert_eq!(std::fs::metadata(&description).expect("stat").len(), 9);
}
