//! imagefs-bench: imagefs against the same tree copied to tmpfs, workload by workload.
//!
//! Builds a store with a synthetic catalog, mounts it, copies the tree with `cp -a` to a tmpfs,
//! then runs each workload on both (alternating, several times, cold after dropping caches and
//! warm), and prints median times and the ratio imagefs / tmpfs, with the kernel requests each
//! workload cost. Needs root (tmpfs, drop_caches). Run it with `cargo run --release --bin
//! imagefs-bench`.
//!
//! `--only serve` measures `imagefs serve` against moto's server instead (see `serve.rs`); it
//! runs only when named, as it needs wrk and moto.

#[path = "imagefs-bench/serve.rs"]
mod serve;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;

use imagefs::local::store::Store;
use imagefs::local::{insert_synthetic_images, LocalService};
use imagefs::model::AccountId;
use imagefs::mounts;

const OWNER: &str = "100000000001";
const REGION: &str = "ap-guangzhou";

#[derive(Parser)]
#[command(about = "imagefs against tmpfs: times, ratios and request counts per workload")]
struct Args {
    /// Custom images in the directory the workloads read.
    #[arg(long, default_value_t = 10_000)]
    images: u64,
    /// Runs per workload (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Control writes for W5.
    #[arg(long, default_value_t = 1000)]
    writes: usize,
    /// Catalog sizes for W6 (mount time, RSS, per-image cost).
    #[arg(long, value_delimiter = ',', default_value = "1000,100000")]
    sizes: Vec<u64>,
    /// Run only these workloads (e.g. `--only w1,w5`) [default: all but serve]. `serve`:
    /// `imagefs serve` against moto_server with wrk.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Seconds of each wrk run of the serve workload.
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    serve_seconds: u64,
    /// moto's server for the serve workload (a path, or a name on PATH).
    #[arg(long, default_value = "moto_server", value_name = "PROGRAM")]
    moto_server: String,
    /// Where to build stores and mounts [default: a new directory under /tmp].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Only build a store with the synthetic catalog at this path, then exit (for profiling a
    /// mount by hand).
    #[arg(long, value_name = "PATH")]
    build_store: Option<PathBuf>,
    /// Internal: run as one W5 writer process.
    #[arg(long, hide = true, num_args = 3, value_names = ["IMAGE_DIR", "ACCOUNT", "COUNT"])]
    w5_worker: Option<Vec<String>>,
}

fn main() {
    let args = Args::parse();
    if let Some(worker) = &args.w5_worker {
        let count: usize = worker[2].parse().unwrap_or(0);
        let done = share_unshare(Path::new(&worker[0]), &worker[1], count);
        println!("{done}");
        return;
    }
    if let Some(path) = &args.build_store {
        let _ = std::fs::remove_file(path);
        if let Err(e) = build_store(path, args.images) {
            eprintln!("imagefs-bench: {e}");
            std::process::exit(1);
        }
        return;
    }
    if let Err(e) = run(&args) {
        eprintln!("imagefs-bench: {e}");
        std::process::exit(1);
    }
}

type Fallible<T> = Result<T, String>;

fn fail(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn imagefs_binary() -> Fallible<PathBuf> {
    let me = std::env::current_exe().map_err(fail)?;
    let binary = me.with_file_name("imagefs");
    if binary.exists() {
        Ok(binary)
    } else {
        Err(format!(
            "{} not found: build it with cargo build --release",
            binary.display()
        ))
    }
}

/// A store with `images` synthetic custom images in ap-guangzhou, plus the seed catalog.
fn build_store(path: &Path, images: u64) -> Fallible<()> {
    let store = Arc::new(Store::open(path, None).map_err(fail)?);
    let owner = AccountId::parse(OWNER).map_err(fail)?;
    let mut done = 0;
    while done < images {
        let batch = (images - done).min(100_000);
        insert_synthetic_images(&store, REGION, &owner, done, batch).map_err(fail)?;
        done += batch;
    }
    for extra in [
        "200000000001",
        "200000000002",
        "200000000003",
        "200000000004",
    ] {
        store
            .add_account(&AccountId::parse(extra).map_err(fail)?)
            .map_err(fail)?;
    }
    // Make sure the service can open it (regions, catalog).
    LocalService::open(store, None).map_err(fail)?;
    Ok(())
}

struct Daemon {
    child: Child,
    root: PathBuf,
    log: PathBuf,
}

impl Daemon {
    fn start(binary: &Path, root: &Path, store: &Path) -> Fallible<(Daemon, Duration)> {
        std::fs::create_dir_all(root).map_err(fail)?;
        let log = root.with_extension("log");
        let started = Instant::now();
        let child = Command::new(binary)
            .args([
                "mount",
                "--foreground",
                "--transition-delay",
                "0",
                "--log-file",
            ])
            .arg(&log)
            .arg("--store")
            .arg(store)
            .arg(root)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(fail)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if matches!(mounts::mount_at(root), Ok(Some(_))) {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("{} did not mount", root.display()));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let elapsed = started.elapsed();
        Ok((
            Daemon {
                child,
                root: root.to_path_buf(),
                log,
            },
            elapsed,
        ))
    }

    fn rss_mib(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.split_whitespace().next())
                    .and_then(|v| v.parse::<f64>().ok())
            })
            .map(|kib| kib / 1024.0)
            .unwrap_or(0.0)
    }

    /// The daemon's request counts so far (it logs them on SIGUSR1).
    fn requests(&self) -> String {
        // SAFETY: kill with the pid of a child we spawned.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGUSR1);
        }
        std::thread::sleep(Duration::from_millis(100));
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .rev()
            .find_map(|l| l.split_once("requests: ").map(|(_, c)| c.to_string()))
            .unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = mounts::unmount(&self.root, true);
        let _ = self.child.wait();
    }
}

fn drop_caches() {
    let _ = std::process::Command::new("sync").status();
    let _ = std::fs::write("/proc/sys/vm/drop_caches", "3");
}

/// Runs a shell command in `dir` and returns how long it took.
fn time_shell(dir: &Path, script: &str) -> Fallible<f64> {
    let started = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .map_err(fail)?;
    if !status.success() {
        return Err(format!("`{script}` failed in {}", dir.display()));
    }
    Ok(started.elapsed().as_secs_f64())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Counts of one request summary minus another, per kind.
fn request_delta(before: &str, after: &str) -> String {
    let parse = |s: &str| -> Vec<(String, u64)> {
        s.split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.parse().unwrap_or(0)))
            .collect()
    };
    let before = parse(before);
    parse(after)
        .into_iter()
        .filter_map(|(k, v)| {
            let old = before
                .iter()
                .find(|(bk, _)| *bk == k)
                .map(|(_, v)| *v)
                .unwrap_or(0);
            (v > old).then(|| format!("{k}={}", v - old))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Untimed W5 writes made to each image before the timed ones (an even number: each image
/// ends as it began, shared with no one).
const W5_WARM_UP: usize = 100;

/// W5: alternating share/unshare writes (open, write, close) of one account; returns how many
/// were acknowledged.
fn share_unshare(image: &Path, account: &str, count: usize) -> usize {
    let mut done = 0;
    for i in 0..count {
        let file = if i % 2 == 0 { "share" } else { "unshare" };
        if std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(image.join(file))
            .and_then(|mut f| std::io::Write::write_all(&mut f, account.as_bytes()))
            .is_ok()
        {
            done += 1;
        }
    }
    done
}

fn run(args: &Args) -> Fallible<()> {
    let binary = imagefs_binary()?;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("imagefs-bench-{}", std::process::id())),
    };
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!(
        "imagefs-bench: commit {commit}, {} CPUs, {} images, {} runs",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        args.images,
        args.runs
    );
    let serve_plan = serve::Plan {
        binary: &binary,
        dir: &dir,
        moto_server: &args.moto_server,
        seconds: args.serve_seconds,
        rounds: args.runs,
    };
    let named = |workload: &str| args.only.iter().any(|w| w.eq_ignore_ascii_case(workload));
    if named("serve") && args.only.len() == 1 {
        let result = serve::run(&serve_plan);
        let _ = std::fs::remove_dir_all(&dir);
        return result;
    }
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err("run as root: the benchmark mounts a tmpfs and drops the page cache".into());
    }
    std::fs::create_dir_all(&dir).map_err(fail)?;

    let store = dir.join("bench.db");
    let _ = std::fs::remove_file(&store);
    let started = Instant::now();
    build_store(&store, args.images)?;
    println!("store built in {:.1} s", started.elapsed().as_secs_f64());

    let (daemon, mount_time) = Daemon::start(&binary, &dir.join("mnt"), &store)?;
    let tmpfs = dir.join("tmpfs");
    std::fs::create_dir_all(&tmpfs).map_err(fail)?;
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4g", "tmpfs"])
        .arg(&tmpfs)
        .status()
        .map_err(fail)?;
    if !status.success() {
        return Err("cannot mount a tmpfs".into());
    }
    let result = (|| {
        let copy = Instant::now();
        let status = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", daemon.root.display()))
            .arg(&tmpfs)
            .status()
            .map_err(fail)?;
        if !status.success() {
            return Err("cp -a of the tree failed".to_string());
        }
        println!(
            "tree copied to tmpfs in {:.1} s (mount took {:.0} ms)\n",
            copy.elapsed().as_secs_f64(),
            mount_time.as_secs_f64() * 1000.0
        );
        workloads(args, &daemon, &tmpfs)?;
        w5(args, &daemon)?;
        Ok(())
    })();
    let _ = Command::new("umount").arg(&tmpfs).status();
    drop(daemon);
    result?;
    w6(args, &binary, &dir)?;
    if named("serve") {
        serve::run(&serve_plan)?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Whether a workload (`w1` ... `w6`) was asked for.
fn wanted(args: &Args, workload: &str) -> bool {
    args.only.is_empty() || args.only.iter().any(|w| w.eq_ignore_ascii_case(workload))
}

fn workloads(args: &Args, daemon: &Daemon, tmpfs: &Path) -> Fallible<()> {
    let custom = format!("regions/{REGION}/custom");
    let cases: Vec<(&str, String)> = vec![
        ("W1 ls -l custom/", format!("ls -l {custom} > /dev/null")),
        (
            "W2 find | xargs cat",
            "find regions -type f | xargs cat > /dev/null".to_string(),
        ),
        (
            "W3 cat */metadata.json",
            format!("cd {custom} && cat */metadata.json > /dev/null"),
        ),
        (
            "W4 grep -r NORMAL",
            format!("grep -l '\"ImageState\": \"NORMAL\"' -r regions/{REGION} > /dev/null"),
        ),
    ];
    println!(
        "{:<26} {:>5} {:>10} {:>10} {:>7}  requests (imagefs, one run)",
        "workload", "cache", "imagefs s", "tmpfs s", "ratio"
    );
    for (name, script) in &cases {
        if !wanted(args, &name[..2]) {
            continue;
        }
        for cold in [true, false] {
            if name.starts_with("W4") && !cold {
                continue;
            }
            let mut ours = Vec::new();
            let mut theirs = Vec::new();
            let mut requests = String::new();
            for run in 0..args.runs {
                // Alternate which goes first.
                let order: [bool; 2] = if run % 2 == 0 {
                    [true, false]
                } else {
                    [false, true]
                };
                for on_imagefs in order {
                    let root = if on_imagefs { &daemon.root } else { tmpfs };
                    if cold {
                        drop_caches();
                    } else {
                        time_shell(root, script)?;
                    }
                    let before = if on_imagefs && run == 0 {
                        daemon.requests()
                    } else {
                        String::new()
                    };
                    let seconds = time_shell(root, script)?;
                    if on_imagefs && run == 0 {
                        requests = request_delta(&before, &daemon.requests());
                    }
                    if on_imagefs {
                        ours.push(seconds);
                    } else {
                        theirs.push(seconds);
                    }
                }
            }
            let (a, b) = (median(&mut ours), median(&mut theirs));
            println!(
                "{:<26} {:>5} {:>10.3} {:>10.3} {:>7.2}  {}",
                name,
                if cold { "cold" } else { "warm" },
                a,
                b,
                if b > 0.0 { a / b } else { 0.0 },
                requests
            );
        }
    }
    Ok(())
}

fn w5(args: &Args, daemon: &Daemon) -> Fallible<()> {
    if !wanted(args, "w5") {
        return Ok(());
    }
    let custom = daemon.root.join(format!("regions/{REGION}/custom"));
    let images: Vec<PathBuf> = std::fs::read_dir(&custom)
        .map_err(fail)?
        .take(4)
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    if images.len() < 4 {
        return Err("W5 needs at least 4 custom images".into());
    }
    // Untimed writes first, to each image the timed ones use: W5 measures the rate of
    // writes in a row, not the first reads of the store's pages after W4 dropped them.
    for (i, image) in images.iter().enumerate() {
        share_unshare(image, &format!("20000000000{}", i + 1), W5_WARM_UP);
    }
    let started = Instant::now();
    let done = share_unshare(&images[0], "200000000001", args.writes);
    let one = done as f64 / started.elapsed().as_secs_f64();
    let me = std::env::current_exe().map_err(fail)?;
    let started = Instant::now();
    let workers: Vec<Child> = (0..4)
        .map(|i| {
            Command::new(&me)
                .arg("--w5-worker")
                .arg(&images[i])
                .arg(format!("20000000000{}", i + 1))
                .arg(args.writes.to_string())
                .stdout(Stdio::piped())
                .spawn()
                .map_err(fail)
        })
        .collect::<Fallible<_>>()?;
    let mut total = 0usize;
    for worker in workers {
        let out = worker.wait_with_output().map_err(fail)?;
        total += String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<usize>()
            .unwrap_or(0);
    }
    let four = total as f64 / started.elapsed().as_secs_f64();
    println!("\nW5 share/unshare writes: 1 process {done}/{} acknowledged, {one:.0} writes/s; 4 processes {total}/{} acknowledged, {four:.0} writes/s together", args.writes, args.writes * 4);
    println!("   (each acknowledged write is a committed SQLite transaction: it survives kill -9 of the daemon)");
    Ok(())
}

fn w6(args: &Args, binary: &Path, dir: &Path) -> Fallible<()> {
    if !wanted(args, "w6") {
        return Ok(());
    }
    println!(
        "\nW6 {:>9} {:>10} {:>12} {:>14} {:>14} {:>12}",
        "images", "mount ms", "RSS W1+W3", "W1 us/image", "W3 us/image", "RSS W2"
    );
    for &size in &args.sizes {
        let store = dir.join(format!("w6-{size}.db"));
        let _ = std::fs::remove_file(&store);
        build_store(&store, size)?;
        let (daemon, mount_time) = Daemon::start(binary, &dir.join(format!("w6-{size}")), &store)?;
        let custom = daemon.root.join(format!("regions/{REGION}/custom"));
        drop_caches();
        let w1 = time_shell(&custom, "ls -l > /dev/null")?;
        // A glob of a million names passes the argument limit: the images' files are found.
        let w3 = time_shell(
            &custom,
            "find . -name metadata.json | xargs cat > /dev/null",
        )?;
        let rss = daemon.rss_mib();
        // Then every file of the tree, read once (W2).
        time_shell(&daemon.root, "find regions -type f | xargs cat > /dev/null")?;
        let rss_w2 = daemon.rss_mib();
        println!(
            "   {:>9} {:>10.0} {:>12.1} {:>14.1} {:>14.1} {:>12.1}",
            size,
            mount_time.as_secs_f64() * 1000.0,
            rss,
            w1 * 1e6 / size as f64,
            w3 * 1e6 / size as f64,
            rss_w2
        );
        drop(daemon);
        let _ = std::fs::remove_file(&store);
    }
    Ok(())
}
