//! Copies, dry runs and whole images, as the cloud has them: through `imagefs serve` with raw
//! signed requests and the Python SDK, and through a mount. Copies run with a real transition
//! delay wherever a SYNCING state must be seen.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const OWNER: &str = "100000000001";
const FRIEND: &str = "100000000002";
const GZ: &str = "ap-guangzhou";

/// One account's signed calls to one server.
struct Api {
    url: String,
    key: (String, String),
}

impl Api {
    fn new(url: &str, key: &(String, String)) -> Api {
        Api {
            url: url.to_string(),
            key: key.clone(),
        }
    }

    /// One TC3-signed call; returns the `Response` object.
    fn call(&self, region: &str, action: &str, body: Value) -> Value {
        signed_call(&self.url, &self.key, region, action, &body)
    }

    /// A call that must succeed.
    fn ok(&self, region: &str, action: &str, body: Value) -> Value {
        let answer = self.call(region, action, body.clone());
        assert!(answer.get("Error").is_none(), "{action} {body}: {answer}");
        answer
    }

    /// One image as DescribeImages shows it.
    fn image(&self, region: &str, id: &str) -> Value {
        let answer = self.ok(region, "DescribeImages", json!({"ImageIds": [id]}));
        assert_eq!(answer["TotalCount"], 1, "{id}: {answer}");
        answer["ImageSet"][0].clone()
    }

    /// A NORMAL custom image named `name`, made from a new instance (on a server without
    /// a transition delay).
    fn custom_image(&self, region: &str, name: &str) -> String {
        let run = self.ok(
            region,
            "RunInstances",
            json!({"ImageId": "img-9qabwvbn", "Placement": {"Zone": format!("{region}-3")}}),
        );
        let instance = run["InstanceIdSet"][0].as_str().expect("instance");
        let made = self.ok(
            region,
            "CreateImage",
            json!({"InstanceId": instance, "ImageName": name}),
        );
        made["ImageId"].as_str().expect("image").to_string()
    }

    fn custom_count(&self, region: &str) -> u64 {
        self.ok(
            region,
            "DescribeImages",
            json!({"Filters": [{"Name": "image-type", "Values": ["PRIVATE_IMAGE"]}]}),
        )["TotalCount"]
            .as_u64()
            .expect("count")
    }
}

fn code(response: &Value) -> &str {
    response["Error"]["Code"].as_str().unwrap_or("")
}

/// The members of an answer, `RequestId` included.
fn members(response: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = response
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    names
}

/// `imagefs serve` on `store` with a transition delay of `seconds`, stopped on drop.
struct SlowServer {
    child: Child,
    url: String,
}

impl SlowServer {
    fn start(store: &Path, seconds: &str) -> SlowServer {
        let mut child = Command::new(imagefs_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--transition-delay"])
            .arg(seconds)
            .arg("--store")
            .arg(store)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("imagefs serve");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
            &mut line,
        )
        .expect("address");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        SlowServer { child, url }
    }
}

impl Drop for SlowServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn inject(scratch: &Scratch, kind: &str, count: &str) {
    let store = scratch.store().to_string_lossy().into_owned();
    let out = run(
        imagefs_bin(),
        &["store", "inject", kind, count, "--store", &store],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

fn store_info(scratch: &Scratch) -> String {
    let store = scratch.store().to_string_lossy().into_owned();
    stdout(&run(imagefs_bin(), &["store", "info", "--store", &store]))
}

/// Every action with a `DryRun` runs its checks, answers with the code of the first that
/// fails or with its RequestId alone, and changes nothing.
#[test]
fn dry_runs_check_everything_and_change_nothing() {
    quoted("Through `imagefs serve`, `DryRun: true` on RunInstances, CreateImage, DeleteImages and SyncImages runs every check of the real call, in the same order, so a refusal carries the same code; then nothing changes");
    quoted("Success answers with the `RequestId` only");
    let scratch = Scratch::new();
    let owner_key = scratch.key_pair(OWNER);
    scratch.key_pair(FRIEND);
    let api = Api::new(&scratch.server_url(), &owner_key);
    let only_request_id = vec!["RequestId"];

    // RunInstances
    let launch =
        json!({"ImageId": "img-9qabwvbn", "Placement": {"Zone": "ap-guangzhou-3"}, "DryRun": true});
    assert_eq!(
        members(&api.ok(GZ, "RunInstances", launch)),
        only_request_id
    );
    assert_eq!(
        code(&api.call(
            GZ,
            "RunInstances",
            json!({"ImageId": "img-zzzzzzzz", "Placement": {"Zone": "ap-guangzhou-3"}, "DryRun": true})
        )),
        "InvalidImageId.NotFound"
    );
    assert_eq!(
        api.ok(GZ, "DescribeInstances", json!({}))["TotalCount"],
        0,
        "a dry run launched nothing"
    );

    // CreateImage
    let run = api.ok(
        GZ,
        "RunInstances",
        json!({"ImageId": "img-9qabwvbn", "Placement": {"Zone": "ap-guangzhou-3"}}),
    );
    let instance = run["InstanceIdSet"][0].as_str().expect("instance");
    let create = |name: &str| json!({"InstanceId": instance, "ImageName": name, "DryRun": true});
    assert_eq!(
        members(&api.ok(GZ, "CreateImage", create("rehearsed"))),
        only_request_id
    );
    assert_eq!(api.custom_count(GZ), 0, "a dry run made no image");
    let image = api.custom_image(GZ, "golden");
    assert_eq!(
        code(&api.call(GZ, "CreateImage", create("golden"))),
        "InvalidImageName.Duplicate"
    );

    // SyncImages
    let sync = |regions: &[&str]| json!({"ImageIds": [image], "DestinationRegions": regions, "DryRun": true, "ImageSetRequired": true});
    assert_eq!(
        members(&api.ok(GZ, "SyncImages", sync(&["ap-shanghai"]))),
        only_request_id
    );
    assert_eq!(
        code(&api.call(GZ, "SyncImages", sync(&["ap-singapore"]))),
        "InvalidRegion.Unavailable"
    );
    assert_eq!(
        api.custom_count("ap-shanghai"),
        0,
        "a dry run copied nothing"
    );
    assert_eq!(api.image(GZ, &image)["ImageState"], "NORMAL");

    // DeleteImages
    let delete = json!({"ImageIds": [image], "DryRun": true, "DeleteBindedSnap": true});
    assert_eq!(
        members(&api.ok(GZ, "DeleteImages", delete.clone())),
        only_request_id
    );
    api.image(GZ, &image);
    api.ok(
        GZ,
        "ModifyImageSharePermission",
        json!({"ImageId": image, "AccountIds": [FRIEND], "Permission": "SHARE"}),
    );
    assert_eq!(
        code(&api.call(GZ, "DeleteImages", delete.clone())),
        "InvalidImageId.InShared"
    );
    // A DryRun that is not a boolean is refused, never run for real.
    let said = api.call(
        GZ,
        "DeleteImages",
        json!({"ImageIds": [image], "DryRun": "true"}),
    );
    assert!(code(&said).starts_with("InvalidParameter"), "{said}");
    api.image(GZ, &image);

    // ImportImage: the parameters and the file only.
    quoted("ImportImage's dry run, as the API documents, checks the parameters only (and the file `ImageUrl` names), not the name's use nor the quota");
    std::fs::write(scratch.path().join("disk.raw"), vec![0u8; 1 << 20]).expect("disk");
    let import = |os: &str| json!({"ImageName": "golden", "ImageUrl": "disk.raw", "OsType": os, "OsVersion": "7", "Architecture": "x86_64", "DryRun": true});
    assert_eq!(
        members(&api.ok(GZ, "ImportImage", import("CentOS"))),
        only_request_id
    );
    assert_eq!(
        code(&api.call(GZ, "ImportImage", import("Plan9"))),
        "InvalidImageOsType.Unsupported"
    );
    assert_eq!(api.custom_count(GZ), 1, "a dry run imported nothing");

    // A pending fault is met, and left for the real call.
    quoted("A dry run (below) meets a pending fault as the real call would (a throttle refuses it) and leaves it pending for the real call.");
    inject(&scratch, "throttle", "1");
    assert_eq!(
        code(&api.call(GZ, "SyncImages", sync(&["ap-shanghai"]))),
        "RequestLimitExceeded"
    );
    let info = store_info(&scratch);
    assert!(info.contains("throttle: next 1"), "{info}");
}

/// SyncImages as the cloud does it: the copies' name, the answer's ImageSet when asked for,
/// the source SYNCING until its last copy ends and usable meanwhile but not deletable, a
/// receiver's copy leaving the owner's image alone, and SyncPercent following each copy.
#[test]
fn copies_through_the_api_as_the_cloud_makes_them() {
    let scratch = Scratch::new();
    let owner_key = scratch.key_pair(OWNER);
    let friend_key = scratch.key_pair(FRIEND);
    let instant = Api::new(&scratch.server_url(), &owner_key);
    let slow_server = SlowServer::start(&scratch.store(), "4");
    let slow = Api::new(&slow_server.url, &owner_key);
    let friend = Api::new(&slow_server.url, &friend_key);

    let image = instant.custom_image(GZ, "golden");
    instant.custom_image("ap-shanghai", "golden");
    let sync = |body: Value| slow.call(GZ, "SyncImages", body);
    // The copy would take the name, which ap-shanghai already has.
    assert_eq!(
        code(&sync(
            json!({"ImageIds": [image], "DestinationRegions": ["ap-shanghai"]})
        )),
        "InvalidImageName.Duplicate"
    );
    let answer = sync(
        json!({"ImageIds": [image], "DestinationRegions": ["ap-shanghai"], "ImageName": "golden-sh"}),
    );
    assert_eq!(answer["ImageSet"], json!([]), "not asked for: {answer}");
    let source = slow.image(GZ, &image);
    assert_eq!(source["ImageState"], "SYNCING", "{source}");
    assert_eq!(source["SyncPercent"], 100, "{source}");
    let found = slow.ok(
        "ap-shanghai",
        "DescribeImages",
        json!({"Filters": [{"Name": "image-name", "Values": ["golden-sh"]}]}),
    );
    assert_eq!(found["TotalCount"], 1, "{found}");
    let copy = found["ImageSet"][0]["ImageId"]
        .as_str()
        .expect("copy")
        .to_string();

    // Meanwhile: not deletable, launched from and shared as before; a share is named first.
    assert_eq!(
        code(&slow.call(GZ, "DeleteImages", json!({"ImageIds": [image]}))),
        "InvalidImageId.IncorrectState"
    );
    instant.ok(
        GZ,
        "RunInstances",
        json!({"ImageId": image, "Placement": {"Zone": "ap-guangzhou-3"}}),
    );
    slow.ok(
        GZ,
        "ModifyImageSharePermission",
        json!({"ImageId": image, "AccountIds": [FRIEND], "Permission": "SHARE"}),
    );
    assert_eq!(
        code(&slow.call(GZ, "DeleteImages", json!({"ImageIds": [image]}))),
        "InvalidImageId.InShared"
    );
    // Copied again, the copies listed when asked for.
    let answer = sync(
        json!({"ImageIds": [image], "DestinationRegions": ["ap-beijing"], "ImageSetRequired": true}),
    );
    assert_eq!(answer["ImageSet"][0]["Region"], "ap-beijing", "{answer}");
    // The receiver's copy is the receiver's: the owner's image is left as it is.
    let theirs = friend.call(
        GZ,
        "SyncImages",
        json!({"ImageIds": [image], "DestinationRegions": [GZ], "ImageName": "theirs", "ImageSetRequired": true}),
    );
    let their_copy = theirs["ImageSet"][0]["ImageId"]
        .as_str()
        .unwrap_or_else(|| panic!("{theirs}"))
        .to_string();
    assert_eq!(friend.image(GZ, &their_copy)["ImageState"], "SYNCING");

    // SyncPercent follows the copy; the source ends NORMAL with its last copy.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        let shown = slow.image("ap-shanghai", &copy);
        let percent = shown["SyncPercent"].as_i64().expect("a number");
        if shown["ImageState"] == "NORMAL" {
            assert_eq!(percent, 100);
            break;
        }
        assert_eq!(shown["ImageState"], "SYNCING");
        assert!((0..100).contains(&percent), "{shown}");
        seen.push(percent);
        assert!(Instant::now() < deadline, "the copy never ended: {seen:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "SyncPercent went back: {seen:?}"
    );
    seen.dedup();
    assert!(seen.len() >= 2, "SyncPercent did not move: {seen:?}");
    loop {
        if slow.image(GZ, &image)["ImageState"] == "NORMAL" {
            break;
        }
        assert!(Instant::now() < deadline, "the source stayed SYNCING");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(slow.image("ap-shanghai", &copy)["ImageName"], "golden-sh");
}

/// DescribeImages checks `InstanceType` and takes each documented filter; every image has
/// each member of the API's Image.
#[test]
fn describe_images_checks_instance_type_filters_and_shows_whole_images() {
    let scratch = Scratch::new();
    let api = Api::new(&scratch.server_url(), &scratch.key_pair(OWNER));
    let all = api.ok(GZ, "DescribeImages", json!({}))["TotalCount"].clone();
    assert_eq!(
        api.ok(GZ, "DescribeImages", json!({"InstanceType": "S5.MEDIUM2"}))["TotalCount"],
        all
    );
    assert_eq!(
        code(&api.call(GZ, "DescribeImages", json!({"InstanceType": "not a type"}))),
        "InvalidInstanceType.Malformed"
    );
    let filtered = |name: &str, value: &str| {
        api.call(
            GZ,
            "DescribeImages",
            json!({"Filters": [{"Name": name, "Values": [value]}]}),
        )
    };
    assert_eq!(
        filtered("dedicated-cluster-id", "cluster-12345678")["TotalCount"],
        0
    );
    assert_eq!(filtered("cdc-cache-status", "CACHED_ALL")["TotalCount"], 0);
    assert_eq!(
        filtered("platform", "centos")["ImageSet"][0]["Platform"],
        "CentOS"
    );
    assert_eq!(code(&filtered("image-state", "NORMAL")), "InvalidFilter");

    let image = api.custom_image(GZ, "whole");
    for id in ["img-9qabwvbn", image.as_str()] {
        let shown = api.image(GZ, id);
        let mut expected = IMAGE_MEMBERS.to_vec();
        expected.sort_unstable();
        assert_eq!(members(&shown), expected, "{shown}");
        assert_eq!(shown["CdcCacheStatus"], "", "{shown}");
    }
    let mine = api.image(GZ, &image);
    assert_eq!(mine["SnapshotSet"][0]["DiskUsage"], "SYSTEM_DISK", "{mine}");
    assert_eq!(mine["ImageSource"], "CREATE_IMAGE");
}

/// The Python SDK's DeleteImages with DryRun, as the API's own example sends it, leaves the
/// image.
#[test]
fn the_python_sdks_dry_run_deletes_nothing() {
    if !have_python_sdk() {
        return;
    }
    let scratch = Scratch::new();
    let key = scratch.key_pair(OWNER);
    let url = scratch.server_url();
    let api = Api::new(&url, &key);
    let image = api.custom_image(GZ, "kept");
    let sdk = |action: &str, params: Value| {
        let out = Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/call.py"))
            .args([&url, &key.0, &key.1, "", "TC3-HMAC-SHA256", "POST"])
            .args([action, &params.to_string()])
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .expect("python3");
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let said = sdk(
        "DeleteImages",
        json!({"ImageIds": [image], "DryRun": true, "DeleteBindedSnap": true}),
    );
    assert!(said.starts_with("ok "), "{said}");
    api.image(GZ, &image);
    let said = sdk(
        "SyncImages",
        json!({"ImageIds": [image], "DestinationRegions": ["ap-shanghai"], "DryRun": true}),
    );
    assert!(said.starts_with("ok "), "{said}");
    assert_eq!(api.custom_count("ap-shanghai"), 0);
    let said = sdk("DeleteImages", json!({"ImageIds": [image]}));
    assert!(said.starts_with("ok "), "{said}");
    assert_eq!(api.custom_count(GZ), 0);
}

/// In a mount: the source's `state` and `metadata.json` show SYNCING while its copies are in
/// progress, `rmdir` is refused meanwhile, `launch` goes on, and the copy's name comes from
/// copy_to's JSON.
#[test]
fn a_copied_source_in_the_filesystem() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let instant = scratch.mount_with(None, &["--transition-delay", "0"]);
    let slow = scratch.mount_with(None, &["--transition-delay", "4"]);
    let region = instant.region(GZ);
    let launch = region.join("public/img-9qabwvbn/launch");
    command(&launch, "1").expect("launch");
    let create = region
        .join("instances")
        .join(read(&launch).trim())
        .join("create_image");
    command(&create, "fs-golden").expect("create_image");
    let id = read(&create).trim().to_string();
    let source = slow.region(GZ).join("custom").join(&id);
    let metadata = json(&source.join("metadata.json"));
    let mut keys: Vec<&str> = metadata
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut expected = IMAGE_MEMBERS.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected);

    command(
        &source.join("copy_to"),
        r#"{"DestinationRegions": ["ap-shanghai"], "ImageName": "fs-golden-sh"}"#,
    )
    .expect("copy_to");
    let copy_id = read(&source.join("copy_to"))
        .split_whitespace()
        .nth(1)
        .expect("copy ID")
        .to_string();
    let copy = slow.region("ap-shanghai").join("custom").join(&copy_id);
    assert_eq!(read(&copy.join("name")), "fs-golden-sh\n");
    assert_eq!(read(&source.join("state")), "SYNCING\n");
    assert_eq!(json(&source.join("metadata.json"))["ImageState"], "SYNCING");
    // Another mount of the store sees it too.
    assert!(wait_for_content(
        &region.join("custom").join(&id).join("state"),
        "SYNCING\n",
        Duration::from_secs(2)
    ));
    assert_eq!(errno_of(std::fs::remove_dir(&source)), libc::EBUSY);
    assert!(
        last_error(&slow).contains(" InvalidImageId.IncorrectState "),
        "{}",
        last_error(&slow)
    );
    command(&source.join("launch"), "1").expect("launched from while copied");
    for dir in [&copy, &source] {
        assert!(
            wait_for_content(&dir.join("state"), "NORMAL\n", Duration::from_secs(15)),
            "{}",
            dir.display()
        );
    }
    assert_eq!(json(&copy.join("metadata.json"))["SyncPercent"], 100);
    std::fs::remove_dir(&source).expect("deleted once its copy is done");
}

/// In a mount: `launch`, `create_image` and `copy_to` take the request's `DryRun`, check as
/// the real command would (the same codes) and change nothing; `copy_to`'s JSON is a
/// SyncImages request whose image is the file's.
#[test]
fn dry_runs_in_the_filesystem() {
    quoted("The filesystem's JSON commands `launch`, `create_image` and `copy_to` take the same `DryRun` and rehearse alike; the file then reads `dry run: the launch would be accepted` (the image, the copy).");
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount_with(None, &["--transition-delay", "0"]);
    let region = mount.region(GZ);
    let count = |dir: &Path| std::fs::read_dir(dir).expect("dir").count();
    let refused = |path: &Path, text: &str, errno: i32, code: &str| {
        assert_eq!(errno_of(command(path, text)), errno, "{text}");
        let last = last_error(&mount);
        assert!(last.contains(&format!(" {code} ")), "{text}: {last}");
    };

    let launch = region.join("public/img-9qabwvbn/launch");
    command(&launch, r#"{"InstanceCount": 2, "DryRun": true}"#).expect("dry launch");
    assert_eq!(read(&launch), "dry run: the launch would be accepted\n");
    assert_eq!(count(&region.join("instances")), 0);
    refused(
        &launch,
        r#"{"InstanceCount": 501, "DryRun": true}"#,
        libc::EINVAL,
        "InvalidParameterValue.Range",
    );
    refused(
        &launch,
        r#"{"InstanceCount": 1, "DryRun": "true"}"#,
        libc::EINVAL,
        "InvalidParameter",
    );
    assert_eq!(count(&region.join("instances")), 0);
    command(&launch, "1").expect("launch");
    let instance = region.join("instances").join(read(&launch).trim());

    let create = instance.join("create_image");
    command(&create, r#"{"ImageName": "rehearsed", "DryRun": true}"#).expect("dry create");
    assert_eq!(read(&create), "dry run: the image would be accepted\n");
    assert_eq!(count(&region.join("custom")), 0);
    assert_eq!(json(&region.join("quota.json"))["CustomImagesUsed"], 0);
    command(&create, "golden").expect("create_image");
    let image = region.join("custom").join(read(&create).trim());
    refused(
        &create,
        r#"{"ImageName": "golden", "DryRun": true}"#,
        libc::EEXIST,
        "InvalidImageName.Duplicate",
    );

    let copy_to = image.join("copy_to");
    let shanghai = mount.region("ap-shanghai").join("custom");
    command(
        &copy_to,
        r#"{"DestinationRegions": ["ap-shanghai"], "ImageName": "golden-sh", "DryRun": true}"#,
    )
    .expect("dry copy");
    assert_eq!(read(&copy_to), "dry run: the copy would be accepted\n");
    assert_eq!(count(&shanghai), 0);
    assert_eq!(read(&image.join("state")), "NORMAL\n");
    refused(
        &copy_to,
        r#"{"DestinationRegions": ["ap-singapore"], "DryRun": true}"#,
        libc::EINVAL,
        "InvalidRegion.Unavailable",
    );
    // The file names the image: `ImageIds` is not a member of the command.
    refused(
        &copy_to,
        r#"{"DestinationRegions": ["ap-shanghai"], "ImageIds": ["img-9qabwvbn"]}"#,
        libc::EINVAL,
        "UnknownParameter",
    );
    assert!(last_error(&mount).contains("`ImageIds`"));
    refused(
        &copy_to,
        r#"{"DestinationRegions": ["ap-shanghai"], "Encrypt": true}"#,
        libc::EPERM,
        "UnsupportedOperation",
    );
    assert_eq!(count(&shanghai), 0);
    command(
        &copy_to,
        r#"{"DestinationRegions": ["ap-shanghai"], "ImageSetRequired": false}"#,
    )
    .expect("copy_to");
    assert_eq!(
        read(&copy_to).lines().count(),
        1,
        "the file shows the copies"
    );
    assert_eq!(count(&shanghai), 1);
}
