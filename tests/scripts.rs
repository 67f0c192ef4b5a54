//! The worked scripts of `scripts/`, run as a user runs them: `shellcheck` on each (with `CI`
//! set a missing shellcheck fails the test), then each script against a real mount of a
//! scratch store, with the built `imagefs` first on the PATH (the scripts also need `jq`),
//! once with `--transition-delay 0` and once with a delay of 1 s. The tests assert on the
//! tree the scripts leave (the IDs they print exist, copies are in their regions, shares,
//! deletions; a dry run changes nothing) and on their exit codes and messages.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::{command, imagefs_bin, read, stderr, stdout, wait_for_content, Mount, Scratch};

const SCRIPTS: [&str; 4] = [
    "golden-image.sh",
    "backup-rotate.sh",
    "share-audit.sh",
    "cleanup.sh",
];
const REGION: &str = "ap-guangzhou";
/// A public image every region has (CentOS 7.6).
const PUBLIC: &str = "img-9qabwvbn";

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

/// The PATH the scripts run with: the built binary's directory first.
fn path_with_imagefs() -> String {
    let bin = Path::new(imagefs_bin()).parent().expect("bin dir");
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Runs a script (through its shebang) with `args`.
fn run_script(name: &str, args: &[&str]) -> Output {
    Command::new(script(name))
        .args(args)
        .env("PATH", path_with_imagefs())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"))
}

/// Runs a script against a mount, showing its output when it does not end with `code`.
fn run_on(mount: &Mount, code: i32, name: &str, args: &[&str]) -> Output {
    let root = mount.root.to_string_lossy().into_owned();
    let mut all = vec![root.as_str()];
    all.extend_from_slice(args);
    let out = run_script(name, &all);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{name} {args:?}\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// Whether a tool the scripts or their test need is installed. With `CI` set, a missing one
/// fails the test.
fn tool_available(tool: &str) -> bool {
    if Command::new(tool).arg("--version").output().is_ok() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{tool} is missing and CI is set: install it (apt-get install {tool})");
    }
    eprintln!("skipping: {tool} is missing (set CI to make this a failure)");
    false
}

#[test]
fn scripts_are_shellcheck_clean() {
    if !tool_available("shellcheck") {
        return;
    }
    for name in SCRIPTS {
        let out = Command::new("shellcheck")
            .arg(script(name))
            .output()
            .expect("shellcheck");
        assert!(
            out.status.success(),
            "shellcheck {name}:\n{}{}",
            stdout(&out),
            stderr(&out)
        );
    }
}

#[test]
fn scripts_follow_the_conventions_and_the_readme_links_them() {
    let readme = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"));
    let mut listed: Vec<String> = std::fs::read_dir(script(""))
        .expect("scripts/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    listed.sort();
    let mut expected: Vec<String> = SCRIPTS.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected, "every script in scripts/ is tested here");
    let not_a_mount = tempfile::tempdir().expect("tempdir");
    for name in SCRIPTS {
        let text = read(&script(name));
        assert!(text.starts_with("#!/usr/bin/env bash\n"), "{name}: shebang");
        assert!(
            text.contains("\nset -euo pipefail\n"),
            "{name}: strict mode"
        );
        assert!(!text.contains("eval "), "{name}: no eval");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(script(name)).expect("stat").permissions(),
        );
        assert!(mode & 0o111 != 0, "{name} is executable");
        assert!(
            readme.contains(&format!("(scripts/{name})")),
            "README links scripts/{name}"
        );

        let help = run_script(name, &["--help"]);
        assert!(help.status.success(), "{name} --help");
        assert!(
            stdout(&help).starts_with(&format!("Usage: {name} MOUNTPOINT")),
            "{name} --help: {}",
            stdout(&help)
        );
        let bare = run_script(name, &[]);
        assert_eq!(bare.status.code(), Some(2), "{name} without arguments");
        assert!(stderr(&bare).contains("Usage:"), "{name}: usage on stderr");
        let unknown = run_script(name, &["/tmp", "--no-such-option"]);
        assert_eq!(unknown.status.code(), Some(2), "{name} --no-such-option");
    }
    // Given all they need but a directory that is not a mount, each says so and fails.
    let dir = not_a_mount.path().to_str().expect("utf-8");
    for (name, args) in [
        (
            "golden-image.sh",
            &["--region", REGION, "--from", PUBLIC, "--name", "x"][..],
        ),
        ("backup-rotate.sh", &["--name", "x"][..]),
        ("share-audit.sh", &[][..]),
        ("cleanup.sh", &["--match", "x", "--older-than", "1d"][..]),
    ] {
        let mut all = vec![dir];
        all.extend_from_slice(args);
        let out = run_script(name, &all);
        assert_eq!(out.status.code(), Some(1), "{name} on a plain directory");
        assert!(
            stderr(&out).contains("is not an imagefs mount"),
            "{name}: {}",
            stderr(&out)
        );
    }
}

// ---- helpers over the mount -------------------------------------------------------------

fn imagefs_store(scratch: &Scratch, args: &[&str]) {
    let store = scratch.store().to_string_lossy().into_owned();
    let out = Command::new(imagefs_bin())
        .args(args)
        .args(["--store", &store])
        .output()
        .expect("imagefs");
    assert!(out.status.success(), "imagefs {args:?}: {}", stderr(&out));
}

fn add_accounts(scratch: &Scratch, ids: &[&str]) {
    for id in ids {
        imagefs_store(scratch, &["accounts", "add", id]);
    }
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

fn set(text: &str) -> BTreeSet<String> {
    text.lines().map(str::to_string).collect()
}

fn wait_state(dir: &Path, state: &str) {
    assert!(
        wait_for_content(
            &dir.join("state"),
            &format!("{state}\n"),
            Duration::from_secs(30)
        ),
        "{} did not become {state}: {}",
        dir.display(),
        std::fs::read_to_string(dir.join("state")).unwrap_or_default()
    );
}

/// Launches from the public image with a RunInstances JSON; the new instance IDs.
fn launch(mount: &Mount, json: &str) -> Vec<String> {
    let file = mount
        .region(REGION)
        .join("public")
        .join(PUBLIC)
        .join("launch");
    command(&file, json).expect("launch");
    lines(&read(&file))
}

fn instance(mount: &Mount, id: &str) -> PathBuf {
    mount.region(REGION).join("instances").join(id)
}

fn custom(mount: &Mount, region: &str, id: &str) -> PathBuf {
    mount.region(region).join("custom").join(id)
}

/// Images a RUNNING instance and waits for the image to be NORMAL; its ID.
fn make_image(mount: &Mount, instance_id: &str, name: &str) -> String {
    let file = instance(mount, instance_id).join("create_image");
    command(&file, name).unwrap_or_else(|e| panic!("create_image {name}: {e}"));
    let id = read(&file).trim().to_string();
    wait_state(&custom(mount, REGION, &id), "NORMAL");
    id
}

/// The custom images of a region, by name.
fn customs(mount: &Mount, region: &str) -> BTreeSet<String> {
    std::fs::read_dir(mount.region(region).join("custom"))
        .expect("custom/")
        .map(|e| {
            read(&e.expect("entry").path().join("name"))
                .trim()
                .to_string()
        })
        .collect()
}

fn instances(mount: &Mount) -> BTreeSet<String> {
    std::fs::read_dir(mount.region(REGION).join("instances"))
        .expect("instances/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// The region's instances once those being terminated are gone (a terminated instance is
/// TERMINATING for the transition delay, as in the cloud).
fn instances_once_terminated(mount: &Mount) -> BTreeSet<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let listed = instances(mount);
        let terminating = listed.iter().any(|id| {
            let state = mount
                .region(REGION)
                .join("instances")
                .join(id)
                .join("state");
            std::fs::read_to_string(state).is_ok_and(|s| s == "TERMINATING\n")
        });
        if !terminating || std::time::Instant::now() > deadline {
            return listed;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn share(dir: &Path) -> BTreeSet<String> {
    set(&read(&dir.join("share")))
}

fn accounts(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// Runs each scenario with transitions finishing at once and with a real delay.
macro_rules! with_delays {
    ($scenario:ident) => {
        mod $scenario {
            #[test]
            fn no_delay() {
                if crate::common::fuse_available() && super::tool_available("jq") {
                    super::$scenario("0");
                }
            }
            #[test]
            fn one_second_delay() {
                if crate::common::fuse_available() && super::tool_available("jq") {
                    super::$scenario("1");
                }
            }
        }
    };
}

// ---- golden-image.sh ----------------------------------------------------------------------

with_delays!(golden_image);

fn golden_image(delay: &str) {
    let scratch = Scratch::new();
    add_accounts(&scratch, &["100000000002", "100000000003"]);
    let mount = scratch.mount_with(None, &["--transition-delay", delay]);
    let out = run_on(
        &mount,
        0,
        "golden-image.sh",
        &[
            "--region",
            REGION,
            "--from",
            PUBLIC,
            "--name",
            "golden-web",
            "--copy-to",
            "ap-shanghai,ap-beijing",
            "--share",
            "100000000002 100000000003",
        ],
    );
    let report = lines(&stdout(&out));
    let regions: Vec<&str> = report
        .iter()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(regions, [REGION, "ap-shanghai", "ap-beijing"], "{report:?}");
    for line in &report {
        let (region, id) = line.split_once(' ').expect("<region> <id>");
        let dir = custom(&mount, region, id);
        assert_eq!(read(&dir.join("state")), "NORMAL\n", "{line}");
        assert_eq!(read(&dir.join("name")), "golden-web\n", "{line}");
        assert_eq!(
            share(&dir),
            accounts(&["100000000002", "100000000003"]),
            "{line}"
        );
    }
    assert!(
        instances_once_terminated(&mount).is_empty(),
        "the build instance is gone"
    );

    // The receiver sees the copy in its shared/ of that region.
    let receiver = scratch.mount_with(Some("100000000002"), &[]);
    let (_, copy) = report[1].split_once(' ').unwrap();
    let shared = receiver.region("ap-shanghai").join("shared").join(copy);
    assert!(wait_for_content(
        &shared.join("name"),
        "golden-web\n",
        Duration::from_secs(5)
    ));

    // A refused step ends the script non-zero with the API's code, and the build instance
    // is terminated all the same.
    let out = run_on(
        &mount,
        1,
        "golden-image.sh",
        &["--region", REGION, "--from", PUBLIC, "--name", "golden-web"],
    );
    assert!(
        stderr(&out).contains("InvalidImageName.Duplicate"),
        "{}",
        stderr(&out)
    );
    assert!(
        instances_once_terminated(&mount).is_empty(),
        "the build instance is gone"
    );

    // An image that fails to be made stops the pipeline before any copy or share.
    imagefs_store(&scratch, &["store", "inject", "create-fails", "1"]);
    let out = run_on(
        &mount,
        1,
        "golden-image.sh",
        &[
            "--region",
            REGION,
            "--from",
            PUBLIC,
            "--name",
            "golden-failed",
            "--copy-to",
            "ap-shanghai",
        ],
    );
    assert!(stderr(&out).contains("CREATEFAILED"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    assert!(!customs(&mount, "ap-shanghai").contains("golden-failed"));
    assert!(
        instances_once_terminated(&mount).is_empty(),
        "the build instance is gone"
    );
}

// ---- backup-rotate.sh ---------------------------------------------------------------------

with_delays!(backup_rotation);

/// The names of an instance's backups, oldest first.
fn backups(mount: &Mount, instance_id: &str) -> Vec<String> {
    let prefix = format!("backup-{instance_id}-");
    customs(mount, REGION)
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

fn quota_used(mount: &Mount) -> (u64, u64) {
    let quota = common::json(&mount.region(REGION).join("quota.json"));
    (
        quota["CustomImagesUsed"].as_u64().unwrap(),
        quota["CustomImageQuota"].as_u64().unwrap(),
    )
}

fn backup_rotation(delay: &str) {
    let scratch = Scratch::new();
    imagefs_store(&scratch, &["store", "set", "custom-image-quota", "4"]);
    let mount = scratch.mount_with(None, &["--transition-delay", delay]);
    let web1 = launch(&mount, r#"{"InstanceName": "web1"}"#).remove(0);
    let db = launch(&mount, r#"{"InstanceName": "db"}"#).remove(0);
    wait_state(&instance(&mount, &web1), "RUNNING");
    wait_state(&instance(&mount, &db), "RUNNING");
    // Two earlier backups of web1 (their names carry their time).
    let oldest = format!("backup-{web1}-20000101-000000");
    let older = format!("backup-{web1}-20000102-000000");
    make_image(&mount, &web1, &oldest);
    make_image(&mount, &web1, &older);
    // web2 is still starting (with a delay) when the rotation runs: the script waits.
    let web2 = launch(&mount, r#"{"InstanceName": "web2"}"#).remove(0);

    let out = run_on(
        &mount,
        0,
        "backup-rotate.sh",
        &["--name", "web*", "--keep", "2"],
    );
    let report = stdout(&out);
    let first1 = backups(&mount, &web1);
    assert_eq!(first1.len(), 2, "{first1:?}\n{report}");
    assert_eq!(first1[0], older, "the oldest went first");
    assert_eq!(backups(&mount, &web2).len(), 1, "{report}");
    assert!(backups(&mount, &db).is_empty(), "db does not match web*");
    assert_eq!(report.matches(" created img-").count(), 2, "{report}");
    assert_eq!(report.matches(" deleted img-").count(), 1, "{report}");
    assert_eq!(quota_used(&mount), (3, 4));

    // Fill the quota with an image that is no backup. Now web1 can only be backed up by
    // deleting its oldest backup first, and web2, with nothing to delete, is skipped.
    make_image(&mount, &db, "keep-me");
    std::thread::sleep(Duration::from_millis(1100)); // a new second: new backup names
    let out = run_on(
        &mount,
        1,
        "backup-rotate.sh",
        &["--name", "web*", "--keep", "2", "--region", REGION],
    );
    let why = stderr(&out);
    assert!(
        why.contains(&format!(
            "skipped {web2} in {REGION}: the custom image quota is full"
        )),
        "{why}"
    );
    let second1 = backups(&mount, &web1);
    assert_eq!(second1.len(), 2, "{second1:?}");
    assert_eq!(second1[0], first1[1], "the newest backups are kept");
    assert_eq!(backups(&mount, &web2).len(), 1);
    assert!(customs(&mount, REGION).contains("keep-me"));
    assert_eq!(quota_used(&mount), (4, 4));

    let out = run_on(
        &mount,
        1,
        "backup-rotate.sh",
        &["--name", "web*", "--keep", "0"],
    );
    assert!(stderr(&out).contains("--keep"), "{}", stderr(&out));
}

// ---- share-audit.sh -----------------------------------------------------------------------

with_delays!(sharing_audit);

fn sharing_audit(delay: &str) {
    let scratch = Scratch::new();
    add_accounts(&scratch, &["100000000002", "100000000003", "100000000004"]);
    let mount = scratch.mount_with(None, &["--transition-delay", delay]);
    let builder = launch(&mount, "1").remove(0);
    wait_state(&instance(&mount, &builder), "RUNNING");
    let a = make_image(&mount, &builder, "audit-a");
    make_image(&mount, &builder, "audit-unshared");
    let source = custom(&mount, REGION, &a);
    command(&source.join("copy_to"), "ap-shanghai").expect("copy_to");
    let copy = read(&source.join("copy_to"))
        .split_whitespace()
        .nth(1)
        .expect("copy ID")
        .to_string();
    let copied = custom(&mount, "ap-shanghai", &copy);
    wait_state(&copied, "NORMAL");
    command(&source.join("share"), "100000000002 100000000003").expect("share");
    command(&copied.join("share"), "100000000003,100000000004").expect("share");
    let line = |region: &str, id: &str, account: &str, verdict: &str| {
        format!("{region} {id} 1000000000{account} {verdict}")
    };

    // Without an allow-list: every share, listed.
    let out = run_on(&mount, 0, "share-audit.sh", &[]);
    let expected: BTreeSet<String> = [
        line(REGION, &a, "02", "shared"),
        line(REGION, &a, "03", "shared"),
        line("ap-shanghai", &copy, "03", "shared"),
        line("ap-shanghai", &copy, "04", "shared"),
    ]
    .into();
    assert_eq!(set(&stdout(&out)), expected);

    // A dry run says what it would revoke, and changes nothing.
    let out = run_on(
        &mount,
        0,
        "share-audit.sh",
        &[
            "--allow",
            "100000000002",
            "--allow",
            "100000000004",
            "--dry-run",
        ],
    );
    let expected: BTreeSet<String> = [
        line(REGION, &a, "02", "allowed"),
        line(REGION, &a, "03", "would-unshare"),
        line("ap-shanghai", &copy, "03", "would-unshare"),
        line("ap-shanghai", &copy, "04", "allowed"),
    ]
    .into();
    assert_eq!(set(&stdout(&out)), expected);
    assert_eq!(share(&source), accounts(&["100000000002", "100000000003"]));
    assert_eq!(share(&copied), accounts(&["100000000003", "100000000004"]));

    // For real, with the allow-list in a file.
    let allow = scratch.path().join("allowed");
    std::fs::write(
        &allow,
        "# who may keep shares\n100000000002\n\n100000000004 ops\n",
    )
    .unwrap();
    let allow_arg = allow.to_string_lossy().into_owned();
    let out = run_on(&mount, 0, "share-audit.sh", &["--allow-file", &allow_arg]);
    let expected: BTreeSet<String> = [
        line(REGION, &a, "02", "allowed"),
        line(REGION, &a, "03", "unshared"),
        line("ap-shanghai", &copy, "03", "unshared"),
        line("ap-shanghai", &copy, "04", "allowed"),
    ]
    .into();
    assert_eq!(set(&stdout(&out)), expected);
    assert_eq!(share(&source), accounts(&["100000000002"]));
    assert_eq!(share(&copied), accounts(&["100000000004"]));

    // A refused unshare is reported with its code and makes the script fail.
    imagefs_store(&scratch, &["store", "inject", "throttle", "1"]);
    let out = run_on(&mount, 1, "share-audit.sh", &["--allow", "100000000004"]);
    assert!(
        stderr(&out).contains("RequestLimitExceeded"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains(&line(REGION, &a, "02", "unshare-refused")));
    assert_eq!(share(&source), accounts(&["100000000002"]));
}

// ---- cleanup.sh ---------------------------------------------------------------------------

with_delays!(cleanup);

fn cleanup(delay: &str) {
    let scratch = Scratch::new();
    add_accounts(&scratch, &["100000000002"]);
    let mount = scratch.mount_with(None, &["--transition-delay", delay]);
    let temporary = launch(&mount, r#"{"InstanceCount": 2, "InstanceName": "tmp-"}"#);
    let prod = launch(&mount, r#"{"InstanceName": "prod"}"#).remove(0);
    wait_state(&instance(&mount, &prod), "RUNNING");
    let tmp_a = make_image(&mount, &prod, "tmp-a");
    let tmp_b = make_image(&mount, &prod, "tmp-b");
    make_image(&mount, &prod, "prod-img");
    command(
        &custom(&mount, REGION, &tmp_b).join("share"),
        "100000000002",
    )
    .expect("share");
    let all_instances = instances(&mount);
    let all_images = customs(&mount, REGION);
    assert_eq!((all_instances.len(), all_images.len()), (3, 3));

    // Nothing is a day old.
    let out = run_on(
        &mount,
        0,
        "cleanup.sh",
        &["--match", "tmp-*", "--older-than", "1d", "--dry-run"],
    );
    assert_eq!(stdout(&out), "");

    // A dry run says what it would do, and changes nothing.
    let out = run_on(
        &mount,
        0,
        "cleanup.sh",
        &["--match", "tmp-*", "--older-than", "0s", "--dry-run"],
    );
    let expected: BTreeSet<String> = [
        format!("would-terminate {REGION} {} tmp-1", temporary[0]),
        format!("would-terminate {REGION} {} tmp-2", temporary[1]),
        format!("would-delete {REGION} {tmp_a} tmp-a"),
        format!("skipped {REGION} {tmp_b} tmp-b: shared with 1 account(s)"),
    ]
    .into();
    assert_eq!(set(&stdout(&out)), expected);
    assert_eq!(instances(&mount), all_instances);
    assert_eq!(customs(&mount, REGION), all_images);

    // Only what is old enough goes: an image made a moment ago stays.
    std::thread::sleep(Duration::from_secs(6));
    let tmp_new = make_image(&mount, &prod, "tmp-new");
    let out = run_on(
        &mount,
        0,
        "cleanup.sh",
        &["--match", "tmp-*", "--older-than", "5s"],
    );
    let expected: BTreeSet<String> = [
        format!("terminated {REGION} {} tmp-1", temporary[0]),
        format!("terminated {REGION} {} tmp-2", temporary[1]),
        format!("deleted {REGION} {tmp_a} tmp-a"),
        format!("skipped {REGION} {tmp_b} tmp-b: shared with 1 account(s)"),
    ]
    .into();
    assert_eq!(set(&stdout(&out)), expected);
    assert_eq!(instances_once_terminated(&mount), accounts(&[&prod]));
    assert_eq!(
        customs(&mount, REGION),
        accounts(&["prod-img", "tmp-b", "tmp-new"])
    );

    // A refused deletion is reported with its code and makes the script fail.
    imagefs_store(&scratch, &["store", "inject", "throttle", "1"]);
    let out = run_on(
        &mount,
        1,
        "cleanup.sh",
        &["--match", "tmp-new", "--older-than", "0s"],
    );
    assert!(
        stdout(&out).contains(&format!("skipped {REGION} {tmp_new} tmp-new: "))
            && stdout(&out).contains("RequestLimitExceeded"),
        "{}",
        stdout(&out)
    );
    assert!(customs(&mount, REGION).contains("tmp-new"));
}
