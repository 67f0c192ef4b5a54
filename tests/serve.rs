//! `imagefs serve`: the emulator over the CVM API, checked with raw signed requests and end to
//! end with the tencentcloud backend mounted against it (the same rules, through the API).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use common::*;
use imagefs::tencent::sign;
use serde_json::{json, Value};

/// `imagefs serve` on a scratch store (the harness starts it and stops it with the scratch).
struct Server {
    url: String,
}

fn serve(scratch: &Scratch) -> Server {
    Server {
        url: scratch.server_url(),
    }
}

/// Adds an account (if new) and returns a key pair for it.
fn account(scratch: &Scratch, id: &str) -> (String, String) {
    scratch.key_pair(id)
}

/// One signed API call; returns the `Response` object.
fn call(
    server: &Server,
    key: &(String, String),
    region: &str,
    action: &str,
    body: &Value,
    skew: i64,
) -> Value {
    let host = server.url.trim_start_matches("http://").to_string();
    let payload = body.to_string();
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64
        + skew;
    let auth = sign::Request {
        secret_id: &key.0,
        secret_key: &key.1,
        service: "cvm",
        host: &host,
        action,
        content_type: "application/json",
        timestamp,
        payload: payload.as_bytes(),
        sign_action: true,
    }
    .authorization();
    let answer: Value = ureq::post(&format!("{}/", server.url))
        .set("Content-Type", "application/json")
        .set("X-TC-Action", action)
        .set("X-TC-Version", "2017-03-12")
        .set("X-TC-Region", region)
        .set("X-TC-Timestamp", &timestamp.to_string())
        .set("Authorization", &auth)
        .send_string(&payload)
        .expect("HTTP 200")
        .into_json()
        .expect("JSON");
    assert!(answer["Response"]["RequestId"].is_string(), "{answer}");
    answer["Response"].clone()
}

fn code(response: &Value) -> &str {
    response["Error"]["Code"].as_str().unwrap_or("")
}

#[test]
fn requests_are_authenticated_like_the_cloud() {
    let scratch = Scratch::new();
    let key = account(&scratch, "100000000007");
    let server = serve(&scratch);
    let ok = call(
        &server,
        &key,
        "ap-guangzhou",
        "DescribeRegions",
        &json!({}),
        0,
    );
    assert_eq!(ok["TotalCount"], 18, "{ok}");
    let wrong = (key.0.clone(), "not-the-key".to_string());
    assert_eq!(
        code(&call(
            &server,
            &wrong,
            "ap-guangzhou",
            "DescribeRegions",
            &json!({}),
            0
        )),
        "AuthFailure.SignatureFailure"
    );
    let unknown = (
        "AKIDunknownunknownunknownunknown00".to_string(),
        key.1.clone(),
    );
    assert_eq!(
        code(&call(
            &server,
            &unknown,
            "ap-guangzhou",
            "DescribeRegions",
            &json!({}),
            0
        )),
        "AuthFailure.SecretIdNotFound"
    );
    assert_eq!(
        code(&call(
            &server,
            &key,
            "ap-guangzhou",
            "DescribeRegions",
            &json!({}),
            -600
        )),
        "AuthFailure.SignatureExpire"
    );
    // A timestamp at the edge of i64 is refused, not a crash.
    assert_eq!(
        code(&call(
            &server,
            &key,
            "ap-guangzhou",
            "DescribeRegions",
            &json!({}),
            i64::MIN / 2
        )),
        "AuthFailure.SignatureExpire"
    );
    assert_eq!(
        call(
            &server,
            &key,
            "ap-guangzhou",
            "DescribeRegions",
            &json!({}),
            0
        )["TotalCount"],
        18
    );
    assert_eq!(
        code(&call(
            &server,
            &key,
            "ap-guangzhou",
            "StealImages",
            &json!({}),
            0
        )),
        "InvalidAction"
    );
    assert_eq!(
        code(&call(
            &server,
            &key,
            "ap-mars",
            "DescribeImages",
            &json!({}),
            0
        )),
        "InvalidRegion.NotFound"
    );
    let both = json!({"ImageIds": ["img-9qabwvbn"], "Filters": [{"Name": "image-type", "Values": ["PUBLIC_IMAGE"]}]});
    assert_eq!(
        code(&call(
            &server,
            &key,
            "ap-guangzhou",
            "DescribeImages",
            &both,
            0
        )),
        "InvalidParameter.InvalidParameterCoexistImageIdsFilters"
    );
    assert_eq!(
        code(&call(
            &server,
            &key,
            "ap-guangzhou",
            "DescribeImages",
            &json!({"Limit": 101}),
            0
        )),
        "InvalidParameterValue.InvalidParameterValueLimit"
    );
    assert_eq!(
        code(&call(
            &server,
            &key,
            "ap-guangzhou",
            "DescribeImages",
            &json!({"Filters": [{"Name": "colour", "Values": ["red"]}]}),
            0
        )),
        "InvalidFilter"
    );

    // DescribeImages: defaults (20 of TotalCount), filters, paging, null optional fields.
    let page = call(
        &server,
        &key,
        "ap-guangzhou",
        "DescribeImages",
        &json!({"Filters": [{"Name": "image-type", "Values": ["PUBLIC_IMAGE"]}], "Limit": null}),
        0,
    );
    assert_eq!(page["ImageSet"].as_array().expect("set").len(), 20);
    assert!(page["TotalCount"].as_u64().expect("total") > 60);
    let one = call(
        &server,
        &key,
        "ap-guangzhou",
        "DescribeImages",
        &json!({"ImageIds": ["img-9qabwvbn"]}),
        0,
    );
    assert_eq!(one["TotalCount"], 1);
    assert_eq!(one["ImageSet"][0]["ImageName"], "CentOS 7.6 64位");
    let windows = call(
        &server,
        &key,
        "ap-guangzhou",
        "DescribeImages",
        &json!({"Filters": [{"Name": "platform", "Values": ["windows"]}], "Limit": 100}),
        0,
    );
    assert_eq!(windows["TotalCount"], 8);

    // A raw body that is not JSON.
    let host = server.url.trim_start_matches("http://").to_string();
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64;
    let body = b"{not json";
    let auth = sign::Request {
        secret_id: &key.0,
        secret_key: &key.1,
        service: "cvm",
        host: &host,
        action: "DescribeImages",
        content_type: "application/json",
        timestamp,
        payload: body,
        sign_action: false,
    }
    .authorization();
    let answer: Value = ureq::post(&format!("{}/", server.url))
        .set("Content-Type", "application/json")
        .set("X-TC-Action", "DescribeImages")
        .set("X-TC-Version", "2017-03-12")
        .set("X-TC-Region", "ap-guangzhou")
        .set("X-TC-Timestamp", &timestamp.to_string())
        .set("Authorization", &auth)
        .send_bytes(body)
        .expect("200")
        .into_json()
        .expect("json");
    assert_eq!(answer["Response"]["Error"]["Code"], "InvalidParameter");
}

#[test]
fn the_api_keeps_the_emulators_rules() {
    let scratch = Scratch::new();
    let owner = account(&scratch, "100000000001");
    let _friend = account(&scratch, "100000000002");
    let server = serve(&scratch);
    let gz = "ap-guangzhou";
    let run = call(
        &server,
        &owner,
        gz,
        "RunInstances",
        &json!({"ImageId": "img-9qabwvbn", "InstanceCount": 1, "Placement": {"Zone": "ap-guangzhou-3"}}),
        0,
    );
    let instance = run["InstanceIdSet"][0]
        .as_str()
        .expect("instance")
        .to_string();
    let made = call(
        &server,
        &owner,
        gz,
        "CreateImage",
        &json!({"InstanceId": instance, "ImageName": "api-image"}),
        0,
    );
    let image = made["ImageId"].as_str().expect("image").to_string();
    assert_eq!(
        code(&call(
            &server,
            &owner,
            gz,
            "CreateImage",
            &json!({"InstanceId": instance, "ImageName": "api-image"}),
            0
        )),
        "InvalidImageName.Duplicate"
    );
    assert_eq!(
        code(&call(
            &server,
            &owner,
            gz,
            "ModifyImageSharePermission",
            &json!({"ImageId": image, "AccountIds": ["100000000001"], "Permission": "SHARE"}),
            0
        )),
        "InvalidAccountIs.YourSelf"
    );
    call(
        &server,
        &owner,
        gz,
        "ModifyImageSharePermission",
        &json!({"ImageId": image, "AccountIds": ["100000000002"], "Permission": "SHARE"}),
        0,
    );
    let perms = call(
        &server,
        &owner,
        gz,
        "DescribeImageSharePermission",
        &json!({"ImageId": image}),
        0,
    );
    assert_eq!(perms["SharePermissionSet"][0]["AccountId"], "100000000002");
    assert_eq!(
        code(&call(
            &server,
            &owner,
            gz,
            "DeleteImages",
            &json!({"ImageIds": [image]}),
            0
        )),
        "InvalidImageId.InShared"
    );
    let copies = call(
        &server,
        &owner,
        gz,
        "SyncImages",
        &json!({"ImageIds": [image], "DestinationRegions": ["ap-shanghai"], "ImageSetRequired": true}),
        0,
    );
    assert_eq!(copies["ImageSet"][0]["Region"], "ap-shanghai");
    assert_eq!(
        code(&call(
            &server,
            &owner,
            gz,
            "SyncImages",
            &json!({"ImageIds": [image], "DestinationRegions": ["ap-singapore"]}),
            0
        )),
        "InvalidRegion.Unavailable"
    );
    // Imports read files under --import-dir only.
    std::fs::write(scratch.path().join("disk.raw"), vec![0u8; 1 << 20]).expect("disk");
    let import = |url: &str| json!({"ImageName": "imp", "ImageUrl": url, "OsType": "CentOS", "OsVersion": "7", "Architecture": "x86_64"});
    assert_eq!(
        code(&call(
            &server,
            &owner,
            gz,
            "ImportImage",
            &import("/etc/passwd"),
            0
        )),
        "InvalidParameter.InvalidParameterUrlError"
    );
    let imported = call(&server, &owner, gz, "ImportImage", &import("disk.raw"), 0);
    assert!(
        imported["ImageId"]
            .as_str()
            .expect("id")
            .starts_with("img-"),
        "{imported}"
    );
    // Nothing leads out of the import directory: `..`, symlinks, absolute paths.
    std::os::unix::fs::symlink("/etc/passwd", scratch.path().join("escape.raw")).expect("symlink");
    for url in [
        "../../../etc/passwd",
        "escape.raw",
        "/etc/passwd",
        "missing.raw",
    ] {
        let answer = call(&server, &owner, gz, "ImportImage", &import(url), 0);
        assert_eq!(
            code(&answer),
            "InvalidParameter.InvalidParameterUrlError",
            "{url}"
        );
        assert!(
            answer["Error"]["Message"]
                .as_str()
                .expect("message")
                .contains("no such file under the import directory"),
            "{url}: {answer}"
        );
    }
    // Several IDs: all of them or none.
    let keep = call(
        &server,
        &owner,
        gz,
        "CreateImage",
        &json!({"InstanceId": instance, "ImageName": "keep-me"}),
        0,
    )["ImageId"]
        .as_str()
        .expect("image")
        .to_string();
    let answer = call(
        &server,
        &owner,
        gz,
        "DeleteImages",
        &json!({"ImageIds": [keep, "img-zzzzzzzz"]}),
        0,
    );
    assert_eq!(code(&answer), "InvalidImageId.NotFound");
    let still = call(
        &server,
        &owner,
        gz,
        "DescribeImages",
        &json!({"ImageIds": [keep]}),
        0,
    );
    assert_eq!(still["TotalCount"], 1, "nothing was deleted");
    assert_eq!(
        code(&call(
            &server,
            &owner,
            gz,
            "SyncImages",
            &json!({"ImageIds": [image, keep], "DestinationRegions": ["ap-beijing"]}),
            0
        )),
        "InvalidParameterValue.LimitExceeded"
    );
}

#[test]
fn the_tencentcloud_backend_runs_against_serve() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let owner = account(&scratch, "100000000001");
    let friend = account(&scratch, "100000000002");
    let server = serve(&scratch);
    let mount = |name: &str, key: &(String, String)| -> std::path::PathBuf {
        let root = scratch.path().join(name);
        let out = Command::new(imagefs_bin())
            .args([
                "mount",
                root.to_str().expect("p"),
                "--backend",
                "tencentcloud",
                "--endpoint",
                &server.url,
            ])
            .env("TENCENTCLOUD_SECRET_ID", &key.0)
            .env("TENCENTCLOUD_SECRET_KEY", &key.1)
            .output()
            .expect("mount");
        assert!(out.status.success(), "{}", stderr(&out));
        root
    };
    struct Unmount(Vec<std::path::PathBuf>);
    impl Drop for Unmount {
        fn drop(&mut self) {
            for root in &self.0 {
                let _ = imagefs::mounts::force_unmount(root);
            }
        }
    }
    let mine = mount("owner", &owner);
    let theirs = mount("friend", &friend);
    let _unmount = Unmount(vec![mine.clone(), theirs.clone()]);
    let region = |root: &Path| root.join("regions/ap-guangzhou");

    assert_eq!(
        json(&mine.join("account.json"))["AccountId"],
        "100000000001"
    );
    assert_eq!(
        read(&region(&mine).join("public/img-9qabwvbn/state")),
        "NORMAL\n"
    );
    // The golden-image story through the API.
    let launch = region(&mine).join("public/img-487zeit5/launch");
    command(&launch, "1").expect("launch");
    let instance = read(&launch).trim().to_string();
    let create = region(&mine)
        .join("instances")
        .join(&instance)
        .join("create_image");
    command(&create, "web-golden").expect("create_image");
    let image = read(&create).trim().to_string();
    let dir = region(&mine).join("custom").join(&image);
    assert_eq!(json(&dir.join("metadata.json"))["ImageName"], "web-golden");
    assert_eq!(errno_of(command(&create, "web-golden")), libc::EEXIST);
    assert!(last_error_of(&mine).contains("InvalidImageName.Duplicate"));

    command(&dir.join("share"), "100000000002").expect("share");
    assert_eq!(read(&dir.join("share")), "100000000002\n");
    assert_eq!(
        errno_of(command(&dir.join("share"), "100000000001")),
        libc::EINVAL
    );
    let shared = region(&theirs).join("shared").join(&image);
    assert!(wait_for_content(
        &shared.join("state"),
        "NORMAL\n",
        std::time::Duration::from_secs(3)
    ));
    command(&shared.join("copy_to"), "ap-guangzhou").expect("copy into own images");
    assert_eq!(errno_of(std::fs::remove_dir(&dir)), libc::EBUSY);
    command(&dir.join("unshare"), "100000000002").expect("unshare");
    std::fs::remove_dir(&dir).expect("delete");
    assert!(!dir.exists());
}

fn last_error_of(root: &Path) -> String {
    read(&root.join("errors"))
        .lines()
        .last()
        .unwrap_or("")
        .to_string()
}

/// The official Python SDK (tencentcloud-sdk-python) drives a story against the server.
#[test]
fn the_official_python_sdk_runs_a_story() {
    if !have(
        "python3",
        &["-c", "import tencentcloud.cvm.v20170312.cvm_client"],
        "pip install tencentcloud-sdk-python-cvm",
    ) {
        return;
    }
    let scratch = Scratch::new();
    let owner = account(&scratch, "100000000001");
    let friend = account(&scratch, "100000000002");
    let server = serve(&scratch);
    let out = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/story.py"))
        .args([
            &server.url,
            "100000000001",
            &owner.0,
            &owner.1,
            "100000000002",
            &friend.0,
            &friend.1,
        ])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).ends_with("story complete\n"),
        "{}",
        stdout(&out)
    );
}

/// `imagefs serve --tls-cert --tls-key` with a fresh self-signed certificate for 127.0.0.1
/// (made with the openssl command); stopped on drop.
struct TlsServer {
    child: std::process::Child,
    /// `127.0.0.1:PORT`
    address: String,
    certificate: std::path::PathBuf,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a tool the test needs is here; in CI its absence is a failure.
fn have(program: &str, probe: &[&str], install: &str) -> bool {
    let found = Command::new(program)
        .args(probe)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("{program} is missing in CI; .ci/run installs it ({install})");
        }
        eprintln!("skipping: {install} to run this test");
    }
    found
}

fn serve_tls(scratch: &Scratch) -> TlsServer {
    let certificate = scratch.path().join("cert.pem");
    let key = scratch.path().join("key.pem");
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&certificate)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl: {}", stderr(&out));
    let (child, url) = start_server(
        &scratch.store(),
        &[
            "--tls-cert".as_ref(),
            certificate.as_os_str(),
            "--tls-key".as_ref(),
            key.as_os_str(),
        ],
    );
    let address = url
        .strip_prefix("https://")
        .unwrap_or_else(|| panic!("not https: {url}"))
        .to_string();
    TlsServer {
        child,
        address,
        certificate,
    }
}

/// The official Python SDK at its defaults (HTTPS, certificates verified) runs the story
/// against `imagefs serve --tls-cert`.
#[test]
fn the_python_sdk_runs_the_story_over_https() {
    if !have(
        "python3",
        &["-c", "import tencentcloud.cvm.v20170312.cvm_client"],
        "pip install tencentcloud-sdk-python-cvm",
    ) || !have("openssl", &["version"], "apt-get install openssl")
    {
        return;
    }
    let scratch = Scratch::new();
    let owner = account(&scratch, "100000000001");
    let friend = account(&scratch, "100000000002");
    let server = serve_tls(&scratch);
    let out = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/story.py"))
        .arg(format!("https://{}", server.address))
        .args(["100000000001", &owner.0, &owner.1])
        .args(["100000000002", &friend.0, &friend.1])
        .env("REQUESTS_CA_BUNDLE", &server.certificate)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3");
    assert!(
        out.status.success() && stdout(&out).ends_with("story complete\n"),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
}

/// tccli, the official CLI, which speaks only HTTPS, against the emulator: a description, a
/// change and a refusal with the API's code.
#[test]
fn tccli_runs_against_the_emulator_over_https() {
    if !have("tccli", &["--version"], "pip install tccli")
        || !have("openssl", &["version"], "apt-get install openssl")
    {
        return;
    }
    let scratch = Scratch::new();
    let (id, key) = account(&scratch, "100000000001");
    let server = serve_tls(&scratch);
    let home = scratch.path().join("tccli-home");
    std::fs::create_dir_all(&home).expect("home");
    // tccli verifies HTTPS against certifi's bundle and has no option for another: a
    // `certifi` first on PYTHONPATH names the server's certificate instead (users append the
    // certificate to the bundle `python3 -m certifi` names).
    let shim = scratch.path().join("certifi-shim/certifi");
    std::fs::create_dir_all(&shim).expect("shim");
    std::fs::write(
        shim.join("__init__.py"),
        format!(
            "def where():\n    return {:?}\n\ndef contents():\n    return open(where()).read()\n",
            server.certificate.display().to_string()
        ),
    )
    .expect("shim");
    let tccli = |args: &[&str]| {
        Command::new("tccli")
            .args(["cvm"])
            .args(args)
            .args(["--region", "ap-guangzhou", "--endpoint", &server.address])
            .args(["--secretId", &id, "--secretKey", &key])
            .env("HOME", &home)
            .env("PYTHONPATH", scratch.path().join("certifi-shim"))
            .output()
            .expect("tccli")
    };
    let out = tccli(&["DescribeImages", "--ImageIds", r#"["img-9qabwvbn"]"#]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let described: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(described["ImageSet"][0]["ImageName"], "CentOS 7.6 64位");
    assert_eq!(described["TotalCount"], 1);

    let out = tccli(&[
        "RunInstances",
        "--ImageId",
        "img-9qabwvbn",
        "--InstanceCount",
        "1",
        "--Placement",
        r#"{"Zone": "ap-guangzhou-3"}"#,
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let launched: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let instance = launched["InstanceIdSet"][0]
        .as_str()
        .expect("an instance")
        .to_string();
    let out = tccli(&[
        "DescribeInstances",
        "--InstanceIds",
        &format!(r#"["{instance}"]"#),
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("\"RUNNING\""), "{}", stdout(&out));

    // A public image cannot be deleted: the API's code reaches tccli's user.
    let out = tccli(&["DeleteImages", "--ImageIds", r#"["img-9qabwvbn"]"#]);
    assert!(!out.status.success());
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(said.contains("code:"), "{said}");
}

/// Clients that stall in the middle of a request hold a connection for a while, never one of
/// the server's workers: with more stalled clients than workers, a request still gets its
/// answer at once.
#[test]
fn stalled_clients_do_not_starve_the_server() {
    use std::io::Write;
    let scratch = Scratch::new();
    let owner = account(&scratch, "100000000001");
    let server = serve(&scratch);
    let host = server.url.trim_start_matches("http://").to_string();
    let stalled: Vec<std::net::TcpStream> = (0..24)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(&host).expect("connect");
            s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n{\"Im")
                .expect("send a part");
            s
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (done, finished) = std::sync::mpsc::channel();
    let url = server.url.clone();
    std::thread::spawn(move || {
        let server = Server { url };
        let answer = call(
            &server,
            &owner,
            "ap-guangzhou",
            "DescribeImages",
            &json!({"ImageIds": ["img-9qabwvbn"]}),
            0,
        );
        let _ = done.send(answer);
    });
    let answer = finished
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("an answer while 24 clients stall");
    assert_eq!(answer["TotalCount"], 1, "{answer}");
    drop(stalled);
}
