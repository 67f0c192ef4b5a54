//! The `imagefs` command: background mount and unmount, refusals, signals, accounts.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn imagefs(args: &[&str]) -> std::process::Output {
    Command::new(imagefs_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run imagefs")
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> usize {
    let mut count = 0;
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            if String::from_utf8_lossy(&cmdline).contains(needle) {
                count += 1;
            }
        }
    }
    count
}

fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

/// Takes down a mount a test made with the CLI, whatever happened.
struct Cleanup<'a>(&'a Path);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if is_mounted(self.0) {
            let _ = imagefs::mounts::unmount(self.0, true);
        }
    }
}

#[test]
fn mount_runs_in_the_background_and_unmount_ends_it() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mountpoint = scratch.path().join("images");
    let _cleanup = Cleanup(&mountpoint);
    // The mountpoint does not exist yet: mount creates it.
    let out = imagefs(&["mount", p(&mountpoint), "--store", p(&scratch.store())]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("mounted"), "{}", stderr(&out));
    assert!(is_mounted(&mountpoint));
    assert!(
        processes_mentioning(p(&mountpoint)) >= 1,
        "the daemon runs on"
    );

    let out = run(
        "cat",
        &[p(
            &mountpoint.join("regions/ap-guangzhou/public/img-9qabwvbn/state")
        )],
    );
    assert_eq!(stdout(&out), "NORMAL\n");

    // A second mount on the same place is refused with a clear message.
    let out = imagefs(&["mount", p(&mountpoint), "--store", p(&scratch.store())]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already mounted"), "{}", stderr(&out));

    let out = imagefs(&["unmount", p(&mountpoint)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!is_mounted(&mountpoint));
    assert!(
        wait_until(Duration::from_secs(10), || processes_mentioning(p(
            &mountpoint
        )) == 0),
        "the daemon exits after unmount"
    );
    let out = imagefs(&["unmount", p(&mountpoint)]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is not mounted"), "{}", stderr(&out));
}

#[test]
fn mounting_as_a_new_account_says_so() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mountpoint = scratch.path().join("images");
    let _cleanup = Cleanup(&mountpoint);
    let out = imagefs(&[
        "mount",
        p(&mountpoint),
        "--store",
        p(&scratch.store()),
        "--account",
        "300000000003",
        "--create-account",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("as account 300000000003, new to the store and created"),
        "{}",
        stderr(&out)
    );
    let out = imagefs(&["unmount", p(&mountpoint)]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn allow_other_lets_other_users_read_but_not_write() {
    if !fuse_available() {
        return;
    }
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 || !run("id", &["nobody"]).status.success() {
        eprintln!("skipping: needs root and a `nobody` user");
        return;
    }
    let scratch = Scratch::new();
    std::fs::set_permissions(
        scratch.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let as_nobody = |script: &str| {
        Command::new("su")
            .args(["nobody", "-s", "/bin/sh", "-c", script])
            .output()
            .expect("su")
    };
    let state = "regions/ap-guangzhou/public/img-9qabwvbn/state";
    {
        let mount = scratch.mount(None);
        let out = as_nobody(&format!("cat {}", p(&mount.path(state))));
        assert!(
            !out.status.success(),
            "without --allow-other other users are kept out"
        );
        assert!(
            stderr(&out).contains("Permission denied"),
            "{}",
            stderr(&out)
        );
    }
    let mountpoint = scratch.path().join("shared-mount");
    let mount = Mount::start(&mountpoint, &scratch.store(), None, &["--allow-other"]);
    let out = as_nobody(&format!("cat {}", p(&mount.path(state))));
    assert_eq!(stdout(&out), "NORMAL\n", "{}", stderr(&out));
    let out = as_nobody(&format!(
        "echo x > {}",
        p(&mount.path("regions/ap-guangzhou/public/img-9qabwvbn/name"))
    ));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Permission denied"),
        "modes are enforced: {}",
        stderr(&out)
    );
}

#[test]
fn mount_refuses_bad_mountpoints_and_stores() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let store = scratch.store();

    let missing_parent = scratch.path().join("no/such/dir");
    let out = imagefs(&["mount", p(&missing_parent), "--store", p(&store)]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));

    let full = scratch.path().join("full");
    std::fs::create_dir(&full).expect("mkdir");
    std::fs::write(full.join("file"), b"x").expect("write");
    let out = imagefs(&["mount", p(&full), "--store", p(&store)]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));

    let file = scratch.path().join("plain-file");
    std::fs::write(&file, b"x").expect("write");
    let out = imagefs(&["mount", p(&file), "--store", p(&store)]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not a directory"), "{}", stderr(&out));

    let empty = scratch.path().join("empty");
    let _cleanup = Cleanup(&empty);
    let out = imagefs(&[
        "mount",
        p(&empty),
        "--store",
        p(&scratch.path().join("missing-dir/store.db")),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("missing-dir does not exist"),
        "{}",
        stderr(&out)
    );
    assert!(!is_mounted(&empty));

    let junk = scratch.path().join("junk.db");
    std::fs::write(&junk, vec![b'j'; 8192]).expect("write");
    let out = imagefs(&["mount", p(&empty), "--store", p(&junk)]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not an imagefs store"),
        "{}",
        stderr(&out)
    );
    assert!(!is_mounted(&empty));

    let out = imagefs(&[
        "mount",
        p(&empty),
        "--store",
        p(&store),
        "--account",
        "12ab",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not an account ID"),
        "{}",
        stderr(&out)
    );
    assert!(!is_mounted(&empty));
}

#[test]
fn unmount_of_a_busy_mount_explains_and_lazy_works() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount(None);
    let open = std::fs::File::open(mount.path("regions/ap-guangzhou/region.json")).expect("open");
    let out = imagefs(&["unmount", p(&mount.root)]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("busy"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--lazy"), "{}", stderr(&out));
    assert!(is_mounted(&mount.root));
    let out = imagefs(&["unmount", "--lazy", p(&mount.root)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!is_mounted(&mount.root));
    drop(open);
}

#[test]
fn unmount_refuses_what_is_not_imagefs() {
    let out = imagefs(&["unmount", "/proc"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not an imagefs mount"),
        "{}",
        stderr(&out)
    );
    let out = imagefs(&["unmount", "/definitely/not/a/mount"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is not mounted"), "{}", stderr(&out));
}

#[test]
fn sigterm_and_sigint_unmount_cleanly() {
    if !fuse_available() {
        return;
    }
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let scratch = Scratch::new();
        let mut mount = scratch.mount(None);
        assert!(std::fs::metadata(mount.path("account.json")).is_ok());
        assert!(
            mount.signal_and_wait(signal),
            "daemon exits 0 on signal {signal}: {}",
            mount.log()
        );
        assert!(!is_mounted(&mount.root), "signal {signal} unmounts");
    }
}

#[test]
fn sigterm_with_a_file_open_detaches_the_mount() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mut mount = scratch.mount(None);
    let file = std::fs::File::open(mount.path("account.json")).expect("open");
    // SAFETY: kill with the daemon's pid.
    unsafe {
        libc::kill(mount.pid() as i32, libc::SIGTERM);
    }
    assert!(
        wait_until(Duration::from_secs(10), || !is_mounted(&mount.root)),
        "{}",
        mount.log()
    );
    drop(file);
    assert!(mount.signal_and_wait(0) || !is_mounted(&mount.root));
}

#[test]
fn accounts_add_and_list() {
    let scratch = Scratch::new();
    let store = scratch.store();
    let out = imagefs(&["accounts", "list", "--store", p(&store)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 1);
    assert!(stdout(&out).contains("100000000001"));
    assert!(stdout(&out).contains("(default)"));

    let out = imagefs(&["accounts", "add", "100000000002", "--store", p(&store)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("added account 100000000002"));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("SecretId=AKID"), "{lines:?}");
    assert!(
        lines[1].starts_with("SecretKey=") && lines[1].len() > 30,
        "{lines:?}"
    );
    let out = imagefs(&["accounts", "add", "100000000002", "--store", p(&store)]);
    assert!(stderr(&out).contains("account 100000000002 already exists"));
    assert_eq!(stdout(&out), "");
    let out = imagefs(&["accounts", "keys", "100000000002", "--store", p(&store)]);
    assert!(
        stdout(&out).starts_with("SecretId=AKID"),
        "{}",
        stdout(&out)
    );
    let out = imagefs(&["accounts", "keys", "100000000077", "--store", p(&store)]);
    assert!(!out.status.success());
    let out = imagefs(&["accounts", "add", "not-a-number", "--store", p(&store)]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not an account ID"),
        "{}",
        stderr(&out)
    );

    let out = Command::new(imagefs_bin())
        .args(["accounts", "list"])
        .env("IMAGEFS_STORE", &store)
        .output()
        .expect("run");
    let ids: Vec<String> = stdout(&out)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
        .collect();
    assert_eq!(ids, vec!["100000000001", "100000000002"]);
}

#[test]
fn a_catalog_file_replaces_the_builtin_one() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mut catalog: serde_json::Value =
        serde_json::from_str(include_str!("../catalog/seed.json")).expect("catalog");
    catalog["Regions"] = serde_json::json!([
        {"Region": "ap-guangzhou", "RegionName": "华南地区(广州)", "Mainland": true},
        {"Region": "ap-tokyo", "RegionName": "亚太东北(东京)", "Mainland": false}
    ]);
    catalog["PublicImages"]
        .as_array_mut()
        .expect("images")
        .truncate(3);
    let file = scratch.path().join("catalog.json");
    std::fs::write(&file, catalog.to_string()).expect("write");
    let mountpoint = scratch.path().join("mnt");
    let mount = Mount::start(
        &mountpoint,
        &scratch.store(),
        None,
        &["--catalog", p(&file)],
    );
    let out = run("ls", &[p(&mount.path("regions"))]);
    assert_eq!(stdout(&out), "ap-guangzhou\nap-tokyo\n");
    let out = run("ls", &[p(&mount.path("regions/ap-tokyo/public"))]);
    assert_eq!(stdout(&out).lines().count(), 3);
}

#[test]
fn help_and_version() {
    let out = imagefs(&["--version"]);
    assert!(out.status.success());
    assert!(stdout(&out).starts_with("imagefs "));
    let out = imagefs(&["mount", "--help"]);
    assert!(stdout(&out).contains("--store"));
    assert!(stdout(&out).contains("--account"));
    assert!(stdout(&out).contains("--foreground"));
    assert!(stdout(&out).contains("--allow-other"));
}

#[test]
fn store_info_and_reset() {
    let scratch = Scratch::new();
    let store = scratch.store();
    let out = imagefs(&["accounts", "add", "100000000002", "--store", p(&store)]);
    assert!(out.status.success());
    let out = imagefs(&["store", "inject", "throttle", "3", "--store", p(&store)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = imagefs(&["store", "info", "--store", p(&store)]);
    let info = stdout(&out);
    assert!(
        info.contains(&format!("store      {}", store.display())),
        "{info}"
    );
    let schema = format!("schema     {}", imagefs::local::store::SCHEMA_VERSION);
    assert!(info.contains(&schema), "{info}");
    assert!(info.contains("accounts   2"), "{info}");
    assert!(info.contains("100000000002  created"), "{info}");
    assert!(info.contains("1 API key(s)"), "{info}");
    assert!(info.contains("injected   throttle: next 3"), "{info}");
    let out = imagefs(&["store", "inject", "explode", "--store", p(&store)]);
    assert!(!out.status.success());
    let out = imagefs(&["store", "reset", "--store", p(&store)]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    let out = imagefs(&["store", "reset", "--yes", "--store", p(&store)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = imagefs(&["store", "info", "--store", p(&store)]);
    assert!(stdout(&out).contains("accounts   1"), "{}", stdout(&out));
}

#[test]
fn completions_and_manual_come_from_the_cli_definition() {
    for shell in ["bash", "zsh", "fish"] {
        let out = imagefs(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        assert!(script.contains("imagefs"), "{shell}");
        assert!(
            script.contains("unmount") && script.contains("serve"),
            "{shell}: subcommands listed"
        );
    }
    let out = imagefs(&["man"]);
    assert!(out.status.success());
    let page = stdout(&out);
    assert!(
        page.starts_with(".ie") || page.contains(".TH imagefs"),
        "{}",
        &page[..page.len().min(200)]
    );
    assert!(page.contains("mount"), "the manual lists the subcommands");
}

/// The mount(8) helper turns fstab options into `imagefs mount` arguments.
#[test]
fn the_fstab_helper_mounts_a_store() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mountpoint = scratch.path().join("fstab");
    let _cleanup = Cleanup(&mountpoint);
    // An fstab line names an account the store knows (an unknown one is refused).
    let out = imagefs(&[
        "accounts",
        "add",
        "100000000005",
        "--store",
        p(&scratch.store()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let helper = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/mount.fuse.imagefs");
    let out = Command::new(helper)
        .arg(scratch.store())
        .arg(&mountpoint)
        .args([
            "-o",
            "defaults,nofail,account=100000000005,transition_delay=0",
        ])
        .env("IMAGEFS", imagefs_bin())
        .output()
        .expect("helper");
    assert!(out.status.success(), "{}", stderr(&out));
    let account = json(&mountpoint.join("account.json"));
    assert_eq!(account["AccountId"], "100000000005");
    let out = imagefs(&["unmount", p(&mountpoint)]);
    assert!(out.status.success(), "{}", stderr(&out));
}
