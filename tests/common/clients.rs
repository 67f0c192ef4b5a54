//! What the client tests share: whether a tool is here, the official SDK scripts of
//! tests/sdk run against `imagefs serve`, raw TC3-signed calls, and docs/SEMANTICS.md quotes.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::{stderr, stdout};

/// The CVM API a signed call speaks to, by service name and version.
pub const CVM_API: (&str, &str) = ("cvm", "2017-03-12");
/// The tag API, by service name and version.
pub const TAG_API: (&str, &str) = ("tag", "2018-08-13");

/// Whether a tool the test needs is here (`program probe` succeeds); in CI its absence is a
/// failure, elsewhere the test is skipped with a note saying how to `install` it.
pub fn have(program: &str, probe: &[&str], install: &str) -> bool {
    let found = Command::new(program)
        .args(probe)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
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

/// Whether the official Python SDK's CVM client is here.
pub fn have_python_sdk() -> bool {
    have(
        "python3",
        &["-c", "import tencentcloud.cvm.v20170312.cvm_client"],
        "pip install tencentcloud-sdk-python-cvm",
    )
}

/// Whether the official Python SDK's tag client is here.
pub fn have_python_tag_sdk() -> bool {
    have(
        "python3",
        &["-c", "import tencentcloud.tag.v20180813.tag_client"],
        "pip install tencentcloud-sdk-python",
    )
}

/// The directory of the SDK scripts (tests/sdk).
pub fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk")
}

/// Runs the Python story `script` of tests/sdk against serve at `url` as the owner and friend
/// accounts (`(account, secret_id, secret_key)` each), away from any HTTP proxy; asserts it
/// succeeded and ended with `ending`, and returns what it printed.
pub fn python_story(
    script: &str,
    url: &str,
    owner: (&str, &(String, String)),
    friend: (&str, &(String, String)),
    ending: &str,
) -> String {
    let out: Output = Command::new("python3")
        .arg(sdk_dir().join(script))
        .arg(url)
        .args([owner.0, &owner.1 .0, &owner.1 .1])
        .args([friend.0, &friend.1 .0, &friend.1 .1])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .output()
        .expect("python3");
    let said = stdout(&out);
    assert!(
        out.status.success() && said.ends_with(ending),
        "{script}\nstdout:\n{said}\nstderr:\n{}",
        stderr(&out)
    );
    said
}

/// One TC3-signed JSON call to `imagefs serve` at `url` (`http://HOST:PORT`) as the key pair
/// `key`, to the CVM API; returns the answer's `Response` object (which always carries a
/// `RequestId`).
pub fn signed_call(
    url: &str,
    key: &(String, String),
    region: &str,
    action: &str,
    body: &Value,
) -> Value {
    signed_api_call(url, key, region, CVM_API, action, body, 0)
}

/// One TC3-signed JSON call to `api` (service, version) at `url`, signed `skew` seconds away
/// from now; returns the answer's `Response` object (which always carries a `RequestId`).
pub fn signed_api_call(
    url: &str,
    key: &(String, String),
    region: &str,
    (service, version): (&str, &str),
    action: &str,
    body: &Value,
    skew: i64,
) -> Value {
    let host = url.trim_start_matches("http://").to_string();
    let payload = body.to_string();
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64
        + skew;
    let auth = imagefs::tencent::sign::Request {
        secret_id: &key.0,
        secret_key: &key.1,
        service,
        host: &host,
        action,
        content_type: "application/json",
        timestamp,
        payload: payload.as_bytes(),
        sign_action: true,
    }
    .authorization();
    let answer: Value = ureq::post(&format!("{url}/"))
        .set("Content-Type", "application/json")
        .set("X-TC-Action", action)
        .set("X-TC-Version", version)
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

const SEMANTICS: &str = include_str!("../../docs/SEMANTICS.md");

/// Asserts that `quote` stands in docs/SEMANTICS.md (line breaks and spacing aside).
pub fn quoted(quote: &str) {
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        squash(SEMANTICS).contains(&squash(quote)),
        "docs/SEMANTICS.md no longer says: {quote}"
    );
}
