//! `imagefs wait`: until images or instances reach a state.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{seconds, Failure};

#[derive(Args)]
pub struct WaitArgs {
    /// An image or instance directory (or its `state` file) in a mount.
    path: PathBuf,
    /// The state to wait for, e.g. NORMAL or RUNNING.
    #[arg(long)]
    state: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600.0, value_name = "SECONDS")]
    timeout: f64,
}

/// Polls a `state` file until it shows the wanted state; a FAILED state, a vanished path or
/// the timeout end the wait with a message. Progress goes to a terminal only.
pub fn wait(args: WaitArgs) -> Result<(), Failure> {
    let file = if args.path.is_dir() {
        args.path.join("state")
    } else {
        args.path.clone()
    };
    let limit = seconds(args.timeout)?;
    let wanted = args.state.trim().to_uppercase();
    // SAFETY: isatty only inspects the descriptor.
    let interactive = unsafe { libc::isatty(2) } == 1;
    let started = std::time::Instant::now();
    let mut last = String::new();
    loop {
        let state = std::fs::read_to_string(&file)
            .map_err(|e| Failure(format!("cannot read {}: {e}", file.display())))?
            .trim()
            .to_string();
        if state == wanted {
            if interactive {
                eprintln!(
                    "\r{}: {state} after {:.0} s",
                    args.path.display(),
                    started.elapsed().as_secs_f64()
                );
            }
            return Ok(());
        }
        if state.ends_with("FAILED") {
            return Err(Failure(format!(
                "{} is {state}, it will not become {wanted}",
                args.path.display()
            )));
        }
        if started.elapsed() >= limit {
            return Err(Failure(format!(
                "{} is still {state} after {} s (waiting for {wanted})",
                args.path.display(),
                args.timeout
            )));
        }
        if interactive && state != last {
            eprint!(
                "\r{}: {state}, waiting for {wanted}...",
                args.path.display()
            );
            last = state;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
