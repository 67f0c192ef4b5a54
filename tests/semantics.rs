//! docs/SEMANTICS.md, checked: each test quotes the paragraph it checks (the quote must stand
//! in the document, whitespace aside) and shows it holds through a real mount.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::*;

fn mounted() -> Option<(Scratch, Mount)> {
    if !fuse_available() {
        return None;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount_with(None, &["--transition-delay", "0"]);
    Some((scratch, mount))
}

fn custom_image(mount: &Mount, name: &str) -> std::path::PathBuf {
    let region = mount.region("ap-guangzhou");
    let launch = region.join("public/img-9qabwvbn/launch");
    command(&launch, "1").expect("launch");
    let instance = region.join("instances").join(read(&launch).trim());
    command(&instance.join("create_image"), name).expect("create_image");
    region
        .join("custom")
        .join(read(&instance.join("create_image")).trim())
}

#[test]
fn one_command_per_write_one_newline_ignored() {
    quoted("A control file takes one command per `write(2)`: `echo value > file` (its `O_TRUNC` is accepted). One trailing newline is ignored.");
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let image = custom_image(&mount, "first");
    let out = sh(
        &image,
        "echo 'with spaces  ' > name && cat name && printf 'no newline' > name && cat name",
    );
    assert_eq!(
        stdout(&out),
        "with spaces  \nno newline\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_command_is_at_most_64_kib() {
    quoted("A command is at most 64 KiB (a longer write is refused whole: the kernel would hand it over in pieces).");
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let image = custom_image(&mount, "big");
    assert_eq!(
        errno_of(command(&image.join("description"), &"d".repeat(70 * 1024))),
        libc::EINVAL
    );
    assert_eq!(read(&image.join("description")), "\n");
}

#[test]
fn control_files_show_their_last_outcome() {
    quoted("Reading a control file shows the outcome of the last command written to it through this mount (empty before the first), and while scripts write to the same file at once, each reads the outcome of its own command.");
    let Some((scratch, mount)) = mounted() else {
        return;
    };
    let launch = mount
        .region("ap-guangzhou")
        .join("public/img-9qabwvbn/launch");
    assert_eq!(read(&launch), "");
    command(&launch, "2").expect("launch");
    assert_eq!(read(&launch).lines().count(), 2);
    // Through this mount only: another mount has its own outcomes.
    let other = scratch.mount_with(None, &[]);
    assert_eq!(
        read(
            &other
                .region("ap-guangzhou")
                .join("public/img-9qabwvbn/launch")
        ),
        ""
    );
}

#[test]
fn each_script_reads_the_outcome_of_its_own_command() {
    quoted("Whose outcome a reader sees: a command belongs to the thread that wrote it, to that thread's process, and to the process's parent (the shell that ran `cmd > file`). A read shows the last command of the reading thread, else of its process, else of its parent, grandparent, ... (the nearest that wrote one), else the last command anyone wrote to the file.");
    quoted("A refused command has no outcome: its writer then reads an empty file, never the IDs of an earlier command.");
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let image = mount.region("ap-guangzhou").join("public/img-9qabwvbn");
    // `/usr/bin/printf` is not a builtin: a child of each shell writes, and the command is
    // its shell's too.
    let out = sh(
        &image,
        "seq 8 | xargs -P 8 -I{} sh -c '/usr/bin/printf 1 > launch && cat launch'",
    );
    let ids: std::collections::BTreeSet<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(ids.len(), 8, "{} {}", stdout(&out), stderr(&out));
    assert!(ids.iter().all(|id| id.starts_with("ins-")), "{ids:?}");
    // A refused command, then its writer's read: nothing, not the instance before it.
    let out = sh(
        &image,
        "echo 1 > launch; echo 501 > launch; cat launch | wc -c",
    );
    assert_eq!(stdout(&out).trim(), "0", "{}", stderr(&out));
}

#[test]
fn a_read_is_one_whole_outcome() {
    quoted("A read returns one whole outcome, never a mix of two, nor an outcome with the bytes of a command being written. A descriptor shows the outcome its reader was to see when it opened the file, until a command is written through that same descriptor: then it shows that command's outcome. (Each reader is shown its own copy of a file that has outcomes: `stat` gives it an inode number of its own.)");
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let launch = mount
        .region("ap-guangzhou")
        .join("public/img-9qabwvbn/launch");
    command(&launch, "1").expect("launch");
    let mine = read(&launch);
    let opened = std::fs::File::open(&launch).expect("open");
    // Another script launches meanwhile: the open file still shows the outcome it opened.
    let out = sh(
        &mount.root,
        &format!("echo 2 > {0} && cat {0}", launch.display()),
    );
    assert_eq!(stdout(&out).lines().count(), 2, "{}", stderr(&out));
    let mut shown = String::new();
    std::io::Read::read_to_string(&mut &opened, &mut shown).expect("read");
    assert_eq!(shown, mine);
    // Its own copy: the script's cat was shown another inode.
    let out = sh(
        &mount.root,
        &format!("echo 1 > {0} && stat -c %i {0}", launch.display()),
    );
    let theirs: u64 = stdout(&out).trim().parse().expect("inode number");
    assert_ne!(opened.metadata().expect("stat").ino(), theirs);
}

#[test]
fn list_writes_are_all_or_nothing() {
    quoted("A list write (`share`, `unshare`, `copy_to`) succeeds or fails as a whole: if one value is refused, none is applied.");
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let image = custom_image(&mount, "listed");
    assert_eq!(
        errno_of(command(&image.join("copy_to"), "ap-shanghai ap-singapore")),
        libc::EINVAL
    );
    assert!(
        std::fs::read_dir(mount.region("ap-shanghai").join("custom"))
            .expect("dir")
            .next()
            .is_none()
    );
}

#[test]
fn json_commands_are_requests_of_their_action() {
    quoted("A JSON command is the action's request, read exactly as `imagefs serve` reads the action (the same members, types and refusals; \"Requests\" under Refusals): a member the action does not have is refused with `UnknownParameter`, one of the wrong type (`\"InstanceCount\": \"3\"`) with `InvalidParameter`, a missing required one with `MissingParameter` (all `EINVAL`), each naming the member; `null` is a member not given.");
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let launch = mount
        .region("ap-guangzhou")
        .join("public/img-9qabwvbn/launch");
    for (text, code, member) in [
        (r#"{"Bogus": 1}"#, "UnknownParameter", "Bogus"),
        (
            r#"{"InstanceCount": "3"}"#,
            "InvalidParameter",
            "InstanceCount",
        ),
        (r#"{"Placement": {}}"#, "MissingParameter", "Placement.Zone"),
    ] {
        assert_eq!(errno_of(command(&launch, text)), libc::EINVAL, "{text}");
        let last = last_error(&mount);
        assert!(last.contains(&format!(" {code} ")), "{text}: {last}");
        assert!(last.contains(&format!("`{member}`")), "{text}: {last}");
    }
    command(&launch, r#"{"InstanceCount": 1, "InstanceName": null}"#).expect("null is not given");
    assert_eq!(read(&launch).lines().count(), 1);
}

#[test]
fn rmdir_terminates_and_refusals_are_recorded() {
    quoted("`rmdir regions/<r>/instances/<InstanceId>` terminates an instance. A refused `rmdir` is returned by `rmdir(2)` and recorded in `errors` like a refused write.");
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    custom_image(&mount, "kept");
    let instances = mount.region("ap-guangzhou").join("instances");
    let instance = std::fs::read_dir(&instances)
        .expect("dir")
        .next()
        .expect("one")
        .expect("entry")
        .path();
    std::fs::remove_dir(&instance).expect("terminate");
    assert!(!instance.exists());
    let public = mount.region("ap-guangzhou").join("public/img-9qabwvbn");
    assert_eq!(errno_of(std::fs::remove_dir(&public)), libc::EPERM);
    let last = read(&mount.path("errors"))
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    assert!(
        last.contains(" rmdir /regions/ap-guangzhou/public/img-9qabwvbn UnsupportedOperation "),
        "{last}"
    );
}

#[test]
fn identical_refusals_of_one_rm_are_one_line() {
    quoted("Refused changes to the tree fold: a refusal with the same operation, the same API error code and the same parent directory as the last line of `errors`, on another entry than the last one counted there and within 2 s of it, is counted on that line instead of taking a new one; the line keeps the first refusal's time, path and message and ends with ` (xN)`, N the refusals it stands for. So `rm -r` of a custom image's directory leaves one `unlink` line, not one per file.");
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let image = custom_image(&mount, "removed");
    let files = std::fs::read_dir(&image).expect("dir").count();
    assert!(files > 2, "{files} files");
    let before = read(&mount.path("errors")).lines().count();
    let out = std::process::Command::new("rm")
        .arg("-r")
        .arg(&image)
        .output()
        .expect("rm");
    assert!(!out.status.success(), "rm -r of an image's files must fail");
    let errors = read(&mount.path("errors"));
    let new: Vec<&str> = errors.lines().skip(before).collect();
    let unlinks: Vec<&&str> = new.iter().filter(|l| l.contains(" unlink ")).collect();
    assert_eq!(unlinks.len(), 1, "{errors}");
    let dir = image.strip_prefix(&mount.root).expect("inside");
    assert!(
        unlinks[0].contains(&format!(" unlink /{}/", dir.display())),
        "{errors}"
    );
    assert!(
        unlinks[0].ends_with(&format!(" (x{files})")),
        "{files} files: {errors}"
    );
}

#[test]
fn errors_lines_have_five_fields() {
    quoted("The fields are: time, operation, path, API error code, message.");
    quoted("In `errors`, control characters in names and messages are escaped, so each entry stays one line.");
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let name = mount
        .region("ap-guangzhou")
        .join("public/img-9qabwvbn/name");
    assert_eq!(errno_of(command(&name, "x")), libc::EPERM);
    let line = read(&mount.path("errors"));
    let fields: Vec<&str> = line.trim_end().splitn(5, ' ').collect();
    assert_eq!(fields.len(), 5, "{line}");
    assert!(
        imagefs::model::parse_api_time(fields[0]).is_some(),
        "{line}"
    );
    assert_eq!(fields[1], "write");
    assert_eq!(fields[2], "/regions/ap-guangzhou/public/img-9qabwvbn/name");
    assert_eq!(fields[3], "UnsupportedOperation");
    assert!(
        fields[4].contains("public images cannot be modified"),
        "{line}"
    );
}

#[test]
fn sizes_inodes_and_modes() {
    quoted("`stat` reports exactly the size `cat` returns, for every file.");
    quoted("Inode numbers are stable for the life of a mount.");
    quoted("| `regions/<r>/custom/` | 0755 |");
    quoted("| `<ImageId>/unshare` (custom only) | 0200 | write: stop sharing |");
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let image = custom_image(&mount, "sized");
    for file in [
        "metadata.json",
        "name",
        "state",
        "price.json",
        "share",
        "copy_to",
        "launch",
    ] {
        let path = image.join(file);
        assert_eq!(
            std::fs::metadata(&path).expect("stat").len(),
            read(&path).len() as u64,
            "{file}"
        );
    }
    let ino = std::fs::metadata(&image).expect("stat").ino();
    command(&image.join("name"), "renamed").expect("rename");
    assert_eq!(std::fs::metadata(&image).expect("stat").ino(), ino);
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&mount.region("ap-guangzhou").join("custom")), 0o755);
    assert_eq!(mode(&image.join("unshare")), 0o200);
    assert_eq!(mode(&image.join("name")), 0o644);
    assert_eq!(
        mode(
            &mount
                .region("ap-guangzhou")
                .join("public/img-9qabwvbn/name")
        ),
        0o444
    );
}

#[test]
fn windows_pays_a_license_fee_overseas() {
    quoted("Public images are free, except Windows images in regions outside mainland China, which carry a license fee.");
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let price = |region: &str| json(&mount.region(region).join("public/img-9tzezztj/price.json"));
    assert_eq!(price("ap-guangzhou")["ChargeType"], "FREE");
    assert_eq!(price("ap-tokyo")["ChargeType"], "LICENSE_FEE");
    assert_eq!(
        json(
            &mount
                .region("ap-tokyo")
                .join("public/img-487zeit5/price.json")
        )["ChargeType"],
        "FREE"
    );
}

#[test]
fn shared_images_show_in_their_region_only() {
    quoted("A shared image appears in the receiver's `shared/` of the same region only.");
    let Some((scratch, mount)) = mounted() else {
        return;
    };
    let out = run(
        imagefs_bin(),
        &[
            "accounts",
            "add",
            "100000000002",
            "--store",
            scratch.store().to_str().expect("p"),
        ],
    );
    assert!(out.status.success());
    let image = custom_image(&mount, "regional");
    command(&image.join("share"), "100000000002").expect("share");
    let friend = scratch.mount_with(Some("100000000002"), &[]);
    let id = image.file_name().expect("id");
    assert!(friend
        .region("ap-guangzhou")
        .join("shared")
        .join(id)
        .exists());
    for region in ["ap-shanghai", "ap-tokyo"] {
        assert!(
            !friend.region(region).join("shared").join(id).exists(),
            "{region}"
        );
    }
}

#[test]
fn asynchronous_work_shows_each_state() {
    quoted("| launch | instance `PENDING` | `RUNNING` |");
    quoted("| copy_to | each copy `SYNCING`, and a custom source until its last copy ends | `NORMAL` |");
    quoted("with 0 the final state is there before the write returns.");
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let slow = scratch.mount_with(None, &["--transition-delay", "1"]);
    let launch = slow
        .region("ap-guangzhou")
        .join("public/img-9qabwvbn/launch");
    command(&launch, "1").expect("launch");
    let state = slow
        .region("ap-guangzhou")
        .join("instances")
        .join(read(&launch).trim())
        .join("state");
    assert_eq!(read(&state), "PENDING\n");
    assert!(wait_for_content(
        &state,
        "RUNNING\n",
        std::time::Duration::from_secs(5)
    ));
    let instant = scratch.mount_with(None, &["--transition-delay", "0"]);
    // A copy and its source are SYNCING for the delay, then NORMAL.
    let source = slow
        .region("ap-guangzhou")
        .join("custom")
        .join(custom_image(&instant, "copied").file_name().expect("id"));
    command(&source.join("copy_to"), "ap-shanghai").expect("copy_to");
    let copy = read(&source.join("copy_to"))
        .split_whitespace()
        .nth(1)
        .expect("copy ID")
        .to_string();
    let copy = slow.region("ap-shanghai").join("custom").join(copy);
    assert_eq!(read(&copy.join("state")), "SYNCING\n");
    assert_eq!(read(&source.join("state")), "SYNCING\n");
    for dir in [&copy, &source] {
        assert!(wait_for_content(
            &dir.join("state"),
            "NORMAL\n",
            std::time::Duration::from_secs(5)
        ));
    }
    let launch = instant
        .region("ap-guangzhou")
        .join("public/img-9qabwvbn/launch");
    command(&launch, "1").expect("launch");
    assert_eq!(
        read(
            &instant
                .region("ap-guangzhou")
                .join("instances")
                .join(read(&launch).trim())
                .join("state")
        ),
        "RUNNING\n"
    );
}

#[test]
fn a_write_shows_at_once_in_the_same_mount() {
    quoted("After a write returns, the same mount shows its effect at once: the new image or instance is listed, `share` lists the account, `state` shows `SYNCING`, and `stat` agrees with `cat`");
    let Some((scratch, mount)) = mounted() else {
        return;
    };
    let out = run(
        imagefs_bin(),
        &[
            "accounts",
            "add",
            "100000000002",
            "--store",
            scratch.store().to_str().expect("p"),
        ],
    );
    assert!(out.status.success());
    let image = custom_image(&mount, "visible");
    assert!(mount
        .region("ap-guangzhou")
        .join("custom")
        .join(image.file_name().expect("id"))
        .exists());
    let share = image.join("share");
    assert_eq!(read(&share), "");
    command(&share, "100000000002").expect("share");
    assert_eq!(read(&share), "100000000002\n");
    assert_eq!(std::fs::metadata(&share).expect("stat").len(), 13);
}

#[test]
fn by_name_links() {
    quoted("to `../../<kind>/<ImageId>`, named after `ImageName`; a name several images of the kind share, or one that cannot be a file name (empty, `.`, `..`, containing `/` or NUL), becomes `<name>.<ImageId>`");
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let link = mount
        .region("ap-guangzhou")
        .join("by-name/public/Ubuntu Server 22.04 LTS 64位");
    assert_eq!(
        std::fs::read_link(&link).expect("readlink"),
        std::path::PathBuf::from("../../public/img-487zeit5")
    );
}

#[test]
fn injected_faults() {
    quoted("`imagefs store inject KIND [COUNT]` makes the local backend's next COUNT operations of a kind fail, for every mount and server of the store");
    let Some((scratch, mount)) = mounted() else {
        return;
    };
    let out = run(
        imagefs_bin(),
        &[
            "store",
            "inject",
            "throttle",
            "1",
            "--store",
            scratch.store().to_str().expect("p"),
        ],
    );
    assert!(out.status.success());
    let launch = mount
        .region("ap-guangzhou")
        .join("public/img-9qabwvbn/launch");
    assert_eq!(errno_of(command(&launch, "1")), libc::EAGAIN);
    command(&launch, "1").expect("only one was injected");
}

#[test]
fn mounting_refusals() {
    quoted("`imagefs mount DIR` creates `DIR` if it is missing (its parent must exist), refuses a non-empty directory");
    let scratch = Scratch::new();
    let full = scratch.path().join("full");
    std::fs::create_dir(&full).expect("mkdir");
    std::fs::write(full.join("x"), "x").expect("write");
    let out = run(
        imagefs_bin(),
        &[
            "mount",
            full.to_str().expect("p"),
            "--store",
            scratch.store().to_str().expect("p"),
        ],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));
}

#[test]
fn fees_are_inherited() {
    quoted("A custom image made from a paid image inherits its fee");
    quoted("Marketplace images cost what their provider sets (some are free).");
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let market = mount.region("ap-guangzhou").join("marketplace");
    let paid = std::fs::read_dir(&market)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .find(|p| json(&p.join("price.json"))["ChargeType"] == "MARKETPLACE_FEE")
        .expect("a paid image");
    let launch = paid.join("launch");
    command(&launch, "1").expect("launch");
    let instance = mount
        .region("ap-guangzhou")
        .join("instances")
        .join(read(&launch).trim());
    command(&instance.join("create_image"), "from-paid").expect("create");
    let custom = mount
        .region("ap-guangzhou")
        .join("custom")
        .join(read(&instance.join("create_image")).trim());
    assert_eq!(
        json(&custom.join("price.json"))["Fee"],
        json(&paid.join("price.json"))["Fee"]
    );
}

#[test]
fn a_refusal_comes_from_the_first_request_that_reaches_imagefs() {
    quoted("`echo x > file` truncates, which refuses a read-only file at `open(2)` (bash: `cannot create file: Operation not permitted`); opening a read-only file for writing without `O_TRUNC` (`>>`, `open(O_WRONLY)`) succeeds, and every `write(2)` to it is refused.");
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let image = mount.region("ap-guangzhou").join("public/img-9qabwvbn");
    let out = run(
        "bash",
        &["-c", &format!("echo x > {}/metadata.json", image.display())],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("metadata.json: Operation not permitted")
            && !stderr(&out).contains("write error"),
        "{}",
        stderr(&out)
    );
    let out = run(
        "bash",
        &[
            "-c",
            &format!("echo x >> {}/metadata.json", image.display()),
        ],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("write error: Operation not permitted"),
        "{}",
        stderr(&out)
    );
    let errors = read(&mount.path("errors"));
    assert_eq!(
        errors
            .lines()
            .filter(|l| l.contains(" write /regions/ap-guangzhou/public/img-9qabwvbn/metadata.json UnsupportedOperation "))
            .count(),
        2,
        "{errors}"
    );
    // Nothing of the refused writes is left in what the kernel shows.
    let metadata = read(&image.join("metadata.json"));
    assert!(
        serde_json::from_str::<serde_json::Value>(&metadata).is_ok(),
        "{metadata}"
    );
}

#[test]
fn a_terminated_instance_stays_terminating_until_it_is_gone() {
    quoted("A terminated instance's directory stays, its `state` saying `TERMINATING`, until the transition delay has passed (the cloud lists it meanwhile too); then it is gone.");
    quoted("| terminate (`rmdir`) | instance `TERMINATING` (`LatestOperation` `TerminateInstances`) | gone |");
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let slow = scratch.mount_with(None, &["--transition-delay", "1"]);
    let region = slow.region("ap-guangzhou");
    let launch = region.join("public/img-9qabwvbn/launch");
    command(&launch, "1").expect("launch");
    let instance = region.join("instances").join(read(&launch).trim());
    assert!(wait_for_content(
        &instance.join("state"),
        "RUNNING\n",
        std::time::Duration::from_secs(5)
    ));
    std::fs::remove_dir(&instance).expect("terminate");
    assert_eq!(read(&instance.join("state")), "TERMINATING\n");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while instance.exists() {
        assert!(std::time::Instant::now() < deadline, "still there");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn a_launch_without_a_placement_uses_the_first_available_zone() {
    quoted("Without a `Placement` (a bare count, or JSON without one) the instances go to the region's first available zone");
    quoted("A launch without a `Placement` goes to the region's first `AVAILABLE` zone: `ap-guangzhou-2` in Guangzhou (`ap-guangzhou-1` is the one zone the cloud shows `UNAVAILABLE`), zone 1 in the other regions.");
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    for (region, zone, text) in [
        ("ap-guangzhou", "ap-guangzhou-2", "1"),
        (
            "ap-tokyo",
            "ap-tokyo-1",
            r#"{"InstanceName":"no-placement"}"#,
        ),
    ] {
        let launch = mount.region(region).join("public/img-9qabwvbn/launch");
        command(&launch, text).expect("launch");
        let meta = json(
            &mount
                .region(region)
                .join("instances")
                .join(read(&launch).trim())
                .join("metadata.json"),
        );
        assert_eq!(meta["Placement"]["Zone"], zone);
    }
}

#[test]
fn reset_takes_an_image_name() {
    quoted("`reset` takes an image's name as well as its ID: the account's own custom image of that name first (the cloud keeps custom image names unique per account and region), else the one public, marketplace or shared image of the region carrying it.");
    quoted("a text that is neither an ID nor such a name is `InvalidImageId.Malformed`.");
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let backup = custom_image(&mount, "backup-2026-12-01");
    let backup_id = backup.file_name().unwrap().to_str().unwrap().to_string();
    let region = mount.region("ap-guangzhou");
    let launch = region.join("public/img-9qabwvbn/launch");
    command(&launch, "1").expect("launch");
    let instance = region.join("instances").join(read(&launch).trim());

    // A public image by its name.
    let out = sh(
        &instance,
        "echo 'Ubuntu Server 22.04 LTS 64位' > reset && cat reset",
    );
    assert_eq!(stdout(&out), "img-487zeit5\n", "{}", stderr(&out));
    assert_eq!(
        json(&instance.join("metadata.json"))["ImageId"],
        "img-487zeit5"
    );

    // The account's custom image by its name.
    let out = sh(&instance, "echo backup-2026-12-01 > reset && cat reset");
    assert_eq!(stdout(&out), format!("{backup_id}\n"), "{}", stderr(&out));
    assert_eq!(
        json(&instance.join("metadata.json"))["ImageId"],
        backup_id.as_str()
    );

    // A custom image named like a public one comes first.
    let twin = custom_image(&mount, "Ubuntu Server 22.04 LTS 64位");
    let twin_id = twin.file_name().unwrap().to_str().unwrap().to_string();
    command(&instance.join("reset"), "Ubuntu Server 22.04 LTS 64位").expect("reset");
    assert_eq!(read(&instance.join("reset")), format!("{twin_id}\n"));

    // Neither an ID nor a name.
    let before = read(&mount.path("errors")).lines().count();
    assert_eq!(
        errno_of(command(&instance.join("reset"), "no-such-name")),
        libc::EINVAL
    );
    assert_eq!(read(&mount.path("errors")).lines().count(), before + 1);
    let last = last_error(&mount);
    assert!(
        last.contains("InvalidImageId.Malformed") && last.contains("no-such-name"),
        "{last}"
    );
}

#[test]
fn removing_a_by_name_link_is_refused_and_says_how_to_delete() {
    quoted("Removing a `by-name` link (`rm regions/<r>/by-name/<kind>/<name>`) is refused (`UnsupportedOperation`, `EPERM`) with an `errors` line: a link goes with its image, and `rm -r` of a `by-name` directory must not delete images. For a custom image the line says how to delete it: `rmdir` the directory the link points to.");
    quoted("`rmdir` of a link fails with `ENOTDIR` (\"Not a directory\") in the kernel, which never asks imagefs (a symlink is not a directory), so nothing is recorded in `errors`.");
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let image = custom_image(&mount, "web-golden");
    let region = mount.region("ap-guangzhou");
    let link = region.join("by-name/custom/web-golden");
    assert!(link.join("metadata.json").exists());

    // rmdir: the kernel's answer, nothing recorded.
    let before = read(&mount.path("errors")).lines().count();
    assert_eq!(errno_of(std::fs::remove_dir(&link)), libc::ENOTDIR);
    assert_eq!(read(&mount.path("errors")).lines().count(), before);
    assert!(image.exists());

    // A link of another kind: refused, recorded.
    let public = region.join("by-name/public/Ubuntu Server 22.04 LTS 64位");
    assert_eq!(errno_of(std::fs::remove_file(&public)), libc::EPERM);
    assert_eq!(read(&mount.path("errors")).lines().count(), before + 1);
    let last = last_error(&mount);
    assert!(
        last.contains(" unlink /regions/ap-guangzhou/by-name/public/")
            && last.contains("UnsupportedOperation"),
        "{last}"
    );
    assert!(std::fs::symlink_metadata(&public).is_ok());

    // A custom image's link: refused too, the image stays, and the line says what to do.
    assert_eq!(errno_of(std::fs::remove_file(&link)), libc::EPERM);
    assert!(image.exists());
    assert!(std::fs::symlink_metadata(&link).is_ok());
    let last = last_error(&mount);
    assert!(
        last.contains(" unlink /regions/ap-guangzhou/by-name/custom/web-golden")
            && last.contains("rmdir the directory the link points to"),
        "{last}"
    );
}
