//! Mounted tests of the image lifecycle: launch, instances, create_image, reset, terminate,
//! import, fees, asynchronous states and every refusal's errno and `errors` line.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

const CENTOS: &str = "public/img-9qabwvbn";
const WINDOWS: &str = "public/img-9tzezztj";

fn instant(scratch: &Scratch) -> Mount {
    scratch.mount_with(None, &["--transition-delay", "0"])
}

fn lines(path: &Path) -> Vec<String> {
    read(path).lines().map(str::to_owned).collect()
}

/// Launches `count` instances of `image` (relative to the region) and returns their IDs.
fn launch(mount: &Mount, region: &str, image: &str, count: usize) -> Vec<String> {
    let file = mount.region(region).join(image).join("launch");
    command(&file, &format!("{count}\n")).expect("launch");
    let ids = lines(&file);
    assert_eq!(ids.len(), count);
    ids
}

/// Asserts that writing `text` to `file` fails with `errno`, and that `errors` gained a line
/// for it with `code`.
fn assert_refused(mount: &Mount, file: &Path, text: &str, errno: i32, code: &str) {
    let before = read(&mount.path("errors")).lines().count();
    let result = command(file, text);
    assert_eq!(errno_of(result), errno, "{} <- {text:?}", file.display());
    let errors = read(&mount.path("errors"));
    assert_eq!(
        errors.lines().count(),
        before + 1,
        "one errors line per refusal: {errors}"
    );
    let last = last_error(mount);
    let relative = file.strip_prefix(&mount.root).expect("inside the mount");
    assert!(
        last.contains(&format!(" write /{} {code} ", relative.display())),
        "errors line for {text:?}: {last}"
    );
}

#[test]
fn launch_a_batch_of_instances() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = instant(&scratch);
    let region = mount.region("ap-guangzhou");
    // The shell idiom of the README: echo, then cat the IDs it created.
    let out = sh(
        &region,
        "echo 3 > public/img-9qabwvbn/launch && cat public/img-9qabwvbn/launch",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let ids: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(ids.len(), 3);
    let mut listed: Vec<String> = std::fs::read_dir(region.join("instances"))
        .expect("instances")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    listed.sort();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(listed, sorted);
    // stat agrees with cat right after the write.
    let launch_file = region.join(CENTOS).join("launch");
    assert_eq!(
        std::fs::metadata(&launch_file).expect("stat").len(),
        read(&launch_file).len() as u64
    );

    let instance = region.join("instances").join(&ids[0]);
    let meta = json(&instance.join("metadata.json"));
    assert_eq!(meta["InstanceId"], ids[0].as_str());
    assert_eq!(meta["ImageId"], "img-9qabwvbn");
    assert_eq!(meta["OsName"], "CentOS 7.6 64位");
    assert_eq!(meta["InstanceState"], "RUNNING");
    assert_eq!(meta["InstanceType"], "S5.MEDIUM2");
    assert!(meta["Placement"]["Zone"]
        .as_str()
        .expect("zone")
        .starts_with("ap-guangzhou-"));
    assert!(meta["CreatedTime"].as_str().expect("time").ends_with('Z'));
    assert_eq!(read(&instance.join("state")), "RUNNING\n");
    // Instances are per region and per account.
    assert!(
        std::fs::read_dir(mount.region("ap-shanghai").join("instances"))
            .expect("dir")
            .next()
            .is_none()
    );
    let other = scratch.mount_with(Some("100000000002"), &[]);
    assert!(
        std::fs::read_dir(other.region("ap-guangzhou").join("instances"))
            .expect("dir")
            .next()
            .is_none()
    );
}

#[test]
fn launch_takes_a_runinstances_spec() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = instant(&scratch);
    let market = mount.region("ap-guangzhou").join("marketplace");
    let image = std::fs::read_dir(&market)
        .expect("marketplace")
        .next()
        .expect("an image")
        .expect("entry")
        .path();
    let file = image.join("launch");
    command(
        &file,
        r#"{"InstanceCount":2,"InstanceName":"web","InstanceType":"S5.LARGE8","Placement":{"Zone":"ap-guangzhou-3"}}"#,
    )
    .expect("launch");
    let ids = lines(&file);
    assert_eq!(ids.len(), 2);
    let names: Vec<String> = ids
        .iter()
        .map(|id| {
            let meta = json(
                &mount
                    .region("ap-guangzhou")
                    .join("instances")
                    .join(id)
                    .join("metadata.json"),
            );
            assert_eq!(meta["InstanceType"], "S5.LARGE8");
            assert_eq!(meta["CPU"], 4);
            assert_eq!(meta["Memory"], 8);
            assert_eq!(meta["Placement"]["Zone"], "ap-guangzhou-3");
            meta["InstanceName"].as_str().expect("name").to_owned()
        })
        .collect();
    assert_eq!(names, vec!["web1", "web2"]);
}

/// A JSON command is the action's request, read as `imagefs serve` reads it: a member of the
/// wrong type, an unknown one, a missing one or one imagefs does not emulate is refused with
/// the API's code, named in the `errors` line; `null` is a member not given.
#[test]
fn json_commands_are_read_as_the_api_reads_requests() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = instant(&scratch);
    let region = mount.region("ap-guangzhou");
    let launch = region.join(CENTOS).join("launch");
    std::fs::write(scratch.path().join("disk.raw"), vec![0u8; 1 << 20]).expect("disk");
    let disk = scratch.path().join("disk.raw");
    let import = |extra: &str| {
        format!(
            r#"{{"ImageName":"imp","ImageUrl":"{}","OsType":"CentOS","OsVersion":"7","Architecture":"x86_64"{extra}}}"#,
            disk.display()
        )
    };
    let refusals = [
        (
            launch.clone(),
            r#"{"InstanceCount":"3"}"#.to_string(),
            libc::EINVAL,
            "InvalidParameter",
            "InstanceCount",
        ),
        (
            launch.clone(),
            r#"{"Limit":"5"}"#.to_string(),
            libc::EINVAL,
            "UnknownParameter",
            "Limit",
        ),
        (
            launch.clone(),
            r#"{"Bogus":1}"#.to_string(),
            libc::EINVAL,
            "UnknownParameter",
            "Bogus",
        ),
        (
            launch.clone(),
            r#"{"Placement":{"ProjectId":0}}"#.to_string(),
            libc::EINVAL,
            "MissingParameter",
            "Placement.Zone",
        ),
        (
            launch.clone(),
            r#"{"LaunchTemplate":{"LaunchTemplateId":"lt-1"}}"#.to_string(),
            libc::EPERM,
            "UnsupportedOperation",
            "LaunchTemplate",
        ),
        (
            region.join("import"),
            import(r#","DryRun":"true""#),
            libc::EINVAL,
            "InvalidParameter",
            "DryRun",
        ),
        (
            region.join("import"),
            import(r#","ImportImageDataDiskList":[{"ImageUrl":"/srv/data.raw"}]"#),
            libc::EPERM,
            "UnsupportedOperation",
            "ImportImageDataDiskList",
        ),
    ];
    for (file, text, errno, code, member) in &refusals {
        assert_refused(&mount, file, text, *errno, code);
        let last = last_error(&mount);
        assert!(last.contains(&format!("`{member}`")), "{text}: {last}");
    }
    // Nothing was launched or imported by any of them.
    assert!(std::fs::read_dir(region.join("instances"))
        .expect("dir")
        .next()
        .is_none());
    assert_eq!(json(&region.join("quota.json"))["CustomImagesUsed"], 0);

    // null is a member not given; members kept with the request are accepted.
    command(
        &launch,
        r#"{"InstanceCount":2,"InstanceName":null,"Placement":{"Zone":"ap-guangzhou-3","ProjectId":null},"UserData":"IyEvYmluL3NoCg==","LoginSettings":{"Password":"Passw0rd!"}}"#,
    )
    .expect("launch");
    let ids = lines(&launch);
    assert_eq!(ids.len(), 2);
    let create = region.join("instances").join(&ids[0]).join("create_image");
    assert_refused(
        &mount,
        &create,
        r#"{"ImageName":12345}"#,
        libc::EINVAL,
        "InvalidParameter",
    );
    assert!(
        last_error(&mount).contains("`ImageName`"),
        "{}",
        last_error(&mount)
    );
    command(&create, r#"{"ImageName":"typed","ImageDescription":null}"#).expect("create_image");
    assert_eq!(json(&region.join("quota.json"))["CustomImagesUsed"], 1);
}

#[test]
fn launch_refusals() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = instant(&scratch);
    let file = mount.region("ap-guangzhou").join(CENTOS).join("launch");
    for (text, errno, code) in [
        ("0", libc::EINVAL, "InvalidParameterValue.Range"),
        ("501", libc::EINVAL, "InvalidParameterValue.Range"),
        ("-1", libc::EINVAL, "InvalidParameterValue.Range"),
        ("three", libc::EINVAL, "InvalidParameterValue"),
        (
            "99999999999999999999999",
            libc::EINVAL,
            "InvalidParameterValue",
        ),
        ("\n", libc::EINVAL, "InvalidParameter"),
        (
            r#"{"InstanceCount":"two"}"#,
            libc::EINVAL,
            "InvalidParameter",
        ),
        (r#"{"Bogus":1}"#, libc::EINVAL, "UnknownParameter"),
        (r#"{"InstanceCount":1"#, libc::EINVAL, "InvalidParameter"),
        (
            r#"{"InstanceType":"huge"}"#,
            libc::EINVAL,
            "InvalidInstanceType.Malformed",
        ),
        (
            r#"{"Placement":{"Zone":"ap-shanghai-2"}}"#,
            libc::EINVAL,
            "InvalidZone.MismatchRegion",
        ),
        (
            r#"{"ImageId":"img-487zeit5"}"#,
            libc::EINVAL,
            "InvalidParameterValue",
        ),
        (
            r#"{"InstanceChargeType":"FREE"}"#,
            libc::EINVAL,
            "InvalidParameterValue",
        ),
    ] {
        assert_refused(&mount, &file, text, errno, code);
    }
    // Nothing was launched by any of them.
    assert!(
        std::fs::read_dir(mount.region("ap-guangzhou").join("instances"))
            .expect("dir")
            .next()
            .is_none()
    );
    // Invalid UTF-8 is refused too.
    let before = read(&mount.path("errors")).lines().count();
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .expect("open");
        assert_eq!(errno_of(f.write_all(b"\xff\xfe3")), libc::EINVAL);
    }
    assert_eq!(read(&mount.path("errors")).lines().count(), before + 1);
    // The bash idiom reports the error on the shell's stderr.
    let out = std::process::Command::new("bash")
        .args([
            "-c",
            "echo 0 > regions/ap-guangzhou/public/img-9qabwvbn/launch",
        ])
        .current_dir(&mount.root)
        .output()
        .expect("bash");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("write error: Invalid argument"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn asynchronous_states_show_as_they_happen() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount_with(None, &["--transition-delay", "1.5"]);
    let region = mount.region("ap-guangzhou");
    let ids = launch(&mount, "ap-guangzhou", CENTOS, 1);
    let instance = region.join("instances").join(&ids[0]);
    assert_eq!(read(&instance.join("state")), "PENDING\n");
    assert_eq!(
        json(&instance.join("metadata.json"))["LatestOperationState"],
        "OPERATING"
    );
    // Work on a busy instance is refused with EBUSY.
    assert_refused(
        &mount,
        &instance.join("create_image"),
        "too-early",
        libc::EBUSY,
        "OperationDenied.InstanceOperationInProgress",
    );
    assert!(wait_for_content(
        &instance.join("state"),
        "RUNNING\n",
        Duration::from_secs(5)
    ));
    assert_eq!(
        json(&instance.join("metadata.json"))["LatestOperationState"],
        "SUCCESS"
    );

    command(&instance.join("create_image"), "golden\n").expect("create_image");
    let image = read(&instance.join("create_image")).trim().to_string();
    let image_dir = region.join("custom").join(&image);
    assert_eq!(read(&image_dir.join("state")), "CREATING\n");
    assert_eq!(
        json(&image_dir.join("metadata.json"))["ImageState"],
        "CREATING"
    );
    // A CREATING image cannot be launched yet.
    assert_refused(
        &mount,
        &image_dir.join("launch"),
        "1",
        libc::EBUSY,
        "InvalidParameterValue.InvalidImageState",
    );
    // ... nor used to reset an instance.
    assert_refused(
        &mount,
        &instance.join("reset"),
        &image,
        libc::EBUSY,
        "InvalidParameterValue.InvalidImageState",
    );
    assert!(wait_for_content(
        &image_dir.join("state"),
        "NORMAL\n",
        Duration::from_secs(5)
    ));
    assert_eq!(json(&image_dir.join("metadata.json"))["SyncPercent"], 100);
    launch(&mount, "ap-guangzhou", &format!("custom/{image}"), 1);

    // A reset passes through REBOOTING.
    command(&instance.join("reset"), "img-487zeit5").expect("reset");
    assert_eq!(read(&instance.join("state")), "REBOOTING\n");
    assert_eq!(
        json(&instance.join("metadata.json"))["LatestOperation"],
        "ResetInstance"
    );
    assert!(wait_for_content(
        &instance.join("state"),
        "RUNNING\n",
        Duration::from_secs(5)
    ));
}

#[test]
fn a_shared_image_launches_in_its_own_region() {
    if !fuse_available() {
        return;
    }
    use imagefs::local::store::Store;
    use imagefs::model::{AccountId, ImageId};
    let scratch = Scratch::new();
    let owner = instant(&scratch);
    let ids = launch(&owner, "ap-guangzhou", CENTOS, 1);
    let instance = owner.region("ap-guangzhou").join("instances").join(&ids[0]);
    command(&instance.join("create_image"), "team-base").expect("create");
    let image = read(&instance.join("create_image")).trim().to_string();
    let store = Store::open(&scratch.store(), None).expect("store");
    let friend = AccountId::parse("100000000002").expect("id");
    store.add_account(&friend).expect("account");
    imagefs::local::insert_share(
        &store,
        "ap-guangzhou",
        &ImageId::parse(&image).expect("id"),
        &friend,
        "2026-01-01T00:00:00Z",
    )
    .expect("share");
    let theirs = scratch.mount_with(Some("100000000002"), &["--transition-delay", "0"]);
    let launched = launch(&theirs, "ap-guangzhou", &format!("shared/{image}"), 2);
    let meta = json(
        &theirs
            .region("ap-guangzhou")
            .join("instances")
            .join(&launched[0])
            .join("metadata.json"),
    );
    assert_eq!(meta["ImageId"], image.as_str());
    // The receiver can reset to it too, but not from another region.
    let tokyo = launch(&theirs, "ap-tokyo", CENTOS, 1);
    assert_refused(
        &theirs,
        &theirs
            .region("ap-tokyo")
            .join("instances")
            .join(&tokyo[0])
            .join("reset"),
        &image,
        libc::ENOENT,
        "InvalidImageId.NotFound",
    );
    assert!(!theirs
        .region("ap-tokyo")
        .join("shared")
        .join(&image)
        .exists());
}

#[test]
fn transitions_complete_after_the_daemon_is_gone() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let image;
    {
        let mut mount = scratch.mount_with(None, &["--transition-delay", "0"]);
        let ids = launch(&mount, "ap-guangzhou", CENTOS, 1);
        let mut slow = scratch.mount_with(None, &["--transition-delay", "1"]);
        let instance = slow.region("ap-guangzhou").join("instances").join(&ids[0]);
        command(&instance.join("create_image"), "survivor").expect("create_image");
        image = read(&instance.join("create_image")).trim().to_string();
        assert_eq!(
            read(
                &slow
                    .region("ap-guangzhou")
                    .join("custom")
                    .join(&image)
                    .join("state")
            ),
            "CREATING\n"
        );
        // The daemon that started the work dies at once.
        assert!(!slow.signal_and_wait(libc::SIGKILL));
        let _ = imagefs::mounts::unmount(&slow.root, true);
        drop(slow);
        std::thread::sleep(Duration::from_millis(1300));
        // Another mount of the store sees the finished image.
        let state = mount
            .region("ap-guangzhou")
            .join("custom")
            .join(&image)
            .join("state");
        assert!(wait_for_content(&state, "NORMAL\n", Duration::from_secs(3)));
        mount.signal_and_wait(libc::SIGTERM);
    }
    let again = scratch.mount(None);
    assert_eq!(
        read(
            &again
                .region("ap-guangzhou")
                .join("custom")
                .join(&image)
                .join("state")
        ),
        "NORMAL\n"
    );
}

#[test]
fn create_image_records_its_source_and_follows_the_rules() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = instant(&scratch);
    let region = mount.region("ap-guangzhou");
    let ids = launch(&mount, "ap-guangzhou", "public/img-487zeit5", 1); // Ubuntu 22.04
    let instance = region.join("instances").join(&ids[0]);
    let create = instance.join("create_image");

    // The whole text is the name, spaces included; one trailing newline is dropped.
    let out = sh(&instance, "echo 'web golden 1' > create_image");
    assert!(out.status.success(), "{}", stderr(&out));
    let image = read(&create).trim().to_string();
    assert!(image.starts_with("img-") && image.len() == 12, "{image}");
    let meta = json(&region.join("custom").join(&image).join("metadata.json"));
    assert_eq!(meta["ImageName"], "web golden 1");
    assert_eq!(meta["ImageType"], "PRIVATE_IMAGE");
    assert_eq!(meta["ImageSource"], "CREATE_IMAGE");
    assert_eq!(meta["ImageState"], "NORMAL");
    assert_eq!(meta["OsName"], "Ubuntu Server 22.04 LTS 64位");
    assert_eq!(meta["Platform"], "Ubuntu");
    assert_eq!(meta["Architecture"], "x86_64");
    assert_eq!(meta["ImageCreator"], "100000000001");
    assert_eq!(meta["SnapshotSet"][0]["DiskUsage"], "SYSTEM_DISK");
    assert_eq!(json(&region.join("quota.json"))["CustomImagesUsed"], 1);

    command(
        &create,
        r#"{"ImageName":"with-description","ImageDescription":"nginx + app, Nov build"}"#,
    )
    .expect("json spec");
    let second = read(&create).trim().to_string();
    assert_eq!(
        read(&region.join("custom").join(&second).join("description")),
        "nginx + app, Nov build\n"
    );

    let long_name = "n".repeat(61);
    assert_refused(
        &mount,
        &create,
        &long_name,
        libc::EINVAL,
        "InvalidParameterValue.TooLarge",
    );
    let exactly_60 = "名".repeat(60); // characters, not bytes
    command(&create, &exactly_60).expect("60 characters are allowed");
    let long_description = format!(
        r#"{{"ImageName":"d","ImageDescription":"{}"}}"#,
        "d".repeat(257)
    );
    assert_refused(
        &mount,
        &create,
        &long_description,
        libc::EINVAL,
        "InvalidParameterValue.TooLarge",
    );
    assert_refused(
        &mount,
        &create,
        "web golden 1",
        libc::EEXIST,
        "InvalidImageName.Duplicate",
    );
    assert_refused(&mount, &create, "\n", libc::EINVAL, "InvalidParameterValue");
    assert_refused(
        &mount,
        &create,
        r#"{"ImageDescription":"no name"}"#,
        libc::EINVAL,
        "MissingParameter",
    );
    assert_refused(
        &mount,
        &create,
        r#"{"ImageName":"x","InstanceId":"ins-00000000"}"#,
        libc::EINVAL,
        "InvalidParameterValue",
    );

    // The quota: 10 by default, a setting of the store.
    let out = run(
        imagefs_bin(),
        &[
            "store",
            "set",
            "custom-image-quota",
            "4",
            "--store",
            scratch.store().to_str().expect("path"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    command(&create, "fourth").expect("the fourth fits");
    assert_refused(
        &mount,
        &create,
        "fifth",
        libc::EDQUOT,
        "ImageQuotaLimitExceeded",
    );
    let quota = json(&region.join("quota.json"));
    assert_eq!(quota["CustomImageQuota"], 4);
    assert_eq!(quota["CustomImagesUsed"], 4);
    // The quota is per region.
    let tokyo = launch(&mount, "ap-tokyo", "public/img-487zeit5", 1);
    command(
        &mount
            .region("ap-tokyo")
            .join("instances")
            .join(&tokyo[0])
            .join("create_image"),
        "fifth",
    )
    .expect("other region");
}

#[test]
fn custom_images_inherit_the_fee_of_their_origin() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = instant(&scratch);
    let price_of_image_made_from = |region: &str, image: &str| -> serde_json::Value {
        let ids = launch(&mount, region, image, 1);
        let instance = mount.region(region).join("instances").join(&ids[0]);
        command(
            &instance.join("create_image"),
            &format!("from-{}", image.replace('/', "-")),
        )
        .expect("create");
        let custom = read(&instance.join("create_image")).trim().to_string();
        json(
            &mount
                .region(region)
                .join("custom")
                .join(custom)
                .join("price.json"),
        )
    };
    // A paid marketplace image: the provider's fee carries over.
    let market = mount.region("ap-guangzhou").join("marketplace");
    let paid = std::fs::read_dir(&market)
        .expect("marketplace")
        .map(|e| e.expect("entry").path())
        .find(|p| json(&p.join("price.json"))["ChargeType"] == "MARKETPLACE_FEE")
        .expect("a paid marketplace image");
    let paid_price = json(&paid.join("price.json"));
    let name = paid
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let inherited = price_of_image_made_from("ap-guangzhou", &format!("marketplace/{name}"));
    assert_eq!(inherited["ChargeType"], "MARKETPLACE_FEE");
    assert_eq!(inherited["Fee"], paid_price["Fee"]);
    assert!(inherited["Reason"]
        .as_str()
        .expect("reason")
        .contains("inherited"));
    // Windows overseas: the license fee.
    let windows = price_of_image_made_from("ap-singapore", WINDOWS);
    assert_eq!(windows["ChargeType"], "LICENSE_FEE");
    assert_eq!(windows["Fee"]["Currency"], "USD");
    assert_eq!(windows["Fee"]["ChargeUnit"], "HOUR");
    // Free origins stay free.
    assert_eq!(
        price_of_image_made_from("ap-guangzhou", CENTOS)["Free"],
        true
    );
    assert_eq!(
        price_of_image_made_from("ap-guangzhou", WINDOWS)["Free"],
        true
    );
}

#[test]
fn reset_reinstalls_and_rmdir_terminates() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount_with(None, &["--transition-delay", "0"]);
    let region = mount.region("ap-guangzhou");
    let ids = launch(&mount, "ap-guangzhou", CENTOS, 2);
    let instance = region.join("instances").join(&ids[0]);
    command(&instance.join("create_image"), "db-backup").expect("backup");
    let backup = read(&instance.join("create_image")).trim().to_string();

    // The server breaks; it is reinstalled from Ubuntu, then restored from the backup.
    command(&instance.join("reset"), "img-487zeit5\n").expect("reset to ubuntu");
    let meta = json(&instance.join("metadata.json"));
    assert_eq!(meta["ImageId"], "img-487zeit5");
    assert_eq!(meta["OsName"], "Ubuntu Server 22.04 LTS 64位");
    assert_eq!(meta["LatestOperation"], "ResetInstance");
    let out = sh(&instance, &format!("echo {backup} > reset && cat reset"));
    assert_eq!(stdout(&out), format!("{backup}\n"), "{}", stderr(&out));
    assert_eq!(
        json(&instance.join("metadata.json"))["ImageId"],
        backup.as_str()
    );
    assert_eq!(
        json(&instance.join("metadata.json"))["OsName"],
        "CentOS 7.6 64位"
    );

    let reset = instance.join("reset");
    assert_refused(
        &mount,
        &reset,
        "img-zzzzzzzz",
        libc::ENOENT,
        "InvalidImageId.NotFound",
    );
    assert_refused(
        &mount,
        &reset,
        "not-an-image",
        libc::EINVAL,
        "InvalidImageId.Malformed",
    );
    // An image of another region cannot be used.
    let tokyo = launch(&mount, "ap-tokyo", CENTOS, 1);
    let tokyo_instance = mount.region("ap-tokyo").join("instances").join(&tokyo[0]);
    assert_refused(
        &mount,
        &tokyo_instance.join("reset"),
        &backup,
        libc::ENOENT,
        "InvalidImageId.NotFound",
    );

    std::fs::remove_dir(region.join("instances").join(&ids[1])).expect("terminate");
    assert!(!region.join("instances").join(&ids[1]).exists());
    assert_eq!(
        errno_of(std::fs::remove_dir(region.join("instances").join(&ids[1]))),
        libc::ENOENT
    );
    assert_eq!(
        errno_of(std::fs::remove_dir(region.join("instances/ins-zzzzzzzz"))),
        libc::ENOENT
    );
    // The image made from it survives its instance.
    assert!(region
        .join("custom")
        .join(&backup)
        .join("metadata.json")
        .exists());
}

fn qemu_img(args: &[&str]) {
    let out = run("qemu-img", args);
    assert!(out.status.success(), "qemu-img {args:?}: {}", stderr(&out));
}

fn import_spec(name: &str, url: &str) -> String {
    format!(
        r#"{{"ImageName":"{name}","ImageUrl":"{url}","OsType":"CentOS","OsVersion":"7","Architecture":"x86_64"}}"#
    )
}

#[test]
fn import_reads_all_four_formats() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = instant(&scratch);
    let region = mount.region("ap-guangzhou");
    let import = region.join("import");
    let dir = scratch.path().join("disks");
    std::fs::create_dir(&dir).expect("mkdir");
    let disk = |name: &str| -> PathBuf { dir.join(name) };
    make_disk(&disk("a.raw"), "raw", "1G");
    make_disk(&disk("b.qcow2"), "qcow2", "20G");
    make_disk(&disk("c.vhd"), "vpc", "10G");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "vpc",
        "-o",
        "subformat=fixed",
        disk("d.vhd").to_str().expect("p"),
        "64M",
    ]);
    make_disk(&disk("e.vmdk"), "vmdk", "30G");
    for (file, name, size) in [
        ("a.raw", "raw", 1),
        ("b.qcow2", "qcow2", 20),
        ("c.vhd", "vhd-dynamic", 11), // VHD rounds its geometry up slightly past 10 GiB
        ("d.vhd", "vhd-fixed", 1),
        ("e.vmdk", "vmdk", 30),
    ] {
        command(&import, &import_spec(name, disk(file).to_str().expect("p")))
            .unwrap_or_else(|e| panic!("{file}: {e}: {}", last_error(&mount)));
        let id = read(&import).trim().to_string();
        let meta = json(&region.join("custom").join(&id).join("metadata.json"));
        assert_eq!(meta["ImageName"], name);
        assert_eq!(meta["ImageSource"], "EXTERNAL_IMPORT");
        assert_eq!(meta["ImageState"], "NORMAL", "{file}");
        assert_eq!(meta["OsName"], "CentOS 7 64位");
        assert_eq!(meta["Platform"], "CentOS");
        if name != "vhd-dynamic" {
            assert_eq!(meta["ImageSize"], size, "{file}");
        } else {
            let gib = meta["ImageSize"].as_i64().expect("size");
            assert!((10..=11).contains(&gib), "{file}: {gib}");
        }
    }
    // A file:// URL, and a path relative to the writer's working directory.
    let out = sh(
        &dir,
        &format!(
            "echo '{}' > {}",
            import_spec("via-url", &format!("file://{}", disk("a.raw").display())),
            import.display()
        ),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = sh(
        &dir,
        &format!(
            "echo '{}' > {}",
            import_spec("relative", "b.qcow2"),
            import.display()
        ),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&region.join("quota.json"))["CustomImagesUsed"], 7);
}

/// docs/SEMANTICS.md: "A relative path whose writer works inside an imagefs mount (`cd` into
/// the region, then `echo ... > import`) ... is refused
/// (`InvalidParameter.InvalidParameterUrlError`, `EINVAL`) with that directory and the advice
/// to write the absolute path; messages about a relative path say where it was looked for."
#[test]
fn a_relative_image_url_is_the_writers_or_refused_saying_where() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = instant(&scratch);
    let region = mount.region("ap-guangzhou");
    let dir = scratch.path().join("disks");
    std::fs::create_dir(&dir).expect("mkdir");
    make_disk(&dir.join("web.qcow2"), "qcow2", "1G");
    // From inside the mount: refused, naming the directory and what to write.
    let out = sh(
        &region,
        &format!("echo '{}' > import", import_spec("inside", "web.qcow2")),
    );
    assert!(!out.status.success());
    let line = last_error(&mount);
    assert!(
        line.contains(" InvalidParameter.InvalidParameterUrlError ")
            && line.contains(&format!(
                "relative to the writer's working directory {}, which is inside the imagefs mount {}",
                region.display(),
                mount.root.display()
            ))
            && line.contains("write the disk's absolute path"),
        "{line}"
    );
    // From elsewhere: a missing file says where it was looked for.
    let out = sh(
        &dir,
        &format!(
            "echo '{}' > {}",
            import_spec("missing", "nope.qcow2"),
            region.join("import").display()
        ),
    );
    assert!(!out.status.success());
    let line = last_error(&mount);
    assert!(
        line.contains(&format!(
            "nope.qcow2 (looked for at {}, from the writer's working directory): no such file",
            dir.join("nope.qcow2").display()
        )),
        "{line}"
    );
    // And a file that is there is imported.
    let out = sh(
        &dir,
        &format!(
            "echo '{}' > {}",
            import_spec("outside", "web.qcow2"),
            region.join("import").display()
        ),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(read(&region.join("import")).trim().starts_with("img-"));
}

#[test]
fn import_refusals() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = instant(&scratch);
    let import = mount.region("ap-guangzhou").join("import");
    let dir = scratch.path().join("disks");
    std::fs::create_dir(&dir).expect("mkdir");
    let path = |name: &str| dir.join(name).to_str().expect("p").to_owned();
    qemu_img(&["create", "-q", "-f", "qcow2", &path("ok.qcow2"), "1G"]);
    qemu_img(&["create", "-q", "-f", "qcow2", &path("huge.qcow2"), "600G"]);
    qemu_img(&["create", "-q", "-f", "vdi", &path("disk.vdi"), "1G"]);
    std::fs::write(path("notes.txt"), "not a disk\n").expect("write");
    let big = std::fs::File::create(path("big.raw")).expect("create");
    big.set_len(51 << 30).expect("sparse 51 GiB");
    drop(big);
    let mut iso = vec![0u8; 40960];
    iso[32769..32774].copy_from_slice(b"CD001");
    std::fs::write(path("cd.iso"), &iso).expect("write");

    let spec = |url: &str| import_spec("refused", url);
    assert_refused(
        &mount,
        &import,
        &spec(&path("missing.qcow2")),
        libc::ENOENT,
        "InvalidParameter.InvalidParameterUrlError",
    );
    assert_refused(
        &mount,
        &import,
        &spec(&path("notes.txt")),
        libc::EINVAL,
        "InvalidParameterValue",
    );
    assert!(
        last_error(&mount).contains("RAW, QCOW2, VHD or VMDK"),
        "{}",
        last_error(&mount)
    );
    assert_refused(
        &mount,
        &import,
        &spec(&path("disk.vdi")),
        libc::EINVAL,
        "InvalidParameterValue",
    );
    assert!(last_error(&mount).contains("VDI"), "{}", last_error(&mount));
    assert_refused(
        &mount,
        &import,
        &spec(&path("huge.qcow2")),
        libc::EINVAL,
        "InvalidParameterValue.TooLarge",
    );
    assert_refused(
        &mount,
        &import,
        &spec(&path("big.raw")),
        libc::EINVAL,
        "InvalidParameterValue.TooLarge",
    );
    assert_refused(
        &mount,
        &import,
        &spec(&path("cd.iso")),
        libc::EINVAL,
        "InvalidParameterValue.ISOMustImportByForce",
    );
    assert_refused(
        &mount,
        &import,
        &spec(dir.to_str().expect("p")),
        libc::EINVAL,
        "InvalidParameter.InvalidParameterUrlError",
    );
    assert_refused(
        &mount,
        &import,
        &spec("https://bucket.cos.ap-guangzhou.myqcloud.com/a.qcow2"),
        libc::EINVAL,
        "InvalidParameter.InvalidParameterUrlError",
    );
    let ok = path("ok.qcow2");
    assert_refused(
        &mount,
        &import,
        &format!(
            r#"{{"ImageName":"x","ImageUrl":"{ok}","OsType":"Plan 9","OsVersion":"4","Architecture":"x86_64"}}"#
        ),
        libc::EINVAL,
        "InvalidImageOsType.Unsupported",
    );
    assert_refused(
        &mount,
        &import,
        &format!(
            r#"{{"ImageName":"x","ImageUrl":"{ok}","OsType":"CentOS","OsVersion":"3","Architecture":"x86_64"}}"#
        ),
        libc::EINVAL,
        "InvalidImageOsVersion.Unsupported",
    );
    assert_refused(
        &mount,
        &import,
        &format!(r#"{{"ImageName":"x","ImageUrl":"{ok}","OsType":"CentOS","OsVersion":"7"}}"#),
        libc::EINVAL,
        "MissingParameter",
    );
    assert_refused(
        &mount,
        &import,
        "centos please",
        libc::EINVAL,
        "InvalidParameter",
    );
    // Nothing was imported by any refusal.
    assert_eq!(
        json(&mount.region("ap-guangzhou").join("quota.json"))["CustomImagesUsed"],
        0
    );

    // With Force an ISO is accepted; a dry run checks without importing.
    command(&import, &format!(r#"{{"ImageName":"cd","ImageUrl":"{}","OsType":"CentOS","OsVersion":"7","Architecture":"x86_64","Force":true}}"#, path("cd.iso"))).expect("forced ISO");
    command(&import, &format!(r#"{{"ImageName":"dry","ImageUrl":"{ok}","OsType":"CentOS","OsVersion":"7","Architecture":"x86_64","DryRun":true}}"#)).expect("dry run");
    assert!(read(&import).contains("dry run"));
    assert_eq!(
        json(&mount.region("ap-guangzhou").join("quota.json"))["CustomImagesUsed"],
        1
    );
}

#[test]
fn a_file_that_turns_out_bad_fails_its_import() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount_with(None, &["--transition-delay", "0.5"]);
    let region = mount.region("ap-guangzhou");
    let good = scratch.path().join("good.qcow2");
    make_disk(&good, "qcow2", "8G");
    // Keep only the header: the L1 table it points at is gone.
    let bytes = std::fs::read(&good).expect("read");
    let broken = scratch.path().join("broken.qcow2");
    std::fs::write(&broken, &bytes[..512]).expect("write");
    command(
        &region.join("import"),
        &import_spec("broken", broken.to_str().expect("p")),
    )
    .expect("accepted at first");
    let id = read(&region.join("import")).trim().to_string();
    let state = region.join("custom").join(&id).join("state");
    assert_eq!(read(&state), "IMPORTING\n");
    assert!(wait_for_content(
        &state,
        "IMPORTFAILED\n",
        Duration::from_secs(5)
    ));
    // A failed import cannot be launched.
    assert_refused(
        &mount,
        &region.join("custom").join(&id).join("launch"),
        "1",
        libc::EBUSY,
        "InvalidParameterValue.InvalidImageState",
    );
}

#[test]
fn writes_to_read_only_instance_files_are_refused() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = instant(&scratch);
    let ids = launch(&mount, "ap-guangzhou", CENTOS, 1);
    let instance = mount.region("ap-guangzhou").join("instances").join(&ids[0]);
    for file in ["metadata.json", "state"] {
        assert_eq!(
            errno_of(command(&instance.join(file), "STOPPED")),
            libc::EPERM,
            "{file}"
        );
    }
    assert_eq!(read(&instance.join("state")), "RUNNING\n");
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&mount.region("ap-guangzhou").join("instances")), 0o755);
    assert_eq!(mode(&instance.join("create_image")), 0o644);
    assert_eq!(mode(&instance.join("reset")), 0o644);
    assert_eq!(mode(&instance.join("state")), 0o444);
    assert_eq!(mode(&mount.region("ap-guangzhou").join("import")), 0o644);
    assert_eq!(
        mode(&mount.region("ap-guangzhou").join(CENTOS).join("launch")),
        0o644
    );
}

#[test]
fn imagefs_wait_follows_a_state_file() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount_with(None, &["--transition-delay", "1"]);
    let ids = launch(&mount, "ap-guangzhou", CENTOS, 1);
    let instance = mount.region("ap-guangzhou").join("instances").join(&ids[0]);
    let wait = |path: &Path, state: &str, timeout: &str| {
        std::process::Command::new(imagefs_bin())
            .args([
                "wait",
                path.to_str().expect("p"),
                "--state",
                state,
                "--timeout",
                timeout,
            ])
            .output()
            .expect("imagefs wait")
    };
    // The golden-image pipeline of the scenarios.
    let out = wait(&instance, "RUNNING", "10");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(read(&instance.join("state")), "RUNNING\n");
    assert!(
        stderr(&out).is_empty(),
        "quiet when not on a terminal: {}",
        stderr(&out)
    );
    command(&instance.join("create_image"), "waited").expect("create");
    let image = mount
        .region("ap-guangzhou")
        .join("custom")
        .join(read(&instance.join("create_image")).trim());
    let out = wait(&image, "NORMAL", "10");
    assert!(out.status.success(), "{}", stderr(&out));
    // A timeout and a failed state end the wait with a message.
    command(&instance.join("reset"), "img-487zeit5").expect("reset");
    let out = wait(&instance.join("state"), "STOPPED", "0.3");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("still REBOOTING"), "{}", stderr(&out));
    let bad = scratch.path().join("bad.qcow2");
    make_disk(&bad, "qcow2", "1G");
    let bytes = std::fs::read(&bad).expect("read");
    std::fs::write(&bad, &bytes[..512]).expect("truncate");
    command(
        &mount.region("ap-guangzhou").join("import"),
        &import_spec("bad", bad.to_str().expect("p")),
    )
    .expect("import");
    let failed = mount
        .region("ap-guangzhou")
        .join("custom")
        .join(read(&mount.region("ap-guangzhou").join("import")).trim());
    let out = wait(&failed, "NORMAL", "10");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("IMPORTFAILED"), "{}", stderr(&out));
}

#[test]
fn injected_faults_exercise_error_paths() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = instant(&scratch);
    let store = scratch.store().to_string_lossy().into_owned();
    let inject = |kind: &str, count: &str| {
        let out = run(
            imagefs_bin(),
            &["store", "inject", kind, count, "--store", &store],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    };
    let region = mount.region("ap-guangzhou");
    let ids = launch(&mount, "ap-guangzhou", CENTOS, 1);
    let instance = region.join("instances").join(&ids[0]);

    inject("create-fails", "1");
    command(&instance.join("create_image"), "doomed").expect("accepted");
    let doomed = region
        .join("custom")
        .join(read(&instance.join("create_image")).trim());
    assert_eq!(read(&doomed.join("state")), "CREATEFAILED\n");
    command(&instance.join("create_image"), "fine").expect("the next one works");
    let fine = region
        .join("custom")
        .join(read(&instance.join("create_image")).trim());
    assert_eq!(read(&fine.join("state")), "NORMAL\n");

    inject("copy-fails", "1");
    command(&fine.join("copy_to"), "ap-shanghai").expect("accepted");
    let copy = read(&fine.join("copy_to"));
    let copy_id = copy.split_whitespace().nth(1).expect("id");
    assert_eq!(
        read(
            &mount
                .region("ap-shanghai")
                .join("custom")
                .join(copy_id)
                .join("state")
        ),
        "CREATEFAILED\n"
    );

    let disk = scratch.path().join("ok.raw");
    std::fs::write(&disk, vec![0u8; 1 << 20]).expect("disk");
    inject("import-fails", "1");
    command(
        &region.join("import"),
        &import_spec("doomed-import", disk.to_str().expect("p")),
    )
    .expect("accepted");
    let imported = region
        .join("custom")
        .join(read(&region.join("import")).trim());
    assert_eq!(read(&imported.join("state")), "IMPORTFAILED\n");

    inject("throttle", "2");
    for _ in 0..2 {
        assert_refused(
            &mount,
            &fine.join("launch"),
            "1",
            libc::EAGAIN,
            "RequestLimitExceeded",
        );
    }
    command(&fine.join("launch"), "1").expect("the throttle has passed");
    let out = run(imagefs_bin(), &["store", "info", "--store", &store]);
    assert!(stdout(&out).contains("instances  2"), "{}", stdout(&out));
    assert!(
        !stdout(&out).contains("injected"),
        "all faults used: {}",
        stdout(&out)
    );
}

/// A handle kept open on old contents must not leave them in the page cache for later
/// readers (same-size change: PENDING becomes RUNNING).
#[test]
fn an_old_open_handle_cannot_serve_stale_contents_to_new_readers() {
    if !fuse_available() {
        return;
    }
    use std::io::{Read, Seek, SeekFrom};
    let scratch = Scratch::new();
    let mount = scratch.mount_with(None, &["--transition-delay", "1"]);
    let ids = launch(&mount, "ap-guangzhou", CENTOS, 1);
    let state = mount
        .region("ap-guangzhou")
        .join("instances")
        .join(&ids[0])
        .join("state");
    // Prime the kernel with the size, then keep a handle on PENDING.
    assert_eq!(read(&state), "PENDING\n");
    let mut old = std::fs::File::open(&state).expect("open");
    let mut text = String::new();
    old.read_to_string(&mut text).expect("read");
    assert_eq!(text, "PENDING\n");
    assert!(wait_for_content(
        &state,
        "RUNNING\n",
        Duration::from_secs(5)
    ));
    // The old handle reads its own contents again (possibly filling the page cache) ...
    old.seek(SeekFrom::Start(0)).expect("seek");
    let mut again = String::new();
    old.read_to_string(&mut again).expect("read");
    // ... and new readers still see the present.
    for _ in 0..3 {
        assert_eq!(read(&state), "RUNNING\n");
    }
    drop(old);
    assert_eq!(read(&state), "RUNNING\n");
}

/// poll(2) on a `state` file: POLLPRI once the state has moved on (sysfs's convention).
#[test]
fn poll_wakes_when_a_state_changes() {
    if !fuse_available() {
        return;
    }
    use std::os::fd::AsRawFd;
    let scratch = Scratch::new();
    let mount = scratch.mount_with(None, &["--transition-delay", "1"]);
    let ids = launch(&mount, "ap-guangzhou", CENTOS, 1);
    let state = mount
        .region("ap-guangzhou")
        .join("instances")
        .join(&ids[0])
        .join("state");
    let file = std::fs::File::open(&state).expect("open");
    let started = std::time::Instant::now();
    let mut fds = [libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLPRI,
        revents: 0,
    }];
    // SAFETY: one valid pollfd.
    let ready = unsafe { libc::poll(fds.as_mut_ptr(), 1, 5000) };
    assert_eq!(ready, 1, "poll woke ({:?})", started.elapsed());
    assert!(
        fds[0].revents & libc::POLLPRI != 0,
        "revents {:#x}",
        fds[0].revents
    );
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "not before the change: {:?}",
        started.elapsed()
    );
    assert_eq!(read(&state), "RUNNING\n");
    // Polling an unchanged file does not wake.
    let quiet = std::fs::File::open(&state).expect("open");
    let mut fds = [libc::pollfd {
        fd: quiet.as_raw_fd(),
        events: libc::POLLPRI,
        revents: 0,
    }];
    // SAFETY: one valid pollfd.
    assert_eq!(unsafe { libc::poll(fds.as_mut_ptr(), 1, 600) }, 0);
}
