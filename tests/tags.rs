//! Tags of custom images and instances: the official Python SDK's cvm and tag clients against
//! `imagefs serve` (tests/sdk/tags.py), and the `tags` file of a mount.

mod common;

use std::process::Command;

use common::*;

const OWNER: &str = "100000000001";
const FRIEND: &str = "100000000002";

/// Whether the Python SDK's tag client is here; in CI its absence is a failure.
fn have_tag_sdk() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import tencentcloud.tag.v20180813.tag_client"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "the Python SDK's tag client is missing in CI (pip install tencentcloud-sdk-python)"
        );
        eprintln!("skipping: pip install tencentcloud-sdk-python to run this test");
    }
    found
}

#[test]
fn the_python_sdk_runs_the_tags_story() {
    if !have_tag_sdk() {
        return;
    }
    let scratch = Scratch::new();
    let owner = scratch.key_pair(OWNER);
    let friend = scratch.key_pair(FRIEND);
    let url = scratch.server_url();
    let out = Command::new("python3")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/tags.py"))
        .arg(&url)
        .args([OWNER, &owner.0, &owner.1, FRIEND, &friend.0, &friend.1])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .output()
        .expect("python3");
    assert!(
        out.status.success() && stdout(&out).ends_with("tags story complete\n"),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
}
