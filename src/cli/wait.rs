//! `imagefs wait`: until images or instances reach a state.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;

use super::{seconds, EXIT_FAILED, EXIT_STATUS, EXIT_TIMEOUT, EXIT_USAGE};

/// An image's states: the API's `ImageState` values (the Image object's documentation), and
/// `EXPORTING`, which that list omits and its clients use.
pub const IMAGE_STATES: [&str; 7] = [
    "CREATING",
    "NORMAL",
    "CREATEFAILED",
    "SYNCING",
    "IMPORTING",
    "IMPORTFAILED",
    "EXPORTING",
];

/// An instance's states: the API's `InstanceState` values (the InstanceStatus object's
/// documentation).
pub const INSTANCE_STATES: [&str; 15] = [
    "PENDING",
    "LAUNCH_FAILED",
    "RUNNING",
    "STOPPED",
    "STARTING",
    "STOPPING",
    "REBOOTING",
    "SHUTDOWN",
    "TERMINATING",
    "ENTER_RESCUE_MODE",
    "RESCUE_MODE",
    "EXIT_RESCUE_MODE",
    "ENTER_SERVICE_LIVE_MIGRATE",
    "SERVICE_LIVE_MIGRATE",
    "EXIT_SERVICE_LIVE_MIGRATE",
];

/// What `imagefs wait --help` says after the options.
pub fn help() -> String {
    format!(
        "Image states: {}.\nInstance states: {}.\n\nExit status:\n{EXIT_STATUS}",
        IMAGE_STATES.join(", "),
        INSTANCE_STATES.join(", ")
    )
}

#[derive(Args)]
pub struct WaitArgs {
    /// Image or instance directories (or their `state` files) in a mount; all must reach the
    /// state.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// The state to wait for (case does not matter).
    #[arg(long, ignore_case = true, value_parser = state_values())]
    state: String,
    /// Give up after this many seconds (exit status 3).
    #[arg(long, default_value_t = 600.0, value_name = "SECONDS")]
    timeout: f64,
    /// Print one JSON object per path on stdout when the wait ends: {"Path", "Kind", "State",
    /// "Reached", "SyncPercent" (images), "Seconds"}.
    #[arg(long)]
    json: bool,
}

/// Every state `--state` takes, for clap's check and the shells' completion.
fn state_values() -> clap::builder::PossibleValuesParser {
    let mut states: Vec<&'static str> = IMAGE_STATES.to_vec();
    states.extend(INSTANCE_STATES);
    clap::builder::PossibleValuesParser::new(states)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Image,
    Instance,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Instance => "instance",
        }
    }

    fn states(self) -> &'static [&'static str] {
        match self {
            Kind::Image => &IMAGE_STATES,
            Kind::Instance => &INSTANCE_STATES,
        }
    }
}

/// One path being waited on.
struct Watched {
    shown: PathBuf,
    dir: PathBuf,
    kind: Kind,
    state: String,
    sync_percent: Option<i64>,
    reached_after: Option<f64>,
}

/// How a wait ended.
enum Outcome {
    Reached,
    Failed(String),
    TimedOut(String),
}

/// Polls the `state` files until every path shows the wanted state; a `...FAILED` state, an
/// unreadable path or the timeout end the wait with a message. Progress goes to a terminal
/// only; `--json` reports every path on stdout however it ended.
pub fn wait(args: WaitArgs) -> ExitCode {
    let wanted = args.state.trim().to_uppercase();
    let limit = match seconds(args.timeout) {
        Ok(limit) => limit,
        Err(failure) => return usage(&failure.0),
    };
    let mut watched = Vec::new();
    for path in &args.paths {
        match watch(path, &wanted) {
            Ok(one) => watched.push(one),
            Err((message, code)) => {
                eprintln!("imagefs: {message}");
                return ExitCode::from(code);
            }
        }
    }
    let started = Instant::now();
    let progress = Progress::on_stderr();
    let outcome = poll(&mut watched, &wanted, limit, started, &progress);
    progress.clear();
    if args.json {
        for one in &watched {
            println!("{}", json_line(one, &wanted, started));
        }
    }
    match outcome {
        Outcome::Reached => {
            if progress.interactive {
                eprintln!(
                    "imagefs: {} reached {wanted} after {:.0} s",
                    described(&watched),
                    started.elapsed().as_secs_f64()
                );
            }
            ExitCode::SUCCESS
        }
        Outcome::Failed(message) => {
            eprintln!("imagefs: {message}");
            ExitCode::from(EXIT_FAILED)
        }
        Outcome::TimedOut(message) => {
            eprintln!("imagefs: {message}");
            ExitCode::from(EXIT_TIMEOUT)
        }
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("imagefs: {message}");
    ExitCode::from(EXIT_USAGE)
}

/// Finds a path's directory and kind, and refuses a state its kind never has.
fn watch(path: &Path, wanted: &str) -> Result<Watched, (String, u8)> {
    let dir = if path.file_name().is_some_and(|name| name == "state") {
        path.parent().unwrap_or(Path::new(".")).to_path_buf()
    } else {
        path.to_path_buf()
    };
    // A by-name link names the image, not its ID: its target does.
    let resolved = std::fs::canonicalize(&dir)
        .map_err(|e| (format!("cannot read {}: {e}", path.display()), EXIT_FAILED))?;
    let id = resolved
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let kind = if id.starts_with("img-") {
        Kind::Image
    } else if id.starts_with("ins-") {
        Kind::Instance
    } else {
        return Err((
            format!(
                "{} is not an image or instance directory of a mount (img-... or ins-...)",
                path.display()
            ),
            EXIT_USAGE,
        ));
    };
    if !kind.states().contains(&wanted) {
        return Err((
            format!(
                "{} is an {}, which is never {wanted}; {} states: {}",
                path.display(),
                kind.name(),
                kind.name(),
                kind.states().join(", ")
            ),
            EXIT_USAGE,
        ));
    }
    Ok(Watched {
        shown: path.to_path_buf(),
        dir: resolved,
        kind,
        state: String::new(),
        sync_percent: None,
        reached_after: None,
    })
}

fn poll(
    watched: &mut [Watched],
    wanted: &str,
    limit: Duration,
    started: Instant,
    progress: &Progress,
) -> Outcome {
    loop {
        for one in watched.iter_mut().filter(|one| one.reached_after.is_none()) {
            if let Err(e) = refresh(one) {
                return Outcome::Failed(e);
            }
            if one.state == wanted {
                one.reached_after = Some(started.elapsed().as_secs_f64());
            } else if one.state.ends_with("FAILED") {
                return Outcome::Failed(format!(
                    "{} is {}, it will not become {wanted}",
                    one.shown.display(),
                    one.state
                ));
            }
        }
        if watched.iter().all(|one| one.reached_after.is_some()) {
            return Outcome::Reached;
        }
        if started.elapsed() >= limit {
            let late: Vec<String> = watched
                .iter()
                .filter(|one| one.reached_after.is_none())
                .map(|one| format!("{} is still {}", one.shown.display(), one.state))
                .collect();
            return Outcome::TimedOut(format!(
                "{} after {} s (waiting for {wanted}; --timeout sets how long)",
                late.join(", "),
                limit.as_secs_f64()
            ));
        }
        progress.show(&progress_line(watched, wanted, started));
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Reads a path's state, and an image's `SyncPercent` while it is copied.
fn refresh(one: &mut Watched) -> Result<(), String> {
    let file = one.dir.join("state");
    one.state = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?
        .trim()
        .to_string();
    one.sync_percent = None;
    if one.kind == Kind::Image && one.state == "SYNCING" {
        one.sync_percent = std::fs::read(one.dir.join("metadata.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .and_then(|metadata| metadata["SyncPercent"].as_i64());
    }
    Ok(())
}

fn state_with_percent(one: &Watched) -> String {
    match one.sync_percent {
        Some(percent) => format!("{} {percent}%", one.state),
        None => one.state.clone(),
    }
}

fn progress_line(watched: &[Watched], wanted: &str, started: Instant) -> String {
    let states: Vec<String> = watched
        .iter()
        .map(|one| format!("{} {}", one.shown.display(), state_with_percent(one)))
        .collect();
    format!(
        "waiting for {wanted} ({:.0} s): {}",
        started.elapsed().as_secs_f64(),
        states.join(", ")
    )
}

fn described(watched: &[Watched]) -> String {
    match watched {
        [one] => one.shown.display().to_string(),
        all => format!("all {} paths", all.len()),
    }
}

fn json_line(one: &Watched, wanted: &str, started: Instant) -> serde_json::Value {
    serde_json::json!({
        "Path": one.shown.display().to_string(),
        "Kind": one.kind.name(),
        "State": one.state,
        "Reached": one.state == wanted || one.reached_after.is_some(),
        "SyncPercent": one.sync_percent,
        "Seconds": one.reached_after.unwrap_or_else(|| started.elapsed().as_secs_f64()),
    })
}

/// A one-line progress display on a terminal's stderr, rewritten in place.
struct Progress {
    interactive: bool,
}

impl Progress {
    fn on_stderr() -> Progress {
        // SAFETY: isatty only inspects the descriptor.
        Progress {
            interactive: unsafe { libc::isatty(2) } == 1,
        }
    }

    /// Rewrites the line, cut to the terminal's width so it never wraps (a wrapped line
    /// could not be rewritten with `\r`).
    fn show(&self, line: &str) {
        if !self.interactive {
            return;
        }
        let width = terminal_width().saturating_sub(1).max(20);
        let cut: String = line.chars().take(width).collect();
        // `\x1b[K` erases the rest of the line: a shorter line leaves nothing behind.
        eprint!("\r{cut}\x1b[K");
        let _ = std::io::stderr().flush();
    }

    fn clear(&self) {
        if self.interactive {
            eprint!("\r\x1b[K");
            let _ = std::io::stderr().flush();
        }
    }
}

fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ fills the winsize it is given, or fails and leaves it zeroed.
    unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        if libc::ioctl(2, libc::TIOCGWINSZ, &mut size) == 0 && size.ws_col > 0 {
            return size.ws_col as usize;
        }
    }
    80
}
