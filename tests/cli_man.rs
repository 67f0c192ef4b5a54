//! `imagefs man`: real pages, one per subcommand, each rendered by man(1) without warnings,
//! and no page named that is not there.

mod common;

use std::process::{Command, Stdio};

use common::*;

fn man_available() -> bool {
    let found = Command::new("man")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found && std::env::var_os("CI").is_some() {
        panic!("man is missing and CI is set: install man-db (.ci/run does)");
    }
    if !found {
        eprintln!("skipping: man is missing (install man-db)");
    }
    found
}

/// Renders a page with `man -l`, as a user reads it, and returns its text.
fn render(page: &std::path::Path) -> String {
    let out = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(page)
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "")
        .stdin(Stdio::null())
        .output()
        .expect("run man");
    assert!(out.status.success(), "{}: {}", page.display(), stderr(&out));
    assert_eq!(stderr(&out), "", "{}: roff warnings", page.display());
    stdout(&out)
}

#[test]
fn man_dir_installs_a_page_per_subcommand_and_each_renders() {
    if !man_available() {
        return;
    }
    let scratch = Scratch::new();
    let dir = scratch.path().join("share/man");
    let out = Command::new(imagefs_bin())
        .args(["man", "--dir"])
        .arg(&dir)
        .output()
        .expect("imagefs man");
    assert!(out.status.success(), "{}", stderr(&out));
    let section = dir.join("man1");
    let mut names: Vec<String> = std::fs::read_dir(&section)
        .expect("man1")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    for expected in [
        "imagefs.1",
        "imagefs-mount.1",
        "imagefs-unmount.1",
        "imagefs-wait.1",
        "imagefs-serve.1",
        "imagefs-store.1",
        "imagefs-store-set.1",
        "imagefs-accounts.1",
        "imagefs-accounts-add.1",
        "imagefs-man.1",
        "imagefs-completions.1",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    let mut referenced = Vec::new();
    for name in &names {
        let text = render(&section.join(name));
        assert!(text.contains("NAME"), "{name}");
        // Every page a page names, `imagefs-...(1)`, is installed.
        for word in text.split(|c: char| c.is_whitespace() || c == ',') {
            if let Some(page) = word.strip_suffix("(1)") {
                if page.starts_with("imagefs") {
                    referenced.push(format!("{page}.1"));
                }
            }
        }
    }
    for page in referenced {
        assert!(names.contains(&page), "{page} is named but not installed");
    }

    // imagefs(1): the tree, every file and control file, the errno table, exit status and
    // environment, as docs/SEMANTICS.md states them.
    let main = render(&section.join("imagefs.1"));
    for needed in [
        "FILES",
        "<mountpoint>/",
        "import-os.json",
        "Control files",
        "copy_to",
        "ERRORS",
        "EDQUOT",
        "EXIT STATUS",
        "3      wait: the timeout passed first",
        "ENVIRONMENT",
        "IMAGEFS_STORE",
        "SEE ALSO",
    ] {
        assert!(main.contains(needed), "imagefs(1) lacks {needed}");
    }
    let wait = render(&section.join("imagefs-wait.1"));
    assert!(
        wait.contains("--json") && wait.contains("IMPORTFAILED"),
        "{wait}"
    );

    // Without --dir, imagefs(1) on stdout, as before.
    let out = Command::new(imagefs_bin())
        .arg("man")
        .output()
        .expect("man");
    assert!(stdout(&out).contains(".SH EXIT STATUS"));
}
