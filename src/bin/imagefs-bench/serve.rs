//! `imagefs-bench --only serve`: `imagefs serve` against `moto_server` (moto, the emulator AWS
//! users run), in one run, with one client, wrk: a DescribeImages of one image by ID from 16
//! connections. imagefs is measured with keep-alive, with `Connection: close` and over HTTPS
//! with keep-alive; moto's server closes every connection after its answer, whatever the client
//! asks. Rounds alternate the four so that a change in the machine's load falls on all; the
//! median of the rounds is reported.
//!
//! Installs nothing; needs `wrk` (Debian: `apt-get install wrk`), `moto_server` (PyPI:
//! `pip install moto==5.2.5 flask flask-cors`) and `openssl` (for the HTTPS certificate).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use imagefs::local::store::Store;
use imagefs::model::AccountId;
use imagefs::tencent::sign;

use super::{fail, median, Fallible};

/// Client connections, as the issue measured.
const CONNECTIONS: u32 = 16;

/// The public image imagefs describes (in every store's seed catalog).
const IMAGEFS_IMAGE: &str = "img-9qabwvbn";

/// An AMI moto loads into every region by default.
const MOTO_IMAGE: &str = "ami-1e749f67";

/// moto's DescribeImages of [`MOTO_IMAGE`], as EC2's query API sends it.
const MOTO_BODY: &str = "Action=DescribeImages&ImageId.1=ami-1e749f67&Version=2016-11-15";

/// moto routes by the credential scope of the Authorization header (without one it answers as
/// S3) and checks no signature.
const MOTO_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 \
    Credential=AKID/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0";

/// How the benchmark is run.
pub struct Plan<'a> {
    pub binary: &'a Path,
    pub dir: &'a Path,
    pub moto_server: &'a str,
    pub seconds: u64,
    pub rounds: usize,
}

/// What one wrk run measured.
struct Measured {
    requests_per_second: f64,
    p99_ms: f64,
}

/// The configurations, in the order of each round.
#[derive(Clone, Copy)]
enum Target {
    ImagefsKeepAlive,
    ImagefsClose,
    ImagefsHttps,
    Moto,
    /// An unsigned request, refused by authentication at once: what the HTTP layer and the
    /// envelope cost without the action (and so how fast the action alone is).
    ImagefsRefused,
}

impl Target {
    const ALL: [Target; 5] = [
        Target::ImagefsKeepAlive,
        Target::ImagefsClose,
        Target::ImagefsHttps,
        Target::Moto,
        Target::ImagefsRefused,
    ];

    fn label(self) -> &'static str {
        match self {
            Target::ImagefsKeepAlive => "imagefs serve, HTTP keep-alive",
            Target::ImagefsClose => "imagefs serve, HTTP Connection: close",
            Target::ImagefsHttps => "imagefs serve, HTTPS keep-alive",
            Target::Moto => "moto_server (closes every connection)",
            Target::ImagefsRefused => "imagefs serve, keep-alive, unsigned (refused)",
        }
    }
}

/// A server process, killed on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether `program` is an executable on PATH (or a path to one).
fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if program.contains('/') {
        return executable(Path::new(program));
    }
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| executable(&dir.join(program))))
        .unwrap_or(false)
}

fn check_tools(moto_server: &str) -> Fallible<()> {
    let needed = [
        ("wrk", "apt-get install wrk"),
        (moto_server, "pip install moto==5.2.5 flask flask-cors"),
        ("openssl", "apt-get install openssl"),
    ];
    let missing: Vec<String> = needed
        .iter()
        .filter(|(program, _)| !on_path(program))
        .map(|(program, install)| format!("{program} ({install})"))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the serve benchmark needs {}; it installs nothing itself",
            missing.join(", ")
        ))
    }
}

/// Runs the benchmark and prints its table.
pub fn run(plan: &Plan<'_>) -> Fallible<()> {
    check_tools(plan.moto_server)?;
    std::fs::create_dir_all(plan.dir).map_err(fail)?;
    let store_path = plan.dir.join("serve.db");
    let _ = std::fs::remove_file(&store_path);
    let store = Store::open(&store_path, None).map_err(fail)?;
    let account = AccountId::parse("100000000001").map_err(fail)?;
    store.add_account(&account).map_err(fail)?;
    let key = store.create_key(&account).map_err(fail)?;
    drop(store);

    let (certificate, private_key) = certificate(plan.dir)?;
    let (_plain, plain) = start_imagefs(plan.binary, &store_path, &[])?;
    let tls_options = [
        "--tls-cert".as_ref(),
        certificate.as_os_str(),
        "--tls-key".as_ref(),
        private_key.as_os_str(),
    ];
    let (_tls, tls) = start_imagefs(plan.binary, &store_path, &tls_options)?;
    let (_moto, moto) = start_moto(plan.moto_server)?;

    println!(
        "serve: DescribeImages of one image by ID, wrk {CONNECTIONS} connections, {} s a run, \
         median of {} rounds\n  {}; {}\n  load average before: {}",
        plan.seconds,
        plan.rounds,
        moto_version(plan.moto_server),
        processor(),
        load_average()
    );
    let mut results: Vec<Vec<Measured>> = Target::ALL.iter().map(|_| Vec::new()).collect();
    for _ in 0..plan.rounds {
        for (i, target) in Target::ALL.iter().enumerate() {
            let script = match target {
                Target::ImagefsKeepAlive => imagefs_script(&plain, &key, false),
                Target::ImagefsClose => imagefs_script(&plain, &key, true),
                Target::ImagefsHttps => imagefs_script(&tls, &key, false),
                Target::Moto => moto_script(),
                Target::ImagefsRefused => refused_script(),
            };
            let url = match target {
                Target::ImagefsHttps => format!("https://{tls}/"),
                Target::Moto => format!("http://{moto}/"),
                _ => format!("http://{plain}/"),
            };
            results[i].push(wrk(plan, &script, &url)?);
        }
    }
    report(&results);
    println!("  load average after: {}", load_average());
    Ok(())
}

/// The machine's processor, as /proc/cpuinfo names it.
fn processor() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "processor unknown".to_string())
}

/// The 1-, 5- and 15-minute load averages: the machine may be shared.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn report(results: &[Vec<Measured>]) {
    println!("\n  {:<40} {:>12} {:>10}", "", "requests/s", "p99 ms");
    let mut rates = Vec::new();
    for (target, runs) in Target::ALL.iter().zip(results) {
        let rate = median(
            &mut runs
                .iter()
                .map(|m| m.requests_per_second)
                .collect::<Vec<_>>(),
        );
        let p99 = median(&mut runs.iter().map(|m| m.p99_ms).collect::<Vec<_>>());
        println!("  {:<40} {:>12.0} {:>10.2}", target.label(), rate, p99);
        rates.push(rate);
    }
    if let [keep_alive, close, https, moto, _] = rates[..] {
        if moto > 0.0 {
            println!(
                "  imagefs / moto: {:.0}x keep-alive, {:.0}x Connection: close, {:.0}x HTTPS",
                keep_alive / moto,
                close / moto,
                https / moto
            );
        }
    }
}

/// A self-signed certificate for 127.0.0.1, made with openssl.
fn certificate(dir: &Path) -> Fallible<(PathBuf, PathBuf)> {
    let certificate = dir.join("serve-cert.pem");
    let key = dir.join("serve-key.pem");
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&certificate)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(fail)?;
    if !made.success() {
        return Err("openssl could not make a certificate".into());
    }
    Ok((certificate, key))
}

/// `imagefs serve` on any port; returns it and its `127.0.0.1:PORT`.
fn start_imagefs(
    binary: &Path,
    store: &Path,
    extra: &[&std::ffi::OsStr],
) -> Fallible<(Process, String)> {
    let mut child = Command::new(binary)
        .args(["serve", "--listen", "127.0.0.1:0", "--store"])
        .arg(store)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(fail)?;
    let mut line = String::new();
    let stdout = child.stdout.take().ok_or("imagefs serve has no stdout")?;
    let process = Process(child);
    BufReader::new(stdout).read_line(&mut line).map_err(fail)?;
    let address = line
        .split_whitespace()
        .find_map(|w| {
            w.strip_prefix("http://")
                .or_else(|| w.strip_prefix("https://"))
        })
        .ok_or_else(|| format!("imagefs serve printed no address: {line:?}"))?
        .to_string();
    Ok((process, address))
}

/// `moto_server` on a free port, once it answers; returns it and its `127.0.0.1:PORT`.
fn start_moto(moto_server: &str) -> Fallible<(Process, String)> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(fail)?
        .port();
    let child = Command::new(moto_server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {moto_server}: {e}"))?;
    let process = Process(child);
    let address = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(&address).is_err() {
        if Instant::now() > deadline {
            return Err(format!("{moto_server} did not listen on {address}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    warm_up_moto(&address)?;
    Ok((process, address))
}

/// moto's version, asked of the Python beside `moto_server` (a virtualenv's), if any.
fn moto_version(moto_server: &str) -> String {
    let python = Path::new(moto_server).with_file_name("python3");
    let python = if moto_server.contains('/') && python.exists() {
        python
    } else {
        PathBuf::from("python3")
    };
    Command::new(python)
        .args(["-c", "import moto; print('moto', moto.__version__)"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "version unknown".to_string())
}

/// The wrk script's checks, shared by both servers: every answer must be a 200 that contains
/// `expected` and not `refused` (an error); the count of others is printed at the end.
fn checks(expected: &str, refused: &str) -> String {
    format!(
        r#"
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0 end
function response(status, headers, body)
  if status ~= 200 or not body:find("{expected}", 1, true) or body:find([==[{refused}]==], 1, true) then
    if bad == 0 then io.stderr:write("unexpected answer: " .. status .. " " .. body:sub(1, 300) .. "\n") end
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("bad") end
  io.write(string.format("bad answers: %d\n", total))
end
"#
    )
}

/// A wrk script replaying one signed DescribeImages to imagefs at `address` (signed now: the
/// server accepts a timestamp within five minutes).
fn imagefs_script(address: &str, key: &(String, String), close: bool) -> String {
    let body = format!(r#"{{"ImageIds":["{IMAGEFS_IMAGE}"]}}"#);
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let authorization = sign::Request {
        secret_id: &key.0,
        secret_key: &key.1,
        service: "cvm",
        host: address,
        action: "DescribeImages",
        content_type: "application/json",
        timestamp,
        payload: body.as_bytes(),
        sign_action: true,
    }
    .authorization();
    let connection = if close {
        r#"wrk.headers["Connection"] = "close""#
    } else {
        ""
    };
    format!(
        r#"wrk.method = "POST"
wrk.path = "/"
wrk.body = [==[{body}]==]
wrk.headers["Host"] = "{address}"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-TC-Action"] = "DescribeImages"
wrk.headers["X-TC-Version"] = "2017-03-12"
wrk.headers["X-TC-Region"] = "ap-guangzhou"
wrk.headers["X-TC-Timestamp"] = "{timestamp}"
wrk.headers["Authorization"] = [==[{authorization}]==]
{connection}
{}"#,
        checks(IMAGEFS_IMAGE, r#""Error""#)
    )
}

/// A wrk script sending imagefs an unsigned DescribeImages, answered with an AuthFailure.
fn refused_script() -> String {
    format!(
        r#"wrk.method = "POST"
wrk.path = "/"
wrk.body = [==[{{"ImageIds":["{IMAGEFS_IMAGE}"]}}]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-TC-Action"] = "DescribeImages"
{}"#,
        checks("AuthFailure", "ImageSet")
    )
}

/// A wrk script asking moto for one AMI.
fn moto_script() -> String {
    format!(
        r#"wrk.method = "POST"
wrk.path = "/"
wrk.body = "{MOTO_BODY}"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
wrk.headers["Authorization"] = "{MOTO_AUTHORIZATION}"
{}"#,
        checks(MOTO_IMAGE, "<Errors>")
    )
}

/// Asks moto once and waits for the answer: its first request in a region loads that region's
/// AMIs, which takes seconds, longer than wrk waits for an answer.
fn warm_up_moto(address: &str) -> Fallible<()> {
    let mut stream = TcpStream::connect(address).map_err(fail)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .map_err(fail)?;
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n\
         Authorization: {MOTO_AUTHORIZATION}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{MOTO_BODY}",
        MOTO_BODY.len()
    )
    .map_err(fail)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(fail)?;
    if answer.starts_with("HTTP/1.1 200") && answer.contains(MOTO_IMAGE) {
        Ok(())
    } else {
        Err(format!("moto's first answer is not the image: {answer}"))
    }
}

/// One wrk run of `script` against `url`.
fn wrk(plan: &Plan<'_>, script: &str, url: &str) -> Fallible<Measured> {
    let path = plan.dir.join("serve-bench.lua");
    std::fs::write(&path, script).map_err(fail)?;
    let out = Command::new("wrk")
        .arg("-t2")
        .arg(format!("-c{CONNECTIONS}"))
        .arg(format!("-d{}s", plan.seconds))
        .arg("--latency")
        .arg("-s")
        .arg(&path)
        .arg(url)
        .output()
        .map_err(fail)?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "wrk failed on {url}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(str::trim))
            .ok_or_else(|| format!("no `{prefix}` in wrk's output:\n{text}"))
    };
    let bad: u64 = field("bad answers:")?.parse().map_err(fail)?;
    if bad > 0 {
        return Err(format!(
            "{bad} wrong answers from {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    if let Ok(errors) = field("Socket errors:") {
        println!("  {url}: socket errors: {errors}");
    }
    let requests_per_second = field("Requests/sec:")?.parse().map_err(fail)?;
    let p99_ms = milliseconds(field("99%")?)?;
    Ok(Measured {
        requests_per_second,
        p99_ms,
    })
}

/// wrk's latency (`812.00us`, `1.23ms`, `2.00s`) in milliseconds.
fn milliseconds(text: &str) -> Fallible<f64> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .ok_or_else(|| format!("not a latency: {text}"))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(fail)?;
    match unit {
        "us" => Ok(value / 1000.0),
        "ms" => Ok(value),
        "s" => Ok(value * 1000.0),
        "m" => Ok(value * 60_000.0),
        _ => Err(format!("not a latency: {text}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_latencies_read_in_milliseconds() {
        assert_eq!(milliseconds("812.00us").ok(), Some(0.812));
        assert_eq!(milliseconds("1.25ms").ok(), Some(1.25));
        assert_eq!(milliseconds("2.00s").ok(), Some(2000.0));
        assert!(milliseconds("fast").is_err());
    }
}
