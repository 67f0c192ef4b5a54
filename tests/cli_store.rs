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
    assert!(
        settings.contains("transition-delay = 2 seconds  ("),
        "{settings}"
    );
    assert!(
        settings.contains("custom-image-quota = 10 images"),
        "{settings}"
    );
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

/// The bash completion script offers the values, not just the flags: setting keys, fault
/// kinds, states and the store's account IDs.
#[test]
fn completions_offer_keys_kinds_states_and_accounts() {
    let scratch = Scratch::new();
    let store = scratch.store();
    let out = imagefs(&["accounts", "add", "100000000007"], &store);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = imagefs(&["completions", "bash"], &store);
    assert!(out.status.success(), "{}", stderr(&out));
    let script = stdout(&out);
    for value in [
        "custom-image-quota share-limit transition-delay",
        "create-fails import-fails copy-fails throttle",
        "IMPORTFAILED",
        "LAUNCH_FAILED",
        // The store's accounts, asked for at TAB time.
        "imagefs __complete accounts",
    ] {
        assert!(script.contains(value), "the script offers {value}");
    }
    // Parsing is not limited to the accounts the script knew.
    let out = imagefs(&["accounts", "add", "100000000008"], &store);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The words bash's completion of `imagefs` offers for the command line `words` (the last
/// one being completed), running the script `imagefs completions bash` printed.
fn bash_completes(script: &str, words: &[&str], env: &[(&str, &std::path::Path)]) -> Vec<String> {
    let bin_dir = std::path::Path::new(imagefs_bin())
        .parent()
        .expect("the binary's directory");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let quoted: Vec<String> = words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
        .collect();
    let program = format!(
        r#"source /dev/stdin
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
_imagefs imagefs "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        words = quoted.join(" ")
    );
    let mut bash = Command::new("bash");
    bash.args(["--norc", "-c", &program])
        .env("PATH", path)
        .env_remove("IMAGEFS_STORE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        bash.env(name, value);
    }
    let mut child = bash.spawn().expect("bash");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(script.as_bytes()).expect("the script");
    }
    let out = child.wait_with_output().expect("bash");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).lines().map(String::from).collect()
}

/// `imagefs completions` (README, "Shell completion"): the bash script asks the store for its
/// account IDs at TAB time: an account added after the script was made is offered, for the
/// store named on the line being completed or by IMAGEFS_STORE.
#[test]
fn completion_offers_accounts_added_after_the_script_was_made() {
    let scratch = Scratch::new();
    let store = scratch.store();
    let out = imagefs(&["accounts", "list"], &store);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = imagefs(&["completions", "bash"], &store);
    assert!(out.status.success(), "{}", stderr(&out));
    let script = stdout(&out);
    assert!(!script.contains("100000000001"), "no account baked in");
    let out = imagefs(&["accounts", "add", "100000000042"], &store);
    assert!(out.status.success(), "{}", stderr(&out));
    let store_text = store.to_str().expect("a UTF-8 path");

    let offered = bash_completes(
        &script,
        &[
            "imagefs",
            "mount",
            "/tmp/x",
            "--store",
            store_text,
            "--account",
            "1000000000",
        ],
        &[],
    );
    assert_eq!(offered, ["100000000001", "100000000042"]);
    let offered = bash_completes(
        &script,
        &["imagefs", "accounts", "remove", "1000000000"],
        &[("IMAGEFS_STORE", &store)],
    );
    assert_eq!(offered, ["100000000001", "100000000042"]);
    // No store, nothing offered, and no error shown.
    let offered = bash_completes(
        &script,
        &["imagefs", "accounts", "keys", ""],
        &[("IMAGEFS_STORE", &scratch.path().join("absent.db"))],
    );
    assert!(offered.iter().all(|w| w.starts_with('-')), "{offered:?}");
}

/// README: `accounts add` makes an account; a typo in `--account` no longer makes one.
#[test]
fn an_unknown_account_is_refused_unless_created() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let store = scratch.store();
    let mountpoint = scratch.path().join("images");
    let out = imagefs(
        &[
            "mount",
            mountpoint.to_str().expect("p"),
            "--account",
            "100000000009",
        ],
        &store,
    );
    assert_eq!(out.status.code(), Some(1));
    let message = stderr(&out);
    assert!(
        message.contains("account 100000000009 is not in the store")
            && message.contains("its accounts: 100000000001")
            && message.contains("imagefs accounts add 100000000009")
            && message.contains("--create-account"),
        "{message}"
    );
    assert!(!is_mounted(&mountpoint));
    assert!(
        !mountpoint.exists(),
        "a failed mount removes the mountpoint it created"
    );
}

/// `accounts remove` refuses the default account and one that holds something, saying how to
/// proceed, and removes an empty one with its keys.
#[test]
fn accounts_remove() {
    let scratch = Scratch::new();
    let store = scratch.store();
    let out = imagefs(&["accounts", "add", "100000000002"], &store);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = imagefs(&["accounts", "remove", "100000000001"], &store);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is the store's default account"),
        "{}",
        stderr(&out)
    );

    let opened = imagefs::local::store::Store::open(&store, None).expect("store");
    let account = imagefs::model::AccountId::parse("100000000002").expect("id");
    assert!(opened
        .account_holdings(&account)
        .expect("holdings")
        .is_empty());

    let out = imagefs(&["accounts", "remove", "100000000003"], &store);
    assert!(
        stderr(&out).contains(
            "no account 100000000003 in this store; its accounts: 100000000001, 100000000002"
        ),
        "{}",
        stderr(&out)
    );
    let out = imagefs(&["accounts", "remove", "100000000002"], &store);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = imagefs(&["accounts", "list"], &store);
    assert!(!stdout(&out).contains("100000000002"), "{}", stdout(&out));
    let out = imagefs(&["accounts", "keys", "100000000002"], &store);
    assert!(!out.status.success(), "no keys for a removed account");
}

/// TROUBLESHOOTING: "It refuses an account mounted on the store too (`account ID is mounted
/// at DIR`): `imagefs unmount DIR` first." Then an account with an instance is refused, with
/// what to do first.
#[test]
fn accounts_remove_refuses_an_account_mounted_or_with_instances() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let empty = scratch.mount(Some("100000000003"));
    let out = imagefs(&["accounts", "remove", "100000000003"], &scratch.store());
    assert_eq!(out.status.code(), Some(1));
    let expected = format!(
        "account 100000000003 is mounted at {}: unmount it first (`imagefs unmount {}`)",
        empty.root.display(),
        empty.root.display()
    );
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
    drop(empty);
    let out = imagefs(&["accounts", "remove", "100000000003"], &scratch.store());
    assert!(out.status.success(), "once unmounted: {}", stderr(&out));

    let mount = scratch.mount_with(Some("100000000002"), &["--transition-delay", "0"]);
    let public = mount.region("ap-guangzhou").join("public/img-9qabwvbn");
    command(&public.join("launch"), "1").expect("launch");
    drop(mount);
    let out = imagefs(&["accounts", "remove", "100000000002"], &scratch.store());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("still has 0 custom image(s), 1 instance(s)")
            && stderr(&out).contains("rmdir"),
        "{}",
        stderr(&out)
    );
}

/// TROUBLESHOOTING: "`the store's directory ... does not exist` | create the directory
/// (`mkdir -p`), or point `--store` elsewhere; the mountpoint a failed mount created is
/// removed again".
#[test]
fn a_missing_store_directory_is_the_users_to_fix() {
    let scratch = Scratch::new();
    let store = scratch.path().join("no-such-dir/store.db");
    let out = imagefs(&["store", "info"], &store);
    assert_eq!(out.status.code(), Some(1));
    let message = stderr(&out);
    assert!(!message.contains("InternalError"), "{message}");
    assert!(
        message.contains("no-such-dir does not exist: create it (`mkdir -p"),
        "{message}"
    );
    if !fuse_available() {
        return;
    }
    let mountpoint = scratch.path().join("images");
    let out = imagefs(&["mount", mountpoint.to_str().expect("p")], &store);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("does not exist: create it"),
        "{}",
        stderr(&out)
    );
    assert!(!mountpoint.exists(), "no mountpoint is left behind");
}

/// TROUBLESHOOTING: "None of these is an `InternalError`: the store is yours to fix, and each
/// message says how ... Likewise for `imagefs serve`: an address it cannot listen on ... and
/// `--tls-cert`/`--tls-key` files that are not PEM."
#[test]
fn a_store_or_server_setting_that_cannot_work_is_the_users_to_fix() {
    let scratch = Scratch::new();
    let dir = scratch.path().join("a-directory");
    std::fs::create_dir(&dir).expect("mkdir");
    let text = scratch.path().join("notes.txt");
    std::fs::write(&text, "not a store\n").expect("write");
    let newer = scratch.path().join("newer.db");
    let out = imagefs(&["store", "info"], &newer);
    assert!(out.status.success(), "{}", stderr(&out));
    let conn = rusqlite::Connection::open(&newer).expect("sqlite");
    conn.execute_batch("PRAGMA user_version = 9999")
        .expect("a newer schema");
    drop(conn);
    for (store, expected) in [
        (
            &dir,
            format!(
                "is a directory; name a file in it (`--store {}`)",
                dir.join("store.db").display()
            ),
        ),
        (
            &text,
            "not an imagefs store (unreadable or not SQLite): file is not a database; check its \
             permissions, or name another store with --store FILE or IMAGEFS_STORE"
                .to_string(),
        ),
        (
            &newer,
            "schema version 9999 was written by a newer imagefs (this one reads up to".to_string(),
        ),
    ] {
        let out = imagefs(&["store", "info"], store);
        assert_eq!(out.status.code(), Some(1));
        let message = stderr(&out);
        assert!(!message.contains("InternalError"), "{message}");
        assert!(
            message.contains("InvalidParameterValue") && message.contains(&expected),
            "{message}"
        );
    }
    let store = scratch.store();
    let serve = |extra: &[&str]| {
        let mut args = vec!["serve"];
        args.extend_from_slice(extra);
        imagefs(&args, &store)
    };
    let out = serve(&["--listen", "no-port-here"]);
    assert_eq!(out.status.code(), Some(1));
    let message = stderr(&out);
    assert!(
        !message.contains("InternalError")
            && message.contains("cannot listen on no-port-here")
            && message.contains("--listen takes ADDR:PORT"),
        "{message}"
    );
    let text = text.to_str().expect("a UTF-8 path");
    let out = serve(&["--tls-cert", text, "--tls-key", text]);
    assert_eq!(out.status.code(), Some(1));
    let message = stderr(&out);
    assert!(
        !message.contains("InternalError") && message.contains("--tls-cert takes a PEM file"),
        "{message}"
    );
}
