//! The README's front door, run as printed, so that it cannot break silently again.
//!
//! - **Quick start** (the `sh` block under "Quick start"): every line runs in one bash, in
//!   order, and must succeed. `cargo install --path .` runs as printed plus `--profile dev
//!   --locked --offline --root SCRATCH`, with the test's own target directory: the same
//!   command on the build `cargo test` has just made, instead of a release build that would
//!   take minutes. From then on `SCRATCH/bin` is first on the PATH, so every later `imagefs`
//!   is the installed one. `ls /tmp/images/regions` must list the 18 regions its comment
//!   promises.
//! - **"A minute with it"** (the `console` block): each line starting `$ ` is a command, the
//!   lines up to the next one its output. The commands run in one bash (stdout and stderr
//!   together, as a terminal shows them), each output is compared line by line with the
//!   README's, and a command whose printed output shows an error (`bash: ...`, `rmdir: ...`)
//!   must fail while every other one must succeed.
//!
//! Both use a scratch store (`IMAGEFS_STORE`) and a scratch mountpoint put in place of
//! `/tmp/images` everywhere, commands and outputs alike. The transition delay is the
//! store's default (2 s), which the session prints states under. Masked before comparing:
//! times (`2026-11-26T05:04:35Z`), `ls -l` dates, the store path, the key pair `imagefs
//! accounts add` prints, bash's `line N:` (bash reads the commands from a pipe, not a
//! terminal) and, when not run as root, the owner in `ls -l`. IDs are not masked but bound:
//! the first time the README shows an ID where the run shows another, the README's ID
//! stands for the run's from then on, in later commands (so `cat $R/instances/ins-fb9yc85v/
//! state` reads the instance the run launched) and in later outputs (which must show the
//! same one again).

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::imagefs_bin;

/// The mountpoint the README uses.
const README_MOUNT: &str = "/tmp/images";
/// The store the README's outputs show (root's default).
const README_STORE: &str = "/root/.local/share/imagefs/store.db";
/// How long one command of the README may take.
const COMMAND_LIMIT: Duration = Duration::from_secs(120);

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md")
}

/// The first fenced block of `lang` after the heading `## {heading}`.
fn block(readme: &str, heading: &str, lang: &str) -> String {
    let start = readme
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("README has no section {heading:?}"));
    let fence = format!("\n```{lang}\n");
    let open = start
        + readme[start..]
            .find(&fence)
            .unwrap_or_else(|| panic!("no ```{lang} block under {heading:?}"))
        + fence.len();
    let close = open + readme[open..].find("\n```").expect("closing fence");
    readme[open..close].to_string()
}

/// A `console` block as (command, expected output) pairs.
fn session(block: &str) -> Vec<(String, String)> {
    let mut steps: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        if let Some(cmd) = line.strip_prefix("$ ") {
            steps.push((cmd.to_string(), String::new()));
        } else {
            let (_, out) = steps.last_mut().expect("output before the first command");
            out.push_str(line);
            out.push('\n');
        }
    }
    steps
}

/// One bash fed commands through a pipe, its stdout and stderr read together.
struct Shell {
    child: Child,
    stdin: ChildStdin,
    output: mpsc::Receiver<Vec<u8>>,
    pending: Vec<u8>,
}

impl Shell {
    fn start(dir: &Path, envs: &[(&str, String)]) -> Shell {
        let mut bash = Command::new("bash");
        // What cargo sets for running a test is not the user's shell; in a nested cargo it
        // would also make build scripts that watch it (ring's) rebuild.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key == "CARGO"
                || key == "RUST_RECURSION_COUNT"
                || [
                    "CARGO_MANIFEST_",
                    "CARGO_PKG_",
                    "CARGO_BIN_",
                    "CARGO_CRATE_",
                    "CARGO_PRIMARY_",
                    "CARGO_TARGET_TMPDIR",
                    "CARGO_RUSTC_",
                ]
                .iter()
                .any(|p| key.starts_with(p))
            {
                bash.env_remove(key.as_ref());
            }
        }
        let mut child = bash
            .args(["--noprofile", "--norc"])
            .current_dir(dir)
            .env_remove("RUST_LOG")
            .env("LC_ALL", "C")
            .env("TZ", "UTC")
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("bash");
        let mut stdout = child.stdout.take().expect("stdout");
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take().expect("stdin");
        let mut shell = Shell {
            child,
            stdin,
            output,
            pending: Vec::new(),
        };
        let (_, status) = shell.run("exec 2>&1");
        assert_eq!(status, 0);
        shell
    }

    /// Runs one command line; what it printed and its exit status.
    fn run(&mut self, cmd: &str) -> (String, i32) {
        // The end marker: unit separators around the status, after whatever it printed.
        writeln!(self.stdin, "{cmd}\nprintf '\\037%s\\037\\n' \"$?\"").expect("write to bash");
        self.stdin.flush().expect("flush");
        let deadline = std::time::Instant::now() + COMMAND_LIMIT;
        loop {
            if let Some(end) = self.pending.iter().rposition(|&b| b == b'\n') {
                let text = String::from_utf8_lossy(&self.pending[..end]).into_owned();
                if let Some((out, status)) = text
                    .strip_suffix('\u{1f}')
                    .and_then(|t| t.rsplit_once('\u{1f}'))
                {
                    let result = (out.to_string(), status.parse().expect("status"));
                    self.pending.drain(..=end);
                    return result;
                }
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.pending.extend(bytes),
                Err(_) => panic!(
                    "`{cmd}` did not finish within {COMMAND_LIMIT:?}; so far:\n{}",
                    String::from_utf8_lossy(&self.pending)
                ),
            }
        }
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch store and mountpoint; the mountpoint is unmounted at the end whatever happened.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            dir: tempfile::Builder::new()
                .prefix("imagefs-readme-")
                .tempdir()
                .expect("tempdir"),
        }
    }
    fn mountpoint(&self) -> PathBuf {
        self.dir.path().join("images")
    }
    fn store(&self) -> PathBuf {
        self.dir.path().join("store.db")
    }
    /// Where the quick start's `cargo install` puts imagefs (`--root`), and its `bin`.
    fn install_root(&self) -> PathBuf {
        self.dir.path().join("install")
    }
    fn bin(&self) -> PathBuf {
        self.install_root().join("bin")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if common::is_mounted(&self.mountpoint()) {
            let _ = imagefs::mounts::unmount(&self.mountpoint(), true);
        }
    }
}

/// Whether `s[i..]` starts an ID (`img-` or `ins-` and 8 of `[a-z0-9]`) standing alone.
fn id_at(s: &[u8], i: usize) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    s.len() >= i + 12
        && (s[i..].starts_with(b"img-") || s[i..].starts_with(b"ins-"))
        && s[i + 4..i + 12].iter().all(|&b| alnum(b))
        && (i == 0 || !s[i - 1].is_ascii_alphanumeric())
        && !matches!(s.get(i + 12), Some(b) if b.is_ascii_alphanumeric())
}

/// The IDs in a line, in order.
fn ids(line: &str) -> Vec<String> {
    let b = line.as_bytes();
    (0..b.len())
        .filter(|&i| id_at(b, i))
        .map(|i| line[i..i + 12].to_string())
        .collect()
}

/// Replaces every run of `width` bytes starting where `matches` holds with `mask`.
fn mask_runs(line: &str, width: usize, mask: &str, matches: impl Fn(&[u8]) -> bool) -> String {
    let b = line.as_bytes();
    let mut out = String::new();
    let (mut i, mut copied) = (0, 0);
    while i < b.len() {
        if i + width <= b.len() && matches(&b[i..i + width]) {
            out.push_str(&line[copied..i]);
            out.push_str(mask);
            i += width;
            copied = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&line[copied..]);
    out
}

fn shape(s: &[u8], pattern: &str) -> bool {
    // `9` a digit, `_` a digit or a space, anything else itself.
    s.iter().zip(pattern.bytes()).all(|(&c, p)| match p {
        b'9' => c.is_ascii_digit(),
        b'_' => c.is_ascii_digit() || c == b' ',
        _ => c == p,
    })
}

/// The masks both sides go through (after the run's paths became the README's).
fn mask(line: &str) -> String {
    if let Some(key) = ["SecretId=", "SecretKey="]
        .iter()
        .find(|k| line.starts_with(*k))
    {
        return format!("{key}<secret>");
    }
    let line = match line.strip_prefix("bash: line ") {
        Some(rest) => match rest.split_once(": ") {
            Some((n, rest)) if n.bytes().all(|b| b.is_ascii_digit()) => format!("bash: {rest}"),
            _ => line.to_string(),
        },
        None => line.to_string(),
    };
    let line = mask_runs(&line, 20, "<time>", |s| shape(s, "9999-99-99T99:99:99Z"));
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    mask_runs(&line, 12, "<date>", |s| {
        MONTHS.iter().any(|m| s.starts_with(m.as_bytes()))
            && (shape(&s[3..], " _9  9999") || shape(&s[3..], " _9 99:99"))
    })
}

/// Compares what a command printed with what the README shows, binding the README's IDs to
/// the run's.
fn compare(
    cmd: &str,
    expected: &str,
    actual: &str,
    bound: &mut HashMap<String, String>,
) -> Result<(), String> {
    let show = || format!("`$ {cmd}`\n--- README:\n{expected}--- the run:\n{actual}");
    let (want, got): (Vec<&str>, Vec<&str>) =
        (expected.lines().collect(), actual.lines().collect());
    if want.len() != got.len() {
        return Err(format!("line counts differ for {}", show()));
    }
    for (w, g) in want.iter().zip(&got) {
        let (w, g) = (mask(w), mask(g));
        let (w_ids, g_ids) = (ids(&w), ids(&g));
        let strip = |s: &str, found: &[String]| {
            found.iter().fold(s.to_string(), |acc, id| {
                acc.replacen(id.as_str(), "<id>", 1)
            })
        };
        if w_ids.len() != g_ids.len() || strip(&w, &w_ids) != strip(&g, &g_ids) {
            return Err(format!(
                "output differs:\n  README: {w}\n  run:    {g}\nin {}",
                show()
            ));
        }
        for (w_id, g_id) in w_ids.into_iter().zip(g_ids) {
            match bound.get(&w_id) {
                Some(b) if *b != g_id => {
                    return Err(format!("{w_id} is {b} in this run, not {g_id}: {}", show()))
                }
                Some(_) => {}
                None => {
                    if let Some((other, _)) = bound.iter().find(|(_, b)| **b == g_id) {
                        return Err(format!("{g_id} is shown as {other} before: {}", show()));
                    }
                    bound.insert(w_id, g_id);
                }
            }
        }
    }
    Ok(())
}

/// The command with `/tmp/images` and every bound README ID replaced by the run's.
fn substitute(cmd: &str, mountpoint: &str, bound: &HashMap<String, String>) -> String {
    let cmd = cmd.replace(README_MOUNT, mountpoint);
    ids(&cmd)
        .iter()
        .fold(cmd.clone(), |acc, id| match bound.get(id) {
            Some(real) => acc.replace(id.as_str(), real),
            None => acc,
        })
}

/// The run's output with its scratch paths (and owner, when not root) shown as the README's.
fn as_readme_shows(out: &str, scratch: &Scratch) -> String {
    let mut out = out
        .replace(scratch.store().to_str().unwrap(), README_STORE)
        .replace(scratch.mountpoint().to_str().unwrap(), README_MOUNT);
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        let id = |flag: &str| {
            let o = Command::new("id").arg(flag).output().expect("id");
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        };
        out = out.replace(&format!(" {} {} ", id("-un"), id("-gn")), " root root ");
    }
    out
}

/// The `cargo install` arguments that reuse the build `cargo test` made (see the doc above).
fn install_args(root: &Path) -> (String, PathBuf) {
    let profile_dir = Path::new(imagefs_bin()).parent().expect("profile dir");
    let target = profile_dir.parent().expect("target dir").to_path_buf();
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    (
        format!(
            " --profile {profile} --locked --offline --root '{}'",
            root.display()
        ),
        target,
    )
}

#[test]
fn the_quick_start_and_a_minute_with_it_run_as_printed() {
    if !common::fuse_available() {
        return;
    }
    // The session reads JSON with jq.
    if Command::new("jq").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "jq is missing and CI is set"
        );
        eprintln!("skipping: jq is missing (set CI to make this a failure)");
        return;
    }
    let readme = readme();
    let scratch = Scratch::new();
    let mountpoint = scratch.mountpoint().to_string_lossy().into_owned();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let cargo_dir = Path::new(&cargo)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let path = format!(
        "{}:{cargo_dir}:{}",
        scratch.bin().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (extra, target) = install_args(&scratch.install_root());
    let envs = [
        ("PATH", path),
        (
            "IMAGEFS_STORE",
            scratch.store().to_string_lossy().into_owned(),
        ),
        ("CARGO_TARGET_DIR", target.to_string_lossy().into_owned()),
    ];

    // The quick start, from the repository (for `--path .`).
    let quick = block(&readme, "Quick start", "sh");
    let mut shell = Shell::start(Path::new(env!("CARGO_MANIFEST_DIR")), &envs);
    let mut installed = false;
    for line in quick.lines().filter(|l| !l.trim().is_empty()) {
        let mut cmd = line.replace(README_MOUNT, &mountpoint);
        if let Some(rest) = line.strip_prefix("cargo install --path .") {
            let (args, comment) = rest.split_once('#').unwrap_or((rest, ""));
            assert!(args.trim().is_empty(), "an unexpected install: {line}");
            cmd = format!("cargo install --path .{extra}  #{comment}");
            installed = true;
        }
        let (out, status) = shell.run(&cmd);
        assert_eq!(status, 0, "quick start: `{line}` failed:\n{out}");
        if line.starts_with("ls ") && line.contains("# 18 regions") {
            assert_eq!(out.lines().count(), 18, "`{line}`:\n{out}");
        }
    }
    assert!(
        installed,
        "the quick start installs imagefs with `cargo install --path .`"
    );
    assert!(
        scratch.bin().join("imagefs").exists(),
        "cargo install put imagefs in the scratch root"
    );
    assert!(
        !common::is_mounted(&scratch.mountpoint()),
        "the quick start unmounts"
    );
    drop(shell);

    // The session, from a scratch directory.
    let steps = session(&block(&readme, "A minute with it", "console"));
    assert!(steps.len() > 20, "the session is there");
    let mut shell = Shell::start(scratch.dir.path(), &envs);
    let mut bound = HashMap::new();
    for (cmd, expected) in &steps {
        let (out, status) = shell.run(&substitute(cmd, &mountpoint, &bound));
        let out = as_readme_shows(&out, &scratch);
        if let Err(e) = compare(cmd, expected, &out, &mut bound) {
            panic!("the README's session does not run as printed: {e}");
        }
        let shows_error = expected
            .lines()
            .any(|l| l.starts_with("bash: ") || l.starts_with("rmdir: "));
        assert_eq!(
            status != 0,
            shows_error,
            "`$ {cmd}` exited {status}; the README shows:\n{expected}"
        );
    }
    assert!(
        !common::is_mounted(&scratch.mountpoint()),
        "the session unmounts"
    );
}

#[test]
fn masks_and_bindings() {
    assert_eq!(
        mask("2026-11-26T05:04:35Z write /x"),
        "<time> write /x".to_string()
    );
    assert_eq!(
        mask("-r--r--r-- 1 root root  17 Dec 18  2018 description"),
        "-r--r--r-- 1 root root  17 <date> description"
    );
    assert_eq!(mask("drwx 2 a a 0 Jan  1 17:20 ."), "drwx 2 a a 0 <date> .");
    assert_eq!(
        mask("bash: line 12: echo: write error"),
        "bash: echo: write error"
    );
    assert_eq!(mask("SecretKey=abc"), "SecretKey=<secret>");
    assert_eq!(ids("ap-shanghai img-z0756chz"), ["img-z0756chz"]);
    assert!(ids("img-z0756chzz ximg-z0756chz").is_empty());

    let mut bound = HashMap::new();
    compare(
        "c",
        "ins-aaaaaaaa\nimg-9qabwvbn\n",
        "ins-bbbbbbbb\nimg-9qabwvbn\n",
        &mut bound,
    )
    .expect("binds");
    assert_eq!(bound["ins-aaaaaaaa"], "ins-bbbbbbbb");
    assert_eq!(bound["img-9qabwvbn"], "img-9qabwvbn");
    assert!(compare("c", "ins-aaaaaaaa\n", "ins-cccccccc\n", &mut bound).is_err());
    assert!(compare("c", "ins-dddddddd\n", "ins-bbbbbbbb\n", &mut bound).is_err());
    assert!(compare("c", "a\n", "b\n", &mut bound).is_err());
    assert!(compare("c", "a\n", "a\nb\n", &mut bound).is_err());
    assert_eq!(
        substitute("cat /tmp/images/x/ins-aaaaaaaa/state", "/m", &bound),
        "cat /m/x/ins-bbbbbbbb/state"
    );
}

/// The README's one-command way in, `cargo run --release -- mount DIR`, needs cargo to know
/// which of the two binaries to run (`default-run`): checked with the debug build `cargo test`
/// made, so that no release build is needed here.
#[test]
fn cargo_run_runs_imagefs() {
    let readme = readme();
    assert!(
        readme.contains("cargo run --release -- mount /tmp/images"),
        "the README no longer shows `cargo run --release -- mount`"
    );
    let out = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--offline", "--", "--version"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.starts_with("imagefs "),
        "`cargo run -- --version` printed {text:?} and {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
