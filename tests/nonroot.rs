//! An ordinary user (through the `fuse3` package's setuid `fusermount3`) can mount, use every
//! kind of file, and unmount. `.ci/run` creates the throwaway user `imagefs-ci`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::*;

const USER: &str = "imagefs-ci";

fn prerequisites() -> bool {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping: runs as root, to act as the throwaway user {USER}");
        return false;
    }
    let user = run("id", &[USER]).status.success();
    let helper = run("sh", &["-c", "command -v fusermount3"])
        .status
        .success();
    let device = std::fs::metadata("/dev/fuse")
        .map(|m| m.permissions().mode() & 0o006 == 0o006)
        .unwrap_or(false);
    if user && helper && device {
        return true;
    }
    let why =
        format!("user {USER}: {user}, fusermount3: {helper}, /dev/fuse open to all: {device}");
    if std::env::var_os("CI").is_some() {
        panic!("non-root prerequisites missing in CI ({why}); .ci/run sets them up");
    }
    eprintln!("skipping the non-root test ({why})");
    false
}

#[test]
fn an_ordinary_user_can_mount_use_and_unmount() {
    if !fuse_available() || !prerequisites() {
        return;
    }
    let scratch = Scratch::new();
    let dir = scratch.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let binary = dir.join("imagefs");
    std::fs::copy(imagefs_bin(), &binary).expect("copy binary");
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let disk = dir.join("disk.raw");
    std::fs::write(&disk, vec![0u8; 1 << 20]).expect("disk");
    std::fs::set_permissions(&disk, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let mnt = dir.join("mnt");
    let script = format!(
        r#"set -e
cd {dir}
./imagefs mount mnt --store {dir}/store.db --transition-delay 0
R=mnt/regions/ap-guangzhou
cat $R/public/img-9qabwvbn/state
echo 1 > $R/public/img-9qabwvbn/launch
i=$(cat $R/public/img-9qabwvbn/launch)
echo user-image > $R/instances/$i/create_image
img=$(cat $R/instances/$i/create_image)
echo renamed > $R/custom/$img/name
cat $R/custom/$img/name
echo ap-shanghai > $R/custom/$img/copy_to
echo '{{"ImageName":"user-import","ImageUrl":"{disk}","OsType":"CentOS","OsVersion":"7","Architecture":"x86_64"}}' > $R/import
cat $R/custom/$(cat $R/import)/state
if echo x > $R/public/img-9qabwvbn/name 2>/dev/null; then echo "a read-only file took a write"; exit 1; fi
rmdir $R/instances/$i
stat -c %U mnt/account.json
./imagefs unmount mnt
echo unmounted
"#,
        dir = dir.display(),
        disk = disk.display(),
    );
    let out = Command::new("su")
        .args(["-s", "/bin/sh", USER, "-c", &script])
        .output()
        .expect("su");
    if is_mounted(&mnt) {
        let _ = imagefs::mounts::force_unmount(&mnt);
    }
    assert!(
        out.status.success(),
        "as {USER}:\nstdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        stdout(&out),
        format!("NORMAL\nrenamed\nNORMAL\n{USER}\nunmounted\n"),
        "stderr: {}",
        stderr(&out)
    );
    assert!(!is_mounted(&mnt));
}
