//! `imagefs store` settings and `imagefs accounts` as a shell user meets them: units, refusals
//! that say what is accepted, and accounts that are never made by a typo.

mod common;

use std::process::{Command, Stdio};

use common::*;

fn imagefs(args: &[&str], store: &std::path::Path) -> std::process::Output {
    Command::new(imagefs_bin())
        .args(args)
        .arg("--store")
        .arg(store)
        .stdin(Stdio::null())
        .output()
        .expect("run imagefs")
}

/// README: "`transition-delay` (2 seconds)"; the value is shown in the unit it is set in.
#[test]
fn settings_are_shown_and_set_in_their_unit() {
    let scratch = Scratch::new();
    let store = scratch.store();
    let out = imagefs(&["store", "settings"], &store);
    assert!(out.status.success(), "{}", stderr(&out));
    let settings = stdout(&out);
    assert!(settings.contains("transition-delay = 2 seconds  ("), "{settings}");
    assert!(settings.contains("custom-image-quota = 10 images"), "{settings}");
    assert!(settings.contains("share-limit = 50 accounts"), "{settings}");
    assert!(!settings.contains("milli"), "{settings}");

    let out = imagefs(&["store", "set", "transition-delay", "1.5"], &store);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "transition-delay = 1.5 seconds\n");
    let out = imagefs(&["store", "set", "transition-delay", "0s"], &store);
    assert_eq!(stdout(&out), "transition-delay = 0 seconds\n");
    let out = imagefs(&["store", "settings"], &store);
    assert!(stdout(&out).contains("transition-delay = 0 seconds"));

    // 1500 is 25 minutes, said as such.
    let out = imagefs(&["store", "set", "transition-delay", "1500"], &store);
    assert_eq!(stdout(&out), "transition-delay = 1500 seconds\n");
    let out = imagefs(&["store", "set", "transition-delay", "90000"], &store);
    assert!(
        stderr(&out).contains("not a number of seconds from 0 to 86400"),
        "{}",
        stderr(&out)
    );
    let out = imagefs(&["store", "set", "share-limit", "0"], &store);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("share-limit: `0` is not a whole number of accounts from 1 to"),
        "{}",
        stderr(&out)
    );
    let out = imagefs(&["store", "set", "share-limits", "3"], &store);
    assert!(
        stderr(&out).contains("custom-image-quota, share-limit, transition-delay"),
        "{}",
        stderr(&out)
    );
}
