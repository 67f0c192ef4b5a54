//! Reliability: crashes, stale mounts, races, hostile input, store problems, isolation, soak.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

fn store_arg(scratch: &Scratch) -> String {
    scratch.store().to_str().expect("path").to_owned()
}

fn add_accounts(scratch: &Scratch, ids: impl IntoIterator<Item = String>) {
    let store = imagefs::local::store::Store::open(&scratch.store(), None).expect("store");
    for id in ids {
        store
            .add_account(&imagefs::model::AccountId::parse(&id).expect("id"))
            .expect("add");
    }
}

/// Launches `count` instances and returns their directories.
fn instances(mount: &Mount, region: &str, count: usize) -> Vec<PathBuf> {
    let launch = mount.region(region).join("public/img-9qabwvbn/launch");
    command(&launch, &count.to_string()).expect("launch");
    read(&launch)
        .lines()
        .map(|id| mount.region(region).join("instances").join(id))
        .collect()
}

fn make_image(mount: &Mount, region: &str, name: &str) -> PathBuf {
    let instance = instances(mount, region, 1).remove(0);
    command(&instance.join("create_image"), name).expect("create_image");
    mount
        .region(region)
        .join("custom")
        .join(read(&instance.join("create_image")).trim())
}

fn integrity_check(store: &Path) -> String {
    let conn = rusqlite::Connection::open(store).expect("open store");
    conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
        .expect("integrity_check")
}

#[test]
fn a_stale_mount_is_detected_and_cleared() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mut mount = scratch.mount(None);
    let root = mount.root.clone();
    assert!(!mount.signal_and_wait(libc::SIGKILL));
    assert!(is_mounted(&root), "a killed daemon leaves its mount behind");
    assert_eq!(
        errno_of(std::fs::metadata(root.join("regions"))),
        libc::ENOTCONN
    );

    let out = run(
        imagefs_bin(),
        &[
            "mount",
            root.to_str().expect("p"),
            "--store",
            &store_arg(&scratch),
        ],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("stale"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("imagefs unmount --force"),
        "{}",
        stderr(&out)
    );

    let out = run(imagefs_bin(), &["unmount", root.to_str().expect("p")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("stale"), "{}", stderr(&out));
    assert!(!is_mounted(&root));
    // The place is usable again.
    let again = Mount::start(&root, &scratch.store(), None, &[]);
    assert_eq!(
        read(&again.path("regions/ap-guangzhou/public/img-9qabwvbn/state")),
        "NORMAL\n"
    );
}

#[test]
fn unmount_force_takes_down_a_live_busy_mount() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount(None);
    let open = std::fs::File::open(mount.path("account.json")).expect("open");
    let out = run(
        imagefs_bin(),
        &["unmount", "--force", mount.root.to_str().expect("p")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!is_mounted(&mount.root));
    drop(open);
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let friends: Vec<String> = (0..40).map(|i| format!("2000000000{i:02}")).collect();
    add_accounts(&scratch, friends.clone());
    let setup = scratch.mount_with(None, &["--transition-delay", "0"]);
    let base = make_image(&setup, "ap-guangzhou", "base");
    let workers = instances(&setup, "ap-guangzhou", 4);
    drop(setup);

    let mut mount = scratch.mount_with(None, &["--transition-delay", "0"]);
    let root = mount.root.clone();
    let base_id = base.file_name().expect("id").to_string_lossy().into_owned();
    let image = root.join("regions/ap-guangzhou/custom").join(&base_id);
    let instance_dirs: Vec<PathBuf> = workers
        .iter()
        .map(|w| {
            root.join("regions/ap-guangzhou/instances")
                .join(w.file_name().expect("id"))
        })
        .collect();
    // A stream of writes, each recorded only once write(2) has returned success.
    let writer = {
        let image = image.clone();
        let friends = friends.clone();
        thread::spawn(move || {
            let mut done: Vec<(String, String)> = Vec::new();
            for (i, friend) in friends.iter().enumerate() {
                let step = match i % 4 {
                    0 => (
                        "share",
                        friend.clone(),
                        command(&image.join("share"), friend),
                    ),
                    1 => {
                        let name = format!("renamed-{i}");
                        ("rename", name.clone(), command(&image.join("name"), &name))
                    }
                    2 => {
                        let name = format!("made-{i}");
                        let dir = &instance_dirs[(i / 4) % instance_dirs.len()];
                        (
                            "create",
                            name.clone(),
                            command(&dir.join("create_image"), &name),
                        )
                    }
                    _ => {
                        let region = [
                            "ap-shanghai",
                            "ap-beijing",
                            "ap-nanjing",
                            "ap-chengdu",
                            "ap-chongqing",
                        ][(i / 4) % 5];
                        (
                            "copy",
                            region.to_string(),
                            command(&image.join("copy_to"), region),
                        )
                    }
                };
                match step.2 {
                    Ok(()) => done.push((step.0.to_string(), step.1)),
                    Err(_) => break, // the daemon is gone
                }
                thread::sleep(Duration::from_millis(15));
            }
            done
        })
    };
    thread::sleep(Duration::from_millis(250));
    assert!(!mount.signal_and_wait(libc::SIGKILL));
    let done = writer.join().expect("writer");
    let _ = imagefs::mounts::force_unmount(&root);
    drop(mount);
    assert!(
        done.len() >= 3,
        "some writes completed before the kill: {done:?}"
    );
    assert!(done.len() < friends.len(), "the kill came mid-stream");
    assert_eq!(integrity_check(&scratch.store()), "ok");

    let after = scratch.mount_with(None, &["--transition-delay", "0"]);
    let region = after.region("ap-guangzhou");
    let image = region.join("custom").join(&base_id);
    let shared: BTreeSet<String> = read(&image.join("share"))
        .lines()
        .map(str::to_owned)
        .collect();
    let custom_names: BTreeSet<String> = std::fs::read_dir(region.join("custom"))
        .expect("custom")
        .map(|e| {
            read(&e.expect("entry").path().join("name"))
                .trim()
                .to_string()
        })
        .collect();
    let mut last_name = None;
    for (kind, value) in &done {
        match kind.as_str() {
            "share" => assert!(shared.contains(value), "share with {value} survived"),
            "rename" => last_name = Some(value.clone()),
            "create" => assert!(custom_names.contains(value), "image {value} survived"),
            _ => {
                let copies = std::fs::read_dir(after.region(value).join("custom"))
                    .expect("dir")
                    .count();
                assert_eq!(copies, 1, "the copy to {value} survived, once");
            }
        }
    }
    if let Some(name) = last_name {
        // The last acknowledged rename, or a later one that committed just before the kill.
        let now = read(&image.join("name")).trim().to_string();
        let n = |s: &str| {
            s.trim_start_matches("renamed-")
                .parse::<usize>()
                .unwrap_or(0)
        };
        assert!(n(&now) >= n(&name), "rename {name} survived (now {now})");
    }
    // Nothing half-done: every image is whole and readable.
    for entry in std::fs::read_dir(region.join("custom")).expect("custom") {
        let meta = json(&entry.expect("entry").path().join("metadata.json"));
        assert_eq!(meta["ImageState"], "NORMAL");
    }
    eprintln!(
        "crash test: {} acknowledged writes before SIGKILL, all present after remount",
        done.len()
    );
}

#[test]
fn racing_create_images_never_pass_the_quota() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount_with(None, &["--transition-delay", "0"]);
    let out = run(
        imagefs_bin(),
        &[
            "store",
            "set",
            "custom-image-quota",
            "3",
            "--store",
            &store_arg(&scratch),
        ],
    );
    assert!(out.status.success());
    let dirs = instances(&mount, "ap-guangzhou", 10);
    let barrier = Arc::new(Barrier::new(dirs.len()));
    let handles: Vec<_> = dirs
        .into_iter()
        .enumerate()
        .map(|(i, dir)| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                command(&dir.join("create_image"), &format!("race-{i}"))
                    .map_err(|e| e.raw_os_error())
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let made = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(made, 3, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(Some(libc::EDQUOT)))),
        "{results:?}"
    );
    assert_eq!(
        std::fs::read_dir(mount.region("ap-guangzhou").join("custom"))
            .expect("dir")
            .count(),
        3
    );
    assert_eq!(
        read(&mount.path("errors"))
            .lines()
            .filter(|l| l.contains("ImageQuotaLimitExceeded"))
            .count(),
        7
    );
}

#[test]
fn racing_writers_on_two_mounts_lose_nothing() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let friends: Vec<String> = (0..20).map(|i| format!("3000000000{i:02}")).collect();
    add_accounts(&scratch, friends.clone());
    add_accounts(&scratch, ["100000000002".to_string()]);
    let first = scratch.mount_with(None, &["--transition-delay", "0"]);
    let second = scratch.mount_with(None, &["--transition-delay", "0"]);
    let other = scratch.mount_with(Some("100000000002"), &["--transition-delay", "0"]);
    let image = make_image(&first, "ap-guangzhou", "popular");
    let id = image
        .file_name()
        .expect("id")
        .to_string_lossy()
        .into_owned();
    let second_image = second.region("ap-guangzhou").join("custom").join(&id);
    let a = make_image(&first, "ap-guangzhou", "a");
    let b = second.region("ap-guangzhou").join("custom").join(
        make_image(&first, "ap-guangzhou", "b")
            .file_name()
            .expect("id"),
    );
    // The other account races its own creates at the same time.
    let other_instances = instances(&other, "ap-guangzhou", 5);

    let barrier = Arc::new(Barrier::new(friends.len() + 2 + other_instances.len()));
    let mut handles = Vec::new();
    for (i, friend) in friends.iter().enumerate() {
        let file = if i % 2 == 0 {
            image.join("share")
        } else {
            second_image.join("share")
        };
        let friend = friend.clone();
        let barrier = barrier.clone();
        handles.push(thread::spawn(move || {
            barrier.wait();
            command(&file, &friend).map_err(|e| e.raw_os_error())
        }));
    }
    // Two renames to the same name from two mounts: exactly one wins.
    for file in [a.join("name"), b.join("name")] {
        let barrier = barrier.clone();
        handles.push(thread::spawn(move || {
            barrier.wait();
            command(&file, "same-name").map_err(|e| e.raw_os_error())
        }));
    }
    for (i, dir) in other_instances.iter().enumerate() {
        let file = dir.join("create_image");
        let barrier = barrier.clone();
        handles.push(thread::spawn(move || {
            barrier.wait();
            command(&file, &format!("theirs-{i}")).map_err(|e| e.raw_os_error())
        }));
    }
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    assert!(
        results[..friends.len()].iter().all(|r| r.is_ok()),
        "{results:?}"
    );
    let renames = &results[friends.len()..friends.len() + 2];
    assert_eq!(
        renames.iter().filter(|r| r.is_ok()).count(),
        1,
        "{renames:?}"
    );
    assert!(renames.contains(&Err(Some(libc::EEXIST))), "{renames:?}");
    assert!(
        results[friends.len() + 2..].iter().all(|r| r.is_ok()),
        "{results:?}"
    );

    let shared: BTreeSet<String> = read(&image.join("share"))
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        shared,
        friends.iter().cloned().collect::<BTreeSet<_>>(),
        "no share is lost"
    );
    let names: Vec<String> = std::fs::read_dir(first.region("ap-guangzhou").join("custom"))
        .expect("dir")
        .map(|e| read(&e.expect("entry").path().join("name")))
        .collect();
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "names stay unique: {names:?}");
    assert_eq!(
        std::fs::read_dir(other.region("ap-guangzhou").join("custom"))
            .expect("dir")
            .count(),
        5
    );
}

/// Bad writes for every control file. Each must be refused with a DESIGN errno (never EIO)
/// and an `errors` line, or carried out as a valid value.
fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let many_accounts: String = (0..10_000)
        .map(|i| format!("{} ", 400_000_000_000u64 + i))
        .collect();
    let many_regions: String = (0..10_000).map(|i| format!("ap-region-{i} ")).collect();
    vec![
        ("empty line", b"\n".to_vec()),
        ("whitespace", b"   \t  \n".to_vec()),
        ("one MiB", vec![b'a'; 1 << 20]),
        ("invalid UTF-8", b"\xff\xfe\xfd\n".to_vec()),
        ("NUL bytes", b"img-\0\0\0\0\0\0\0\0\n".to_vec()),
        ("NUL in JSON", br#"{"ImageName":"a\u0000b","ImageUrl":"/tmp/x\u0000","OsType":"CentOS","OsVersion":"7","Architecture":"x86_64"}"#.to_vec()),
        ("negative", b"-5\n".to_vec()),
        ("overflow", b"184467440737095516161844674407370955161\n".to_vec()),
        ("JSON array", b"[1,2,3]\n".to_vec()),
        ("JSON string", b"\"3\"\n".to_vec()),
        ("JSON wrong types", br#"{"InstanceCount":{"a":1},"ImageName":7}"#.to_vec()),
        ("deep nesting", deep.into_bytes()),
        ("dot-dot path", br#"{"ImageName":"x","ImageUrl":"../../../../etc/shadow","OsType":"CentOS","OsVersion":"7","Architecture":"x86_64"}"#.to_vec()),
        ("dot-dot name", b"../../etc/passwd\n".to_vec()),
        ("10,000 accounts", many_accounts.into_bytes()),
        ("10,000 regions", many_regions.into_bytes()),
        ("control characters", b"\x1b[31mred\x07\n".to_vec()),
    ]
}

#[test]
fn hostile_input_is_refused_cleanly() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount_with(None, &["--transition-delay", "0"]);
    let region = mount.region("ap-guangzhou");
    let image = make_image(&mount, "ap-guangzhou", "target");
    let instance = instances(&mount, "ap-guangzhou", 1).remove(0);
    let controls = [
        image.join("name"),
        image.join("description"),
        image.join("share"),
        image.join("unshare"),
        image.join("copy_to"),
        image.join("launch"),
        instance.join("create_image"),
        instance.join("reset"),
        region.join("import"),
    ];
    let allowed = [
        libc::EINVAL,
        libc::ENOENT,
        libc::EPERM,
        libc::EDQUOT,
        libc::EEXIST,
        libc::EBUSY,
        libc::EACCES,
    ];
    let mut tried = 0;
    let mut refused = 0;
    for file in &controls {
        for (what, bytes) in corpus() {
            let before = read(&mount.path("errors")).lines().count();
            let result = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(file)
                .and_then(|mut f| f.write_all(&bytes));
            tried += 1;
            match result {
                Ok(()) => {}
                Err(e) => {
                    refused += 1;
                    let errno = e.raw_os_error().expect("errno");
                    assert!(
                        allowed.contains(&errno),
                        "{} <- {what}: errno {errno}",
                        file.display()
                    );
                    let after = read(&mount.path("errors")).lines().count();
                    assert!(
                        after > before || after == 100,
                        "{} <- {what}: no errors line",
                        file.display()
                    );
                }
            }
        }
        // A write at an odd offset is one command like any other.
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(file)
            .expect("open");
        let result = f.write_at(b"\xff", 12345);
        tried += 1;
        if let Err(e) = result {
            refused += 1;
            assert!(
                allowed.contains(&e.raw_os_error().expect("errno")),
                "{}: offset write {e}",
                file.display()
            );
        }
    }
    // Nothing half-applied: the image kept a valid name and no share; the mount still answers.
    let name = read(&image.join("name"));
    assert!(
        name.chars().count() <= 61 && !name.contains('\0'),
        "{name:?}"
    );
    assert_eq!(read(&image.join("share")), "");
    assert_eq!(
        read(&mount.path("regions/ap-guangzhou/public/img-9qabwvbn/state")),
        "NORMAL\n"
    );
    let quota = json(&region.join("quota.json"));
    assert!(quota["CustomImagesUsed"].as_u64().expect("used") <= 10);
    eprintln!("hostile input: {tried} writes tried, {refused} refused, none with EIO or a panic");
}

#[test]
fn errors_stay_one_line_per_entry_and_fifos_are_refused() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount_with(None, &["--transition-delay", "0"]);
    let custom = mount.region("ap-guangzhou").join("custom");
    let before = read(&mount.path("errors")).lines().count();
    let forged = "x\n2026-01-01T00:00:00Z write forged InternalError forged";
    assert_eq!(
        errno_of(std::fs::create_dir(custom.join(forged))),
        libc::EPERM
    );
    let errors = read(&mount.path("errors"));
    assert_eq!(errors.lines().count(), before + 1, "{errors}");
    assert!(errors.contains("x\\n2026"), "{errors}");
    // A FIFO as ImageUrl is refused at once instead of hanging a worker.
    let fifo = scratch.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().expect("p")).expect("c");
    // SAFETY: a valid path string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let spec = format!(
        r#"{{"ImageName":"fifo","ImageUrl":"{}","OsType":"CentOS","OsVersion":"7","Architecture":"x86_64"}}"#,
        fifo.display()
    );
    let started = Instant::now();
    assert_eq!(
        errno_of(command(&mount.region("ap-guangzhou").join("import"), &spec)),
        libc::EINVAL
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        last_error(&mount).contains("not a regular file"),
        "{}",
        last_error(&mount)
    );
}

#[test]
fn store_problems_are_clear_at_mount_time() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mountpoint = scratch.path().join("mnt");
    let mount_with_store = |store: &Path| {
        run(
            imagefs_bin(),
            &[
                "mount",
                mountpoint.to_str().expect("p"),
                "--store",
                store.to_str().expect("p"),
            ],
        )
    };
    // A store from a newer imagefs.
    let newer = scratch.path().join("newer.db");
    drop(imagefs::local::store::Store::open(&newer, None).expect("store"));
    rusqlite::Connection::open(&newer)
        .expect("open")
        .pragma_update(None, "user_version", 99)
        .expect("pragma");
    let out = mount_with_store(&newer);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("newer imagefs"), "{}", stderr(&out));
    assert!(!is_mounted(&mountpoint));
    // A read-only store directory.
    let ro = scratch.path().join("ro");
    std::fs::create_dir(&ro).expect("mkdir");
    let out = run(
        "mount",
        &[
            "-t",
            "tmpfs",
            "-o",
            "ro,size=1m",
            "tmpfs",
            ro.to_str().expect("p"),
        ],
    );
    if out.status.success() {
        let result = mount_with_store(&ro.join("store.db"));
        let _ = run("umount", &[ro.to_str().expect("p")]);
        assert!(!result.status.success());
        assert!(
            stderr(&result).contains("Read-only file system"),
            "{}",
            stderr(&result)
        );
        assert!(!is_mounted(&mountpoint));
    } else {
        eprintln!(
            "skipping the read-only part: cannot mount a tmpfs here ({})",
            stderr(&out)
        );
    }
}

#[test]
fn a_shared_image_cannot_be_changed_by_any_path() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    add_accounts(&scratch, ["100000000002".to_string()]);
    let owner = scratch.mount_with(None, &["--transition-delay", "0"]);
    let image = make_image(&owner, "ap-guangzhou", "guarded");
    command(&image.join("share"), "100000000002").expect("share");
    let receiver = scratch.mount_with(Some("100000000002"), &[]);
    let shared = receiver
        .region("ap-guangzhou")
        .join("shared")
        .join(image.file_name().expect("id"));
    let eperm = |r: std::io::Result<()>| assert_eq!(errno_of(r), libc::EPERM);
    eperm(command(&shared.join("name"), "x"));
    eperm(command(&shared.join("description"), "x"));
    eperm(std::fs::write(shared.join("share"), "100000000001"));
    eperm(std::fs::write(shared.join("unshare"), "100000000002"));
    eperm(std::fs::remove_dir(&shared));
    eperm(std::fs::rename(
        &shared,
        receiver.region("ap-guangzhou").join("custom/img-aaaaaaaa"),
    ));
    eperm(std::fs::rename(shared.join("name"), shared.join("name2")));
    eperm(std::fs::set_permissions(
        shared.join("name"),
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    ));
    eperm(std::fs::create_dir(shared.join("sub")));
    eperm(std::os::unix::fs::symlink("/etc", shared.join("link")));
    eperm(std::fs::hard_link(
        shared.join("name"),
        shared.join("name3"),
    ));
    eperm(std::fs::remove_file(shared.join("metadata.json")));
    assert!(!sh(&shared, "touch name").status.success());
    assert!(!sh(&shared, "truncate -s 0 name").status.success());
    assert_eq!(read(&image.join("name")), "guarded\n");
    let errors = read(&receiver.path("errors"));
    assert!(errors.lines().count() >= 12, "{errors}");
    assert!(
        errors.lines().all(|l| l.contains("UnsupportedOperation")),
        "{errors}"
    );
    // The owner's instances and other custom images stay invisible to the receiver.
    assert!(
        std::fs::read_dir(receiver.region("ap-guangzhou").join("instances"))
            .expect("dir")
            .next()
            .is_none()
    );
    assert!(
        std::fs::read_dir(receiver.region("ap-guangzhou").join("custom"))
            .expect("dir")
            .next()
            .is_none()
    );
}

/// Success, or the one refusal a racing write may meet.
fn accepted(result: std::io::Result<()>, expected_errno: i32) -> bool {
    match result {
        Ok(()) => true,
        Err(e) => e.raw_os_error() == Some(expected_errno),
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Mixed readers and writers for a bounded number of operations (IMAGEFS_SOAK_OPS, default
/// 4000): every operation completes and the daemon's memory stays flat.
#[test]
fn soak_mixed_readers_and_writers() {
    if !fuse_available() {
        return;
    }
    let ops: usize = std::env::var("IMAGEFS_SOAK_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let scratch = Scratch::new();
    add_accounts(&scratch, (0..8).map(|i| format!("5000000000{i:02}")));
    let mount = scratch.mount_with(None, &["--transition-delay", "0"]);
    let image = make_image(&mount, "ap-guangzhou", "soak");
    let instance = instances(&mount, "ap-guangzhou", 1).remove(0);
    let root = mount.root.clone();
    let warm = rss_kib(mount.pid());
    let started = Instant::now();
    let per_thread = ops / 4;
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let image = image.clone();
            let instance = instance.clone();
            let root = root.clone();
            thread::spawn(move || {
                let mut completed = 0;
                for i in 0..per_thread {
                    let ok = match (t, i % 5) {
                        (0, _) => std::fs::read(
                            root.join("regions/ap-guangzhou/public/img-9qabwvbn/metadata.json"),
                        )
                        .is_ok(),
                        (1, _) => std::fs::read_dir(root.join("regions/ap-guangzhou/public"))
                            .map(|d| d.count() > 0)
                            .unwrap_or(false),
                        // Already shared, or not shared: refusals the rules give, never failures.
                        (2, 0) => accepted(
                            command(&image.join("share"), &format!("5000000000{:02}", i % 8)),
                            libc::EEXIST,
                        ),
                        (2, 1) => accepted(
                            command(
                                &image.join("unshare"),
                                &format!("5000000000{:02}", (i + 7) % 8),
                            ),
                            libc::ENOENT,
                        ),
                        (2, _) => command(&image.join("name"), &format!("soak-{}", i % 3)).is_ok(),
                        (_, 0) => command(&instance.join("reset"), "img-487zeit5").is_ok(),
                        (_, _) => {
                            std::fs::read(image.join("share")).is_ok()
                                && std::fs::read(instance.join("state")).is_ok()
                        }
                    };
                    assert!(ok, "thread {t} op {i} failed");
                    completed += 1;
                }
                completed
            })
        })
        .collect();
    let completed: usize = handles
        .into_iter()
        .map(|h| h.join().expect("soak thread"))
        .sum();
    let after = rss_kib(mount.pid());
    eprintln!(
        "soak: {completed} operations in {:.1} s; daemon RSS {warm} KiB -> {after} KiB",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(completed, per_thread * 4);
    assert!(
        after < warm + 16 * 1024,
        "RSS grew from {warm} KiB to {after} KiB"
    );
}
