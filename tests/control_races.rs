//! Control files under concurrency, through a real mount: scripts writing and reading the same
//! file at once each read their own outcome, and no read is ever torn (a mix of two outcomes,
//! or of an outcome and the bytes of a command being written). docs/SEMANTICS.md, "Control
//! files", states the rule; tests/semantics.rs quotes it.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};

use common::*;

fn mounted() -> Option<(Scratch, Mount)> {
    if !fuse_available() {
        return None;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount_with(None, &["--transition-delay", "0"]);
    Some((scratch, mount))
}

/// A public image's directory (its `launch` has had no command yet).
fn public_image(mount: &Mount) -> PathBuf {
    mount.region("ap-guangzhou").join("public/img-9qabwvbn")
}

/// Whether `text` is one whole outcome of `launch 1`: an instance ID and a newline, or nothing.
fn whole_launch_outcome(text: &[u8]) -> bool {
    match text {
        [] => true,
        [b'i', b'n', b's', b'-', id @ .., b'\n'] => {
            id.len() == 8
                && id
                    .iter()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
        }
        _ => false,
    }
}

/// Runs `sh -c script` in `dir` and returns its output lines, failing on a non-zero status.
fn sh_lines(dir: &Path, script: &str) -> Vec<String> {
    let out = sh(dir, script);
    assert!(out.status.success(), "{script}: {}", stderr(&out));
    stdout(&out).lines().map(str::to_owned).collect()
}

#[test]
fn sixteen_scripts_at_once_each_read_their_own_launch() {
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let image = public_image(&mount);
    let ids = sh_lines(
        &image,
        "seq 16 | xargs -P 16 -I{} sh -c 'echo 1 > launch && cat launch'",
    );
    assert_eq!(ids.len(), 16, "{ids:?}");
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(
        distinct.len(),
        16,
        "scripts read one another's IDs: {ids:?}"
    );
    for id in &ids {
        assert!(whole_launch_outcome(format!("{id}\n").as_bytes()), "{id:?}");
        let instance = mount.region("ap-guangzhou").join("instances").join(id);
        assert!(instance.is_dir(), "{id} was launched");
    }
}

#[test]
fn readers_racing_a_writer_never_see_a_torn_outcome() {
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let image = public_image(&mount);
    let start = Arc::new(Barrier::new(3));
    let writer = {
        let (image, start) = (image.clone(), start.clone());
        std::thread::spawn(move || {
            start.wait();
            sh_lines(&image, "for i in $(seq 150); do echo 1 > launch; done");
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (launch, start) = (image.join("launch"), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let mut torn = Vec::new();
                let mut ids = 0;
                for _ in 0..440 {
                    let out = std::process::Command::new("cat")
                        .arg(&launch)
                        .output()
                        .expect("cat");
                    if !whole_launch_outcome(&out.stdout) {
                        torn.push(String::from_utf8_lossy(&out.stdout).into_owned());
                    } else if !out.stdout.is_empty() {
                        ids += 1;
                    }
                }
                (torn, ids)
            })
        })
        .collect();
    writer.join().expect("writer");
    for reader in readers {
        let (torn, ids) = reader.join().expect("reader");
        assert!(
            torn.is_empty(),
            "{} torn reads: {:?}",
            torn.len(),
            &torn[..torn.len().min(5)]
        );
        assert!(ids > 0, "the reader saw no outcome at all");
    }
}

#[test]
fn a_reader_reading_byte_by_byte_sees_one_outcome() {
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let image = public_image(&mount);
    let writer = {
        let image = image.clone();
        std::thread::spawn(move || {
            sh_lines(&image, "for i in $(seq 60); do echo 2 > launch; done");
        })
    };
    // Two IDs and their newlines, one byte per read(2).
    let reads = sh_lines(
        &image,
        "for i in $(seq 120); do dd if=launch bs=1 status=none | tr '\\n' ' '; echo; done",
    );
    writer.join().expect("writer");
    for read in reads {
        let ids: Vec<&str> = read.split_whitespace().collect();
        assert!(
            ids.is_empty() || ids.len() == 2,
            "one outcome is two IDs: {read:?}"
        );
        for id in ids {
            assert!(
                whole_launch_outcome(format!("{id}\n").as_bytes()),
                "{read:?}"
            );
        }
    }
}

#[test]
fn a_refused_command_leaves_its_writer_an_empty_file() {
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let image = public_image(&mount);
    // `launch 0` is refused: the writer's cat shows nothing, not the instance before it.
    let out = sh(
        &image,
        "echo 1 > launch && cat launch; echo 0 > launch; echo refused $?; cat launch",
    );
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    assert_eq!(lines.len(), 2, "{lines:?} {}", stderr(&out));
    assert!(whole_launch_outcome(format!("{}\n", lines[0]).as_bytes()));
    assert_eq!(lines[1], "refused 1");
    // A duplicate name is refused by create_image: `cat` shows no image, not the earlier one.
    let instance = mount
        .region("ap-guangzhou")
        .join("instances")
        .join(lines[0]);
    let out = sh(
        &instance,
        "echo web > create_image && cat create_image; echo web > create_image; cat create_image | wc -c",
    );
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    assert_eq!(lines.len(), 2, "{lines:?} {}", stderr(&out));
    assert!(lines[0].starts_with("img-"), "{lines:?}");
    assert_eq!(lines[1], "0", "the earlier image is not shown");
    assert!(
        last_error(&mount).contains("InvalidImageName.Duplicate"),
        "{}",
        last_error(&mount)
    );
}

#[test]
fn a_reader_with_no_command_of_its_own_sees_the_last_outcome() {
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let image = public_image(&mount);
    // Each command is written by a shell that is a grandchild of this test: it belongs to
    // that shell and its parent, never to this process.
    let launch_away = |count: usize| {
        sh_lines(&image, &format!("sh -c 'echo {count} > launch'; true"));
    };
    launch_away(1);
    launch_away(2);
    let last = read(&image.join("launch"));
    assert_eq!(
        last.lines().count(),
        2,
        "the last command launched two: {last:?}"
    );
    let out = std::process::Command::new("cat")
        .arg(image.join("launch"))
        .output()
        .expect("cat");
    assert_eq!(stdout(&out), last, "a child of this process sees the same");
    launch_away(3);
    assert_eq!(read(&image.join("launch")).lines().count(), 3);
}

#[test]
fn threads_of_one_process_read_their_own_outcomes() {
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let launch = public_image(&mount).join("launch");
    // Eight threads, each writing and then reading at the same time as the others.
    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (launch, start) = (launch.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                command(&launch, "1").expect("launch");
                read(&launch)
            })
        })
        .collect();
    let ids: Vec<String> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 8, "{ids:?}");
    assert!(
        ids.iter().all(|id| whole_launch_outcome(id.as_bytes())),
        "{ids:?}"
    );
    // A thread that wrote nothing reads what its process wrote last; so does a child process.
    command(&launch, "1").expect("launch");
    let written = read(&launch);
    let other = {
        let launch = launch.clone();
        std::thread::spawn(move || read(&launch))
            .join()
            .expect("thread")
    };
    assert_eq!(other, written);
    let child = std::process::Command::new("cat")
        .arg(&launch)
        .output()
        .expect("cat");
    assert_eq!(stdout(&child), written);
}

#[test]
fn a_descriptor_shows_the_outcome_of_the_command_written_through_it() {
    use std::io::{Read, Seek, Write};
    let Some((_scratch, mount)) = mounted() else {
        return;
    };
    let launch = public_image(&mount).join("launch");
    command(&launch, "1").expect("launch");
    let first = read(&launch);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&launch)
        .expect("open");
    let mut before = String::new();
    file.read_to_string(&mut before).expect("read");
    assert_eq!(before, first);
    // Another script's command changes nothing here.
    sh_lines(
        mount.root.as_path(),
        &format!("echo 1 > {}", launch.display()),
    );
    file.rewind().expect("rewind");
    before.clear();
    file.read_to_string(&mut before).expect("read");
    assert_eq!(before, first);
    // A command through this descriptor: it now shows that command's outcome.
    file.rewind().expect("rewind");
    file.write_all(b"2").expect("launch through the descriptor");
    file.rewind().expect("rewind");
    let mut after = String::new();
    file.read_to_string(&mut after).expect("read");
    assert_eq!(after.lines().count(), 2, "{after:?}");
    assert_eq!(
        read(&launch),
        after,
        "and this process's next open shows it too"
    );
}
