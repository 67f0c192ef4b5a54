//! The official clients against `imagefs serve`, each at its defaults but for the endpoint: the
//! Python SDK (tencentcloud-sdk-python: POST and GET, TC3 and both v1 signature methods), the
//! Node.js SDK (tencentcloud-sdk-nodejs-cvm, pinned in tests/sdk/node) and tccli, over HTTP
//! and HTTPS, each through a story; and temporary credentials, as CI systems use them.
//! `.ci/run` installs every client; in CI (`CI` set) a missing one fails its test.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::Value;

const OWNER: &str = "100000000001";
const FRIEND: &str = "100000000002";

/// How a client sends and signs its requests.
#[derive(Debug, Clone, Copy)]
struct Mode {
    request_method: &'static str,
    sign_method: &'static str,
}

const POST_TC3: Mode = Mode {
    request_method: "POST",
    sign_method: "TC3-HMAC-SHA256",
};
const GET_TC3: Mode = Mode {
    request_method: "GET",
    sign_method: "TC3-HMAC-SHA256",
};
const POST_HMAC_SHA1: Mode = Mode {
    request_method: "POST",
    sign_method: "HmacSHA1",
};
const GET_HMAC_SHA1: Mode = Mode {
    request_method: "GET",
    sign_method: "HmacSHA1",
};
const POST_HMAC_SHA256: Mode = Mode {
    request_method: "POST",
    sign_method: "HmacSHA256",
};
const GET_HMAC_SHA256: Mode = Mode {
    request_method: "GET",
    sign_method: "HmacSHA256",
};

fn have_node_sdk() -> bool {
    let package = sdk_dir().join("node/node_modules/tencentcloud-sdk-nodejs-cvm");
    have(
        "node",
        &[
            "-e",
            "require(process.argv[1])",
            package.to_str().expect("a UTF-8 path"),
        ],
        "npm ci --prefix tests/sdk/node",
    )
}

/// `imagefs serve --tls-cert --tls-key` with a fresh self-signed certificate for 127.0.0.1
/// (made with the openssl command); stopped on drop.
struct TlsServer {
    child: std::process::Child,
    /// `127.0.0.1:PORT`
    address: String,
    certificate: PathBuf,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

/// Temporary credentials for `account`: (TmpSecretId, TmpSecretKey, Token, ExpiredTime).
fn temporary_credentials(
    scratch: &Scratch,
    account: &str,
    ttl: u64,
) -> (String, String, String, u64) {
    let store = scratch.store().to_string_lossy().into_owned();
    let out = run(
        imagefs_bin(),
        &[
            "accounts",
            "token",
            account,
            "--ttl",
            &ttl.to_string(),
            "--store",
            &store,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let get = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {text}"))
            .to_string()
    };
    let expires = get("ExpiredTime=")
        .parse()
        .expect("ExpiredTime is a number");
    (
        get("TmpSecretId="),
        get("TmpSecretKey="),
        get("Token="),
        expires,
    )
}

fn revoke(scratch: &Scratch, secret_id: &str) -> Output {
    let store = scratch.store().to_string_lossy().into_owned();
    run(
        imagefs_bin(),
        &["accounts", "revoke", secret_id, "--store", &store],
    )
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Sdk {
    Python,
    Node,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Transport {
    Http,
    Https,
}

/// Runs an SDK's story (tests/sdk/story.py, tests/sdk/node/story.js) against a fresh server,
/// the owner with temporary credentials if `temporary_owner`.
fn story(sdk: Sdk, transport: Transport, mode: Mode, temporary_owner: bool) {
    let available = match sdk {
        Sdk::Python => have_python_sdk(),
        Sdk::Node => have_node_sdk(),
    };
    if !available
        || (transport == Transport::Https
            && !have("openssl", &["version"], "apt-get install openssl"))
    {
        return;
    }
    let scratch = Scratch::new();
    let mut owner = scratch.key_pair(OWNER);
    let friend = scratch.key_pair(FRIEND);
    let mut token = String::new();
    if temporary_owner {
        let (id, key, tmp_token, _) = temporary_credentials(&scratch, OWNER, 600);
        owner = (id, key);
        token = tmp_token;
    }
    let tls = (transport == Transport::Https).then(|| serve_tls(&scratch));
    let url = match &tls {
        Some(server) => format!("https://{}", server.address),
        None => scratch.server_url(),
    };
    let mut command = match sdk {
        Sdk::Python => {
            let mut c = Command::new("python3");
            c.arg(sdk_dir().join("story.py"))
                .env("PYTHONDONTWRITEBYTECODE", "1");
            c
        }
        Sdk::Node => {
            let mut c = Command::new("node");
            c.arg(sdk_dir().join("node/story.js"));
            c
        }
    };
    if let Some(server) = &tls {
        // Each SDK verifies the server against the certificate it is given.
        let variable = match sdk {
            Sdk::Python => "REQUESTS_CA_BUNDLE",
            Sdk::Node => "NODE_EXTRA_CA_CERTS",
        };
        command.env(variable, &server.certificate);
    }
    let out = command
        .arg(&url)
        .args([OWNER, &owner.0, &owner.1, FRIEND, &friend.0, &friend.1])
        .env("STORY_REQ_METHOD", mode.request_method)
        .env("STORY_SIGN_METHOD", mode.sign_method)
        .env("STORY_OWNER_TOKEN", &token)
        // The Node.js SDK sends every request through $http_proxy, whatever the host.
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .output()
        .expect("the SDK's interpreter");
    assert!(
        out.status.success() && stdout(&out).ends_with("story complete\n"),
        "{sdk:?} {transport:?} {mode:?}\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn the_python_sdk_runs_the_story() {
    story(Sdk::Python, Transport::Http, POST_TC3, false);
}

/// At its defaults (HTTPS, certificates verified) against `imagefs serve --tls-cert`.
#[test]
fn the_python_sdk_runs_the_story_over_https() {
    story(Sdk::Python, Transport::Https, POST_TC3, false);
}

/// `HttpProfile(reqMethod="GET")`: the members flattened into the query, read as their types
/// (`InstanceCount=3` launches three).
#[test]
fn the_python_sdk_runs_the_story_over_get() {
    story(Sdk::Python, Transport::Http, GET_TC3, false);
}

/// `ClientProfile(signMethod="HmacSHA1")`: a form body, signed the older way.
#[test]
fn the_python_sdk_runs_the_story_signed_with_hmac_sha1() {
    story(Sdk::Python, Transport::Http, POST_HMAC_SHA1, false);
}

#[test]
fn the_python_sdk_runs_the_story_signed_with_hmac_sha256_over_get() {
    story(Sdk::Python, Transport::Https, GET_HMAC_SHA256, false);
}

/// The Node.js SDK signs the host without its port and names the service `127`.
#[test]
fn the_node_sdk_runs_the_story() {
    story(Sdk::Node, Transport::Http, POST_TC3, false);
}

#[test]
fn the_node_sdk_runs_the_story_over_https() {
    story(Sdk::Node, Transport::Https, POST_TC3, false);
}

/// Over GET, the owner with temporary credentials (`X-TC-Token`).
#[test]
fn the_node_sdk_runs_the_story_over_get_with_temporary_credentials() {
    story(Sdk::Node, Transport::Http, GET_TC3, true);
}

#[test]
fn the_node_sdk_runs_the_story_signed_the_older_ways() {
    story(Sdk::Node, Transport::Http, POST_HMAC_SHA256, false);
    story(Sdk::Node, Transport::Https, GET_HMAC_SHA1, false);
}

/// One call through the Python SDK (tests/sdk/call.py): `ok ANSWER` or `error CODE MESSAGE`.
fn call(url: &str, key: (&str, &str, &str), mode: Mode, action: &str, params: &str) -> String {
    let out = Command::new("python3")
        .arg(sdk_dir().join("call.py"))
        .args([
            url,
            key.0,
            key.1,
            key.2,
            mode.sign_method,
            mode.request_method,
        ])
        .args([action, params])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

fn refused_with(said: &str, code: &str) {
    assert!(
        said.starts_with(&format!("error {code} ")),
        "expected {code}: {said}"
    );
}

/// The Python SDK sends what it is given: a member of the wrong type in a JSON body is
/// refused naming it, as the cloud refuses it; in a GET's query every value is text, read as
/// its member's type, so `"3"` launches three and `"three"` is refused.
#[test]
fn the_python_sdk_is_refused_members_of_the_wrong_type() {
    if !have_python_sdk() {
        return;
    }
    let scratch = Scratch::new();
    let (id, secret) = scratch.key_pair(OWNER);
    let url = scratch.server_url();
    let key = (id.as_str(), secret.as_str(), "");
    let run = |count: &str| {
        format!(
            r#"{{"ImageId": "img-9qabwvbn", "InstanceCount": {count}, "Placement": {{"Zone": "ap-guangzhou-3"}}}}"#
        )
    };
    let said = call(&url, key, POST_TC3, "RunInstances", &run(r#""3""#));
    refused_with(&said, "InvalidParameter");
    assert!(said.contains("`InstanceCount`"), "{said}");
    let said = call(&url, key, GET_TC3, "RunInstances", &run(r#""3""#));
    assert!(said.starts_with("ok "), "{said}");
    let answer: Value = serde_json::from_str(&said[3..]).expect("JSON");
    assert_eq!(
        answer["InstanceIdSet"].as_array().map(Vec::len),
        Some(3),
        "{said}"
    );
    let said = call(&url, key, GET_HMAC_SHA1, "RunInstances", &run(r#""three""#));
    refused_with(&said, "InvalidParameter");
    assert!(said.contains("`InstanceCount`"), "{said}");
    let said = call(&url, key, POST_TC3, "DescribeImages", r#"{"Limit": "5"}"#);
    refused_with(&said, "InvalidParameter");
    assert!(said.contains("`Limit`"), "{said}");
    let said = call(
        &url,
        key,
        POST_TC3,
        "RunInstances",
        r#"{"ImageId": "img-9qabwvbn", "Placement": {"Zone": "ap-guangzhou-3"}, "LaunchTemplate": {"LaunchTemplateId": "lt-1"}}"#,
    );
    refused_with(&said, "UnsupportedOperation");
    assert!(said.contains("`LaunchTemplate`"), "{said}");
    // Sharing a public image: the code ModifyImageSharePermission lists for it.
    let said = call(
        &url,
        key,
        POST_TC3,
        "ModifyImageSharePermission",
        r#"{"ImageId": "img-9qabwvbn", "AccountIds": ["100000000002"], "Permission": "SHARE"}"#,
    );
    refused_with(&said, "InvalidParameterValue.InvalidImageId");
}

/// `imagefs accounts token` makes temporary credentials: requests carry the token (as
/// `X-TC-Token` or the `Token` parameter) and are refused once it expires, when it does not
/// match, or once the pair is revoked (`imagefs accounts revoke`, which ends permanent pairs
/// too).
#[test]
fn temporary_credentials_work_until_they_expire_or_are_revoked() {
    if !have_python_sdk() {
        return;
    }
    let scratch = Scratch::new();
    let permanent = scratch.key_pair(OWNER);
    let url = scratch.server_url();
    let short = temporary_credentials(&scratch, OWNER, 1);
    let (id, key, token, _) = temporary_credentials(&scratch, OWNER, 600);
    let describe = |key: (&str, &str, &str), mode: Mode| {
        call(
            &url,
            key,
            mode,
            "DescribeImages",
            r#"{"ImageIds": ["img-9qabwvbn"]}"#,
        )
    };
    for mode in [POST_TC3, GET_TC3, POST_HMAC_SHA1, GET_HMAC_SHA256] {
        let said = describe((&id, &key, &token), mode);
        assert!(said.starts_with("ok "), "{mode:?}: {said}");
        let answer: Value = serde_json::from_str(&said[3..]).expect("JSON");
        assert_eq!(answer["TotalCount"], 1, "{mode:?}");
    }
    if have("tccli", &["--version"], "pip install tccli") {
        let home = scratch.path().join("tccli-home");
        std::fs::create_dir_all(&home).expect("home");
        let tccli = |token: &str| {
            Command::new("tccli")
                .args(["cvm", "DescribeRegions", "--region", "ap-guangzhou"])
                .args(["--endpoint", &url, "--secretId", &id, "--secretKey", &key])
                .args(["--token", token])
                .env("HOME", &home)
                .output()
                .expect("tccli")
        };
        let out = tccli(&token);
        assert!(out.status.success(), "{}", stderr(&out));
        let said = stderr(&tccli("not-the-token"));
        assert!(said.contains("code:AuthFailure.TokenFailure"), "{said}");
    }
    let mismatched = format!("{token}x");
    for mode in [POST_TC3, POST_HMAC_SHA256] {
        refused_with(
            &describe((&id, &key, &mismatched), mode),
            "AuthFailure.TokenFailure",
        );
    }
    refused_with(
        &describe((&id, &key, ""), POST_TC3),
        "AuthFailure.TokenFailure",
    );
    refused_with(
        &describe((&permanent.0, &permanent.1, &token), POST_TC3),
        "AuthFailure.TokenFailure",
    );

    let out = revoke(&scratch, &id);
    assert!(out.status.success(), "{}", stderr(&out));
    refused_with(
        &describe((&id, &key, &token), POST_TC3),
        "AuthFailure.SecretIdNotFound",
    );
    let said = describe((&permanent.0, &permanent.1, ""), GET_HMAC_SHA1);
    assert!(said.starts_with("ok "), "{said}");
    assert!(revoke(&scratch, &permanent.0).status.success());
    refused_with(
        &describe((&permanent.0, &permanent.1, ""), GET_HMAC_SHA1),
        "AuthFailure.SecretIdNotFound",
    );
    assert!(
        !revoke(&scratch, &permanent.0).status.success(),
        "revoked twice"
    );

    let (short_id, short_key, short_token, expires) = short;
    loop {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("time")
            .as_secs();
        if now >= expires {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for mode in [POST_TC3, GET_HMAC_SHA256] {
        let said = describe((&short_id, &short_key, &short_token), mode);
        refused_with(&said, "AuthFailure.TokenFailure");
        assert!(said.contains("expired"), "{said}");
    }
}

/// tccli, the official CLI, through a story: launch, image, share, copy, a refusal with the
/// API's code, delete. Over HTTPS (`--endpoint 127.0.0.1:PORT`, its default) or plain HTTP
/// (`--endpoint http://127.0.0.1:PORT`, sent as the Host header and signed as such).
fn tccli_story(transport: Transport) {
    if !have("tccli", &["--version"], "pip install tccli")
        || (transport == Transport::Https
            && !have("openssl", &["version"], "apt-get install openssl"))
    {
        return;
    }
    let scratch = Scratch::new();
    let (id, key) = scratch.key_pair(OWNER);
    scratch.key_pair(FRIEND);
    let home = scratch.path().join("tccli-home");
    std::fs::create_dir_all(&home).expect("home");
    let tls = (transport == Transport::Https).then(|| serve_tls(&scratch));
    let endpoint = match &tls {
        Some(server) => server.address.clone(),
        None => scratch.server_url(),
    };
    // tccli verifies HTTPS against certifi's bundle and has no option for another: a
    // `certifi` first on PYTHONPATH names the server's certificate instead (users append the
    // certificate to the bundle `python3 -m certifi` names).
    let shim = scratch.path().join("certifi-shim/certifi");
    if let Some(server) = &tls {
        std::fs::create_dir_all(&shim).expect("shim");
        std::fs::write(
            shim.join("__init__.py"),
            format!(
                "def where():\n    return {:?}\n\ndef contents():\n    return open(where()).read()\n",
                server.certificate.display().to_string()
            ),
        )
        .expect("shim");
    }
    let tccli = |args: &[&str]| -> Output {
        Command::new("tccli")
            .args(["cvm"])
            .args(args)
            .args(["--region", "ap-guangzhou", "--endpoint", &endpoint])
            .args(["--secretId", &id, "--secretKey", &key])
            .env("HOME", &home)
            .env("PYTHONPATH", scratch.path().join("certifi-shim"))
            .output()
            .expect("tccli")
    };
    let answer = |args: &[&str]| -> Value {
        let out = tccli(args);
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        serde_json::from_str(&stdout(&out)).expect("JSON")
    };
    let described = answer(&["DescribeImages", "--ImageIds", r#"["img-9qabwvbn"]"#]);
    assert_eq!(described["ImageSet"][0]["ImageName"], "CentOS 7.6 64位");
    assert_eq!(described["TotalCount"], 1);

    let launched = answer(&[
        "RunInstances",
        "--ImageId",
        "img-9qabwvbn",
        "--InstanceCount",
        "1",
        "--Placement",
        r#"{"Zone": "ap-guangzhou-3"}"#,
    ]);
    let instance = launched["InstanceIdSet"][0]
        .as_str()
        .expect("an instance")
        .to_string();
    let instances = answer(&[
        "DescribeInstances",
        "--InstanceIds",
        &format!(r#"["{instance}"]"#),
    ]);
    assert_eq!(instances["InstanceSet"][0]["InstanceState"], "RUNNING");

    let created = answer(&[
        "CreateImage",
        "--InstanceId",
        &instance,
        "--ImageName",
        "cli-golden",
    ]);
    let image = created["ImageId"].as_str().expect("an image").to_string();
    let ids = format!(r#"["{image}"]"#);
    let friend = format!(r#"["{FRIEND}"]"#);
    answer(&[
        "ModifyImageSharePermission",
        "--ImageId",
        &image,
        "--AccountIds",
        &friend,
        "--Permission",
        "SHARE",
    ]);
    let copies = answer(&[
        "SyncImages",
        "--ImageIds",
        &ids,
        "--DestinationRegions",
        r#"["ap-shanghai"]"#,
        "--ImageSetRequired",
        "true",
    ]);
    assert_eq!(copies["ImageSet"][0]["Region"], "ap-shanghai");

    // A shared image is not deleted: the API's code reaches tccli's user.
    let out = tccli(&["DeleteImages", "--ImageIds", &ids]);
    assert!(!out.status.success());
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(said.contains("code:InvalidImageId.InShared"), "{said}");
    answer(&[
        "ModifyImageSharePermission",
        "--ImageId",
        &image,
        "--AccountIds",
        &friend,
        "--Permission",
        "CANCEL",
    ]);
    answer(&["DeleteImages", "--ImageIds", &ids]);
    let gone = answer(&["DescribeImages", "--ImageIds", &ids]);
    assert_eq!(gone["TotalCount"], 0, "{gone}");
}

#[test]
fn tccli_runs_a_story_over_https() {
    tccli_story(Transport::Https);
}

#[test]
fn tccli_runs_a_story_over_http() {
    tccli_story(Transport::Http);
}
