//! `imagefs wait` as scripts use it: several paths, states checked against the kind's
//! documented states, `...FAILED` and timeouts told apart by the exit status, `--json`.

mod common;

use std::process::{Command, Stdio};

use common::*;

fn imagefs(args: &[&str]) -> std::process::Output {
    Command::new(imagefs_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run imagefs")
}

/// `--help` documents the exit status; an unknown state is refused at once with the list.
#[test]
fn unknown_states_are_refused_at_once_with_the_list() {
    let out = imagefs(&["wait", "--help"]);
    let help = stdout(&out);
    for line in [
        "0  success (wait: every path reached the state)",
        "1  failure: an error or a refusal (wait: a path reached a ...FAILED state first",
        "2  usage: an unknown subcommand, option or value (wait: a state the path's kind never has)",
        "3  wait: the timeout passed first",
    ] {
        assert!(help.contains(line), "{help}");
    }
    let started = std::time::Instant::now();
    let out = imagefs(&["wait", "/nonexistent/img-aaaaaaaa", "--state", "available"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(started.elapsed().as_secs() < 5, "refused at once");
    let message = stderr(&out);
    assert!(message.contains("'available'"), "{message}");
    assert!(
        message.contains("NORMAL") && message.contains("RUNNING"),
        "{message}"
    );
}

#[test]
fn several_paths_json_timeout_and_failed_states() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount_with(None, &["--transition-delay", "1"]);
    let region = mount.region("ap-guangzhou");
    let public = region.join("public/img-9qabwvbn");
    command(&public.join("launch"), "2").expect("launch");
    let ids = read(&public.join("launch"));
    let instances: Vec<String> = ids
        .lines()
        .map(|id| region.join("instances").join(id).display().to_string())
        .collect();
    assert_eq!(instances.len(), 2);

    // A state the kind never has is refused before waiting (exit 2).
    let out = imagefs(&["wait", &instances[0], "--state", "NORMAL"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is an instance, which is never NORMAL; instance states: PENDING"),
        "{}",
        stderr(&out)
    );

    // Both must reach RUNNING; lower case is accepted; one JSON object per path.
    let mut args = vec!["wait", "--state", "running", "--json", "--timeout", "30"];
    args.extend(instances.iter().map(String::as_str));
    let out = imagefs(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2, "{}", stdout(&out));
    for (line, path) in lines.iter().zip(&instances) {
        assert_eq!(line["Path"], path.as_str());
        assert_eq!(line["Kind"], "instance");
        assert_eq!(line["State"], "RUNNING");
        assert_eq!(line["Reached"], true);
    }

    // The timeout has its own exit status (3), and --json still reports.
    let out = imagefs(&[
        "wait",
        &instances[0],
        "--state",
        "STOPPED",
        "--timeout",
        "0.3",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is still RUNNING after 0.3 s"),
        "{}",
        stderr(&out)
    );
    let line: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    assert_eq!(line["Reached"], false);

    // README: "it ends non-zero with a message if the state becomes `...FAILED`".
    let out = imagefs(&[
        "store",
        "inject",
        "create-fails",
        "--store",
        scratch.store().to_str().expect("p"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let instance = std::path::Path::new(&instances[1]);
    command(&instance.join("create_image"), "doomed").expect("create_image");
    let image = region
        .join("custom")
        .join(read(&instance.join("create_image")).trim());
    let image_path = image.display().to_string();
    let out = imagefs(&["wait", &image_path, &instances[0], "--state", "NORMAL"]);
    assert_eq!(out.status.code(), Some(2), "an instance is never NORMAL");
    let out = imagefs(&["wait", &image_path, "--state", "NORMAL", "--timeout", "30"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is CREATEFAILED, it will not become NORMAL"),
        "{}",
        stderr(&out)
    );
    // Waiting for the failed state itself succeeds.
    let out = imagefs(&["wait", &image_path, "--state", "CREATEFAILED"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Runs `imagefs ARGS` in `dir` under a pseudo-terminal (util-linux's `script`), and returns
/// what the terminal was shown (stdout and stderr both go to it). `None` when `script` is
/// missing, which is a failure under CI.
fn on_a_terminal(dir: &std::path::Path, args: &[&str]) -> Option<(bool, String)> {
    let line: Vec<String> = std::iter::once(imagefs_bin())
        .chain(args.iter().copied())
        .map(|word| format!("'{}'", word.replace('\'', r"'\''")))
        .collect();
    let run = Command::new("script")
        .args(["-qec", &line.join(" "), "/dev/null"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output();
    match run {
        Ok(out) => Some((out.status.success(), stdout(&out))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                std::env::var_os("CI").is_none(),
                "`script` (util-linux) is needed to test a terminal"
            );
            None
        }
        Err(e) => panic!("cannot run script: {e}"),
    }
}

/// README: "progress (with `SyncPercent`) only on a terminal": on a terminal, `imagefs wait`
/// rewrites one progress line in place (`\r`, erasing the rest of the line) showing the
/// state and a copy's `SyncPercent`, clears it, and ends with one clean line.
#[test]
fn progress_on_a_terminal_shows_the_state_and_sync_percent() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let instant = scratch.mount_with(None, &["--transition-delay", "0"]);
    let slow = scratch.mount_with(None, &["--transition-delay", "3"]);
    let region = instant.region("ap-guangzhou");
    let instance = launch_one(&instant, "ap-guangzhou", "img-9qabwvbn");
    let create = region.join("instances").join(instance).join("create_image");
    command(&create, "to-copy").expect("create_image");
    let id = read(&create).trim().to_string();
    let source = slow.region("ap-guangzhou").join("custom").join(&id);
    command(&source.join("copy_to"), "ap-shanghai").expect("copy_to");
    let copy = read(&source.join("copy_to"))
        .split_whitespace()
        .nth(1)
        .expect("the copy's ID")
        .to_string();
    // Relative to its directory, so the progress line fits the terminal's width.
    let custom = slow.region("ap-shanghai").join("custom");
    let Some((ok, shown)) = on_a_terminal(
        &custom,
        &["wait", &copy, "--state", "NORMAL", "--timeout", "60"],
    ) else {
        return;
    };
    assert!(ok, "{shown:?}");
    let progress = "\rwaiting for NORMAL (";
    let first = shown.find(progress).unwrap_or_else(|| panic!("{shown:?}"));
    let line_end = shown[first + 1..]
        .find('\r')
        .map_or(shown.len(), |i| first + 1 + i);
    let line = &shown[first..line_end];
    let states = line
        .split_once("): ")
        .map(|(_, states)| states)
        .unwrap_or_else(|| panic!("{line:?}"));
    let percent = states
        .strip_prefix(&format!("{copy} SYNCING "))
        .and_then(|rest| rest.strip_suffix("%\x1b[K"))
        .unwrap_or_else(|| panic!("the state and SyncPercent: {line:?}"));
    assert!(percent.parse::<u8>().is_ok_and(|p| p <= 100), "{line:?}");
    // The progress line is cleared, then one clean line ends the wait.
    let (_, last) = shown
        .rsplit_once("\r\x1b[K")
        .unwrap_or_else(|| panic!("the line is cleared: {shown:?}"));
    let last = last.trim_end();
    assert!(
        last.starts_with(&format!("imagefs: {copy} reached NORMAL after "))
            && last.ends_with(" s")
            && !last.contains(['\r', '\x1b']),
        "{shown:?}"
    );
}
