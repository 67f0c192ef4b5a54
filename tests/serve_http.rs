//! `imagefs serve`'s HTTP/1.1 as clients meet it, spoken raw over `TcpStream`: chunked bodies,
//! keep-alive, the deadlines for a request head and a TLS handshake, the size limits (413,
//! 431), a thousand connections at once, a graceful stop on SIGTERM, and the log file's mode.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use imagefs::tencent::sign;
use serde_json::{json, Value};

/// The head deadline the server promises (see `src/serve/http.rs`).
const HEAD_DEADLINE: Duration = Duration::from_secs(2);

/// Slack for a busy machine on top of a deadline.
const SLACK: Duration = Duration::from_secs(3);

/// An `imagefs serve` of its own (stopped on drop), with a key of an account of its store.
struct Server {
    child: Child,
    /// `127.0.0.1:PORT`
    address: String,
    key: (String, String),
    _scratch: Scratch,
}

impl Server {
    fn start(extra: &[&std::ffi::OsStr]) -> Server {
        let scratch = Scratch::new();
        let key = scratch.key_pair("100000000001");
        let (child, url) = start_server(&scratch.store(), extra);
        let address = url
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .to_string();
        Server {
            child,
            address,
            key,
            _scratch: scratch,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(&self.address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .expect("timeout");
        stream
    }

    /// The head (ending in the blank line) of a signed call of `action` with `body`, with
    /// `framing` as its last header (`Content-Length: N` or `Transfer-Encoding: chunked`).
    fn signed_head(&self, action: &str, body: &str, framing: &str) -> String {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("time")
            .as_secs() as i64;
        let authorization = sign::Request {
            secret_id: &self.key.0,
            secret_key: &self.key.1,
            service: "cvm",
            host: &self.address,
            action,
            content_type: "application/json",
            timestamp,
            payload: body.as_bytes(),
            sign_action: true,
        }
        .authorization();
        format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             X-TC-Action: {action}\r\nX-TC-Version: 2017-03-12\r\nX-TC-Region: ap-guangzhou\r\n\
             X-TC-Timestamp: {timestamp}\r\nAuthorization: {authorization}\r\n{framing}\r\n\r\n",
            self.address
        )
    }

    /// A whole signed request with a `Content-Length`.
    fn signed_request(&self, action: &str, body: &str) -> String {
        let head = self.signed_head(action, body, &format!("Content-Length: {}", body.len()));
        format!("{head}{body}")
    }

    /// DescribeRegions through ureq (a client of its own, a new connection).
    fn describe_regions(&self) -> Value {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("time")
            .as_secs() as i64;
        let authorization = sign::Request {
            secret_id: &self.key.0,
            secret_key: &self.key.1,
            service: "cvm",
            host: &self.address,
            action: "DescribeRegions",
            content_type: "application/json",
            timestamp,
            payload: b"{}",
            sign_action: true,
        }
        .authorization();
        ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(15))
            .build()
            .post(&self.url())
            .set("Content-Type", "application/json")
            .set("X-TC-Action", "DescribeRegions")
            .set("X-TC-Version", "2017-03-12")
            .set("X-TC-Region", "ap-guangzhou")
            .set("X-TC-Timestamp", &timestamp.to_string())
            .set("Authorization", &authorization)
            .send_string("{}")
            .expect("HTTP 200")
            .into_json()
            .expect("JSON")
    }

    /// Waits (up to 40 s) for the server to exit.
    fn wait_for_exit(&mut self) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(40);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP answer as read off the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// Header lines, lowercased.
    headers: Vec<String>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}:");
        self.headers
            .iter()
            .find_map(|h| h.strip_prefix(&prefix))
            .map(str::trim)
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    /// The `Response` of a 200 answer.
    fn api(&self) -> Value {
        assert_eq!(self.status, 200, "{self:?}");
        assert_eq!(self.header("content-type"), Some("application/json"));
        self.json()["Response"].clone()
    }
}

/// Reads one answer (framed by its `Content-Length`, which the server always sends).
fn read_answer(reader: &mut impl BufRead) -> std::io::Result<Answer> {
    let mut status_line = String::new();
    if reader.read_line(&mut status_line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a status line: {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end().to_string();
        if line.is_empty() {
            break;
        }
        headers.push(line.to_lowercase());
    }
    let mut answer = Answer {
        status,
        headers,
        body: Vec::new(),
    };
    let length: usize = answer
        .header("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    answer.body = vec![0; length];
    reader.read_exact(&mut answer.body)?;
    Ok(answer)
}

/// Whether the server closed `stream`: a read sees the end (or a reset) rather than waiting.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    stream.set_nonblocking(true).expect("nonblocking");
    let mut byte = [0u8; 1];
    let closed = match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    };
    stream.set_nonblocking(false).expect("blocking");
    closed
}

/// Raises this process's open-file limit to its hard limit and returns it.
fn raise_file_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write only the struct passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max.min(1 << 20);
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}

#[test]
fn a_chunked_request_is_answered() {
    let server = Server::start(&[]);
    let body = "{}";
    let mut stream = server.connect();
    let head = server.signed_head("DescribeRegions", body, "Transfer-Encoding: chunked");
    // The body in two chunks, then the last (empty) one.
    write!(stream, "{head}1\r\n{{\r\n1\r\n}}\r\n0\r\n\r\n").expect("send");
    let answer = read_answer(&mut BufReader::new(stream)).expect("an answer");
    let response = answer.api();
    assert_eq!(response["TotalCount"], 18, "{response}");
}

#[test]
fn keep_alive_serves_two_requests_on_one_connection() {
    let server = Server::start(&[]);
    let stream = server.connect();
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    writer
        .write_all(server.signed_request("DescribeRegions", "{}").as_bytes())
        .expect("first");
    let first = read_answer(&mut reader).expect("first answer");
    assert_eq!(first.api()["TotalCount"], 18);
    assert_ne!(first.header("connection"), Some("close"), "{first:?}");
    let body = json!({"ImageIds": ["img-9qabwvbn"]}).to_string();
    writer
        .write_all(server.signed_request("DescribeImages", &body).as_bytes())
        .expect("second, on the same connection");
    let second = read_answer(&mut reader).expect("second answer");
    let response = second.api();
    assert_eq!(response["TotalCount"], 1, "{response}");
}

#[test]
fn stalled_clients_are_closed_after_the_head_deadline_and_hold_no_one_up() {
    let server = Server::start(&[]);
    // 20 clients that trickle header lines, a line every 200 ms, and never end the head.
    let mut stalled: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut stream = server.connect();
            stream
                .write_all(b"POST / HTTP/1.1\r\nHost: x\r\n")
                .expect("partial head");
            stream
        })
        .collect();
    let opened = Instant::now();
    let trickle = thread::spawn(move || {
        let mut closed_after = vec![None; stalled.len()];
        while opened.elapsed() < HEAD_DEADLINE + SLACK + SLACK {
            for (stream, closed) in stalled.iter_mut().zip(closed_after.iter_mut()) {
                if closed.is_none()
                    && (closed_by_server(stream) || stream.write_all(b"X-Slow: 1\r\n").is_err())
                {
                    *closed = Some(opened.elapsed());
                }
            }
            if closed_after.iter().all(Option::is_some) {
                break;
            }
            thread::sleep(Duration::from_millis(200));
        }
        closed_after
    });
    // Meanwhile another client is answered at once.
    let asked = Instant::now();
    assert_eq!(server.describe_regions()["Response"]["TotalCount"], 18);
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "answered only after {:?}",
        asked.elapsed()
    );
    let closed_after = trickle.join().expect("trickle");
    for (i, closed) in closed_after.iter().enumerate() {
        let closed = closed.unwrap_or_else(|| panic!("stalled client {i} is still open"));
        assert!(
            closed <= HEAD_DEADLINE + SLACK,
            "stalled client {i} closed only after {closed:?}"
        );
        assert!(
            closed >= HEAD_DEADLINE - Duration::from_millis(500),
            "stalled client {i} closed already after {closed:?}"
        );
    }
}

#[test]
fn a_body_over_1_mib_gets_413() {
    let server = Server::start(&[]);
    let two_mib = 2 << 20;
    // Declared: refused from the head alone, before any of the body is sent.
    let mut stream = server.connect();
    let head = server.signed_head("DescribeRegions", "", &format!("Content-Length: {two_mib}"));
    stream.write_all(head.as_bytes()).expect("head");
    let answer = read_answer(&mut BufReader::new(stream)).expect("an answer");
    assert_eq!(answer.status, 413, "{answer:?}");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(
        answer.json()["Response"]["Error"]["Code"],
        "InvalidParameter"
    );

    // Chunked, so only counting tells: refused once past 1 MiB.
    let stream = server.connect();
    let mut writer = stream.try_clone().expect("clone");
    let head = server.signed_head("DescribeRegions", "", "Transfer-Encoding: chunked");
    let sender = thread::spawn(move || {
        let chunk = vec![b' '; 64 * 1024];
        let _ = writer.write_all(head.as_bytes());
        for _ in 0..two_mib / chunk.len() {
            let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            if writer.write_all(&framed).is_err() {
                return;
            }
        }
        let _ = writer.write_all(b"0\r\n\r\n");
    });
    let answer = read_answer(&mut BufReader::new(stream)).expect("an answer");
    assert_eq!(answer.status, 413, "{answer:?}");
    let _ = sender.join();
}

#[test]
fn a_head_over_64_kib_gets_431() {
    let server = Server::start(&[]);
    let stream = server.connect();
    let mut writer = stream.try_clone().expect("clone");
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nX-Padding: {}\r\nContent-Length: 0\r\n\r\n",
        server.address,
        "a".repeat(70 * 1024)
    );
    // Sent aside: the server answers before it has read it all, and may reset the rest.
    let sender = thread::spawn(move || {
        let _ = writer.write_all(head.as_bytes());
    });
    let answer = read_answer(&mut BufReader::new(stream)).expect("an answer");
    assert_eq!(answer.status, 431, "{answer:?}");
    let _ = sender.join();
}

#[test]
fn eleven_hundred_connections_at_once_and_still_answered() {
    let limit = raise_file_limit();
    assert!(
        limit >= 1200,
        "this test needs 1,200 open files, the limit is {limit}"
    );
    let server = Server::start(&[]);
    let open: Vec<TcpStream> = (0..1100)
        .map(|i| {
            TcpStream::connect(&server.address)
                .unwrap_or_else(|e| panic!("connection {i} refused: {e}"))
        })
        .collect();
    // The last one opened is served (not reset), and so is a client of its own.
    let mut last = open
        .last()
        .expect("connections")
        .try_clone()
        .expect("clone");
    last.set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    last.write_all(server.signed_request("DescribeRegions", "{}").as_bytes())
        .expect("send on the last connection");
    let answer = read_answer(&mut BufReader::new(last)).expect("an answer on the last");
    assert_eq!(answer.api()["TotalCount"], 18);
    let asked = Instant::now();
    assert_eq!(server.describe_regions()["Response"]["TotalCount"], 18);
    assert!(
        asked.elapsed() < HEAD_DEADLINE + SLACK,
        "answered only after {:?}",
        asked.elapsed()
    );
    drop(open);
}

#[test]
fn sigterm_lets_the_request_in_flight_finish() {
    let mut server = Server::start(&[]);
    let body = json!({
        "ImageId": "img-9qabwvbn",
        "InstanceCount": 1,
        "Placement": {"Zone": "ap-guangzhou-3"},
    })
    .to_string();
    let mut stream = server.connect();
    let request = server.signed_request("RunInstances", &body);
    let (first, rest) = request.split_at(request.len() - 10);
    stream.write_all(first.as_bytes()).expect("most of it");
    thread::sleep(Duration::from_millis(300));
    // SAFETY: kill with a pid this test spawned and has not reaped.
    unsafe {
        libc::kill(server.child.id() as i32, libc::SIGTERM);
    }
    // The server stops accepting at once...
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(&server.address).is_ok() {
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        thread::sleep(Duration::from_millis(50));
    }
    // ...but answers the request it was reading, then closes and exits 0.
    stream.write_all(rest.as_bytes()).expect("the rest");
    let mut reader = BufReader::new(stream);
    let answer = read_answer(&mut reader).expect("the answer after SIGTERM");
    let response = answer.api();
    assert_eq!(
        response["InstanceIdSet"].as_array().map(Vec::len),
        Some(1),
        "{response}"
    );
    assert!(
        read_answer(&mut reader).is_err(),
        "the connection stays open"
    );
    let status = server.wait_for_exit().expect("the server did not exit");
    assert!(status.success(), "{status}");
}

#[test]
fn the_tls_handshake_has_a_deadline() {
    let scratch = Scratch::new();
    let certificate = scratch.path().join("cert.pem");
    let key = scratch.path().join("key.pem");
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&certificate)
        .output()
        .expect("openssl (install it: apt-get install openssl)");
    assert!(made.status.success(), "openssl: {}", stderr(&made));
    let server = Server::start(&[
        "--tls-cert".as_ref(),
        certificate.as_os_str(),
        "--tls-key".as_ref(),
        key.as_os_str(),
    ]);
    // A client that connects and never says hello is closed.
    let mut silent = server.connect();
    let opened = Instant::now();
    let mut byte = [0u8; 1];
    let read = silent.read(&mut byte);
    let waited = opened.elapsed();
    assert!(
        waited < Duration::from_secs(5) + SLACK,
        "closed only after {waited:?} ({read:?})"
    );
    assert!(!matches!(read, Ok(n) if n > 0), "{read:?}");
    silent.shutdown(Shutdown::Both).ok();
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("log file")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn log_files_are_created_for_their_owner_only() {
    let scratch = Scratch::new();
    let log = scratch.path().join("serve.log");
    let _server = Server::start(&["--log-file".as_ref(), log.as_os_str()]);
    assert_eq!(mode(&log), 0o600);

    // An existing log keeps its mode.
    let kept = scratch.path().join("kept.log");
    std::fs::write(&kept, "").expect("log");
    std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let _other = Server::start(&["--log-file".as_ref(), kept.as_os_str()]);
    assert_eq!(mode(&kept), 0o640);

    if fuse_available() {
        let mount_log = scratch.path().join("mount.log");
        let path = mount_log.to_string_lossy().into_owned();
        let _mount = scratch.mount_with(None, &["--log-file", &path]);
        assert_eq!(mode(&mount_log), 0o600);
    }
}
