//! The tencentcloud backend through a real mount, against a local HTTP endpoint that checks
//! every request's TC3-HMAC-SHA256 signature and answers with the official example responses
//! (tccli's examples.json) for the CVM image actions.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

use common::*;
use imagefs::tencent::sign;
use serde_json::{json, Value};

const SECRET_ID: &str = "AKIDimagefstest00000000000000000000";
const SECRET_KEY: &str = "imagefs-test-secret-key-000000000";

/// One request as the endpoint saw it.
#[derive(Debug, Clone)]
struct Seen {
    action: String,
    region: String,
    body: Value,
}

struct Endpoint {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn envelope(mut response: Value) -> Value {
    response["RequestId"] = json!("db145873-3128-4079-8cec-65e05a7c9f89");
    json!({ "Response": response })
}

fn error(code: &str, message: &str) -> Value {
    envelope(json!({"Error": {"Code": code, "Message": message}}))
}

fn image(id: &str, kind: &str, name: &str, platform: &str) -> Value {
    // The members of the official DescribeImages example.
    json!({
        "LicenseType": "TencentCloud", "ImageId": id, "OsName": name, "ImageSize": 50,
        "ImageType": kind, "CreatedTime": "2020-09-22T00:00:00Z", "ImageState": "NORMAL",
        "ImageSource": if kind == "PUBLIC_IMAGE" { "OFFICIAL" } else { "CREATE_IMAGE" },
        "ImageName": name, "ImageDescription": name,
        "ImageCreator": if kind == "PUBLIC_IMAGE" { "tencent" } else { "3205597606" },
        "SyncPercent": 20, "IsSupportCloudinit": true, "Platform": platform,
        "Architecture": "x86_64", "SnapshotSet": [], "Tags": [{"Key": "myKey", "Value": "myValue"}],
        "ImageFamily": "", "ImageDeprecated": false
    })
}

/// An official example response (tccli's examples.json).
fn official(action: &str) -> Value {
    let all: Value =
        serde_json::from_str(include_str!("fixtures/cvm-api-examples.json")).expect("fixtures");
    all[action]["Response"].clone()
}

/// Answers one action like the cloud does (official example payloads), after checking the
/// signature. `limited` counts RequestLimitExceeded answers still to give.
fn answer(action: &str, body: &Value, limited: &mut u32) -> Value {
    match action {
        "DescribeRegions" => envelope(json!({"TotalCount": 3, "RegionSet": [
            {"Region": "ap-guangzhou", "RegionName": "华南地区(广州)", "RegionState": "AVAILABLE"},
            {"Region": "ap-shanghai", "RegionName": "华东地区(上海)", "RegionState": "AVAILABLE"},
            {"Region": "ap-singapore", "RegionName": "亚太东南(新加坡)", "RegionState": "AVAILABLE"}
        ]})),
        "GetCallerIdentity" => envelope(
            json!({"AccountId": "3205597606", "Arn": "qcs::cam::uin/3205597606:uin/3205597606", "UserId": "3205597606", "PrincipalId": "3205597606", "Type": "RootAccount"}),
        ),
        "DescribeImages" => {
            let kind = body
                .pointer("/Filters/0/Values/0")
                .and_then(Value::as_str)
                .unwrap_or("");
            let set = match kind {
                "PUBLIC_IMAGE" => vec![
                    // The official example answer, as it is (it predates ImageFamily).
                    official("DescribeImages")["ImageSet"][0].clone(),
                    image(
                        "img-9tzezztj",
                        "PUBLIC_IMAGE",
                        "Windows Server 2022 数据中心版 64位英文版",
                        "Windows",
                    ),
                ],
                "PRIVATE_IMAGE" => vec![image(
                    "img-qlzp4oea",
                    "PRIVATE_IMAGE",
                    "test-image",
                    "CentOS",
                )],
                "SHARED_IMAGE" => vec![],
                // The current API knows no marketplace type.
                _ => return error("InvalidFilterValue.LimitExceeded", "unknown image-type"),
            };
            let offset = body.get("Offset").and_then(Value::as_u64).unwrap_or(0) as usize;
            let page: Vec<Value> = set.iter().skip(offset).take(1).cloned().collect();
            // One image per page, to exercise paging until TotalCount.
            envelope(json!({"TotalCount": set.len(), "ImageSet": page}))
        }
        "DescribeImageQuota" => envelope(official("DescribeImageQuota")),
        "DescribeInstances" => envelope(json!({"TotalCount": 0, "InstanceSet": []})),
        "DescribeImageSharePermission" => envelope(official("DescribeImageSharePermission")),
        "ModifyImageSharePermission" => {
            if *limited > 0 {
                *limited -= 1;
                return error("RequestLimitExceeded", "Your current request times equals to `11` in a second, which exceeds the frequency limit `10` for a second. Please reduce the frequency of calls.");
            }
            let ids = body.get("AccountIds").cloned().unwrap_or(json!([]));
            if ids == json!(["101104350000"]) && body.get("Permission") == Some(&json!("SHARE")) {
                error(
                    "FailedOperation.AccountAlreadyExists",
                    "The account already exists.",
                )
            } else {
                envelope(json!({}))
            }
        }
        // A dry run that passes: the common code the cloud may answer it with.
        "SyncImages" if body.get("DryRun") == Some(&json!(true)) => error(
            "DryRunOperation",
            "The request would have succeeded, but the DryRun parameter was used.",
        ),
        "SyncImages" => {
            envelope(json!({"ImageSet": [{"ImageId": "img-0yc6rie8", "Region": "ap-shanghai"}]}))
        }
        "ModifyImageAttribute" | "DeleteImages" => envelope(json!({})),
        other => error(
            "InvalidAction",
            &format!("The action `{other}` is not covered by this test endpoint."),
        ),
    }
}

fn start_endpoint(limited: u32) -> Endpoint {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let limited = Arc::new(Mutex::new(limited));
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let record = record.clone();
            let limited = limited.clone();
            thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut headers = HashMap::new();
                    loop {
                        let mut h = String::new();
                        reader.read_line(&mut h).expect("header");
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            headers.insert(k.trim().to_lowercase(), v.trim().to_string());
                        }
                    }
                    let length: usize = headers
                        .get("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0u8; length];
                    reader.read_exact(&mut body).expect("body");
                    let action = headers.get("x-tc-action").cloned().unwrap_or_default();
                    let region = headers.get("x-tc-region").cloned().unwrap_or_default();
                    let timestamp: i64 = headers
                        .get("x-tc-timestamp")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let host = headers.get("host").cloned().unwrap_or_default();
                    let service = if action == "GetCallerIdentity" {
                        "sts"
                    } else {
                        "cvm"
                    };
                    let expected = sign::Request {
                        secret_id: SECRET_ID,
                        secret_key: SECRET_KEY,
                        service,
                        host: &host,
                        action: &action,
                        content_type: headers
                            .get("content-type")
                            .map(String::as_str)
                            .unwrap_or(""),
                        timestamp,
                        payload: &body,
                        sign_action: false,
                    }
                    .authorization();
                    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let reply = if headers.get("authorization") != Some(&expected) {
                        error("AuthFailure.SignatureFailure", "The provided credentials could not be validated. Please check your signature is correct.")
                    } else {
                        record.lock().expect("lock").push(Seen {
                            action: action.clone(),
                            region,
                            body: parsed.clone(),
                        });
                        let mut left = limited.lock().expect("lock");
                        answer(&action, &parsed, &mut left)
                    };
                    let text = reply.to_string();
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
                        text.len()
                    );
                    if stream.write_all(response.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    Endpoint { url, seen }
}

fn mount_cloud(scratch: &Scratch, endpoint: &Endpoint, key: &str) -> std::process::Output {
    let mountpoint = scratch.path().join("cloud");
    std::process::Command::new(imagefs_bin())
        .args([
            "mount",
            mountpoint.to_str().expect("p"),
            "--backend",
            "tencentcloud",
            "--endpoint",
            &endpoint.url,
        ])
        .env("TENCENTCLOUD_SECRET_ID", SECRET_ID)
        .env("TENCENTCLOUD_SECRET_KEY", key)
        .env("HOME", scratch.path())
        .output()
        .expect("imagefs mount")
}

#[test]
fn the_cloud_tree_from_the_api() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let endpoint = start_endpoint(2);
    let out = mount_cloud(&scratch, &endpoint, SECRET_KEY);
    let root = scratch.path().join("cloud");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = imagefs::mounts::force_unmount(&self.0);
        }
    }
    let _unmount = Unmount(root.clone());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Tencent Cloud account 3205597606"),
        "{}",
        stderr(&out)
    );

    let account = json(&root.join("account.json"));
    assert_eq!(account["Backend"], "tencentcloud");
    assert_eq!(account["AccountId"], "3205597606");
    assert_eq!(
        run("ls", &[root.join("regions").to_str().expect("p")]).stdout,
        b"ap-guangzhou\nap-shanghai\nap-singapore\n"
    );
    let region = root.join("regions/ap-guangzhou");
    let out = run("ls", &[region.join("public").to_str().expect("p")]);
    assert_eq!(
        stdout(&out),
        "img-9qabwvbn\nimg-9tzezztj\n",
        "paged until TotalCount"
    );
    let meta = json(&region.join("public/img-9qabwvbn/metadata.json"));
    assert_eq!(meta["ImageName"], "CentOS 7.6 64位");
    assert_eq!(meta["ImageType"], "PUBLIC_IMAGE");
    assert_eq!(read(&region.join("public/img-9qabwvbn/state")), "NORMAL\n");
    // Marketplace: the API lists none, so the directory is empty.
    assert!(std::fs::read_dir(region.join("marketplace"))
        .expect("dir")
        .next()
        .is_none());
    let quota = json(&region.join("quota.json"));
    assert_eq!(quota["CustomImageQuota"], 20);
    assert_eq!(quota["CustomImagesUsed"], 1);
    let price = json(&root.join("regions/ap-singapore/public/img-9tzezztj/price.json"));
    assert_eq!(price["ChargeType"], "LICENSE_FEE");

    let custom = region.join("custom/img-qlzp4oea");
    assert_eq!(read(&custom.join("share")), "101104350000\n101104350001\n");
    // Writes map to their actions; the first two answers are RequestLimitExceeded (retried).
    command(&custom.join("share"), "101104350002").expect("share after throttling");
    command(&custom.join("name"), "renamed").expect("rename");
    command(&custom.join("copy_to"), "ap-shanghai").expect("copy");
    assert_eq!(read(&custom.join("copy_to")), "ap-shanghai img-0yc6rie8\n");
    // A dry run is the cloud's to check: sent with its DryRun, and passed.
    command(
        &custom.join("copy_to"),
        r#"{"DestinationRegions": ["ap-shanghai"], "ImageName": "cloud-copy", "DryRun": true}"#,
    )
    .expect("dry copy");
    assert_eq!(
        read(&custom.join("copy_to")),
        "dry run: the copy would be accepted\n"
    );
    // A refusal from the API: its code, its errno, its errors line.
    assert_eq!(
        errno_of(command(&custom.join("share"), "101104350000")),
        libc::EEXIST
    );
    let errors = read(&root.join("errors"));
    assert!(
        errors.contains("FailedOperation.AccountAlreadyExists The account already exists."),
        "{errors}"
    );
    std::fs::remove_dir(&custom).expect("delete");

    let seen = endpoint.seen.lock().expect("lock").clone();
    let find = |action: &str| {
        seen.iter()
            .filter(|s| s.action == action)
            .cloned()
            .collect::<Vec<_>>()
    };
    let shares = find("ModifyImageSharePermission");
    assert_eq!(
        shares[0].body,
        json!({"ImageId": "img-qlzp4oea", "AccountIds": ["101104350002"], "Permission": "SHARE"})
    );
    assert_eq!(shares[0].region, "ap-guangzhou");
    assert_eq!(
        find("ModifyImageAttribute")[0].body,
        json!({"ImageId": "img-qlzp4oea", "ImageName": "renamed"})
    );
    assert_eq!(
        find("SyncImages")[0].body,
        json!({"ImageIds": ["img-qlzp4oea"], "DestinationRegions": ["ap-shanghai"], "ImageSetRequired": true})
    );
    assert_eq!(
        find("SyncImages")[1].body,
        json!({"ImageIds": ["img-qlzp4oea"], "DestinationRegions": ["ap-shanghai"], "ImageName": "cloud-copy", "DryRun": true, "ImageSetRequired": true})
    );
    assert_eq!(
        find("DeleteImages")[0].body,
        json!({"ImageIds": ["img-qlzp4oea"]})
    );
    // Listings are cached: a walk of the tree did not ask per file.
    assert!(
        find("DescribeImages").len() < 30,
        "{} DescribeImages calls",
        find("DescribeImages").len()
    );

    // No secret in any file or error line.
    let out = sh(
        &root,
        &format!("grep -r -l -e '{SECRET_KEY}' -e '{SECRET_ID}' . 2>/dev/null | wc -l"),
    );
    assert_eq!(stdout(&out).trim(), "0");
}

#[test]
fn refused_credentials_fail_the_mount_clearly() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let endpoint = start_endpoint(0);
    let out = mount_cloud(&scratch, &endpoint, "not-the-right-key");
    assert!(!out.status.success());
    let message = stderr(&out);
    assert!(
        message.contains("AuthFailure.SignatureFailure"),
        "{message}"
    );
    assert!(
        !message.contains("not-the-right-key"),
        "the key is never shown: {message}"
    );
    assert!(!is_mounted(&scratch.path().join("cloud")));

    let out = std::process::Command::new(imagefs_bin())
        .args([
            "mount",
            scratch.path().join("cloud2").to_str().expect("p"),
            "--backend",
            "tencentcloud",
            "--endpoint",
            &endpoint.url,
        ])
        .env_remove("TENCENTCLOUD_SECRET_ID")
        .env_remove("TENCENTCLOUD_SECRET_KEY")
        .env("HOME", scratch.path())
        .output()
        .expect("mount");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("TENCENTCLOUD_SECRET_ID"),
        "{}",
        stderr(&out)
    );
}

/// Credentials from the official CLI's file, `~/.tccli/<profile>.credential`.
#[test]
fn a_tccli_profile_supplies_the_credentials() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let endpoint = start_endpoint(0);
    let dir = scratch.path().join(".tccli");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(
        dir.join("work.credential"),
        json!({"secretId": SECRET_ID, "secretKey": SECRET_KEY}).to_string(),
    )
    .expect("credential file");
    let root = scratch.path().join("cloud");
    let out = std::process::Command::new(imagefs_bin())
        .args([
            "mount",
            root.to_str().expect("p"),
            "--backend",
            "tencentcloud",
            "--endpoint",
            &endpoint.url,
            "--profile",
            "work",
        ])
        .env_remove("TENCENTCLOUD_SECRET_ID")
        .env_remove("TENCENTCLOUD_SECRET_KEY")
        .env("HOME", scratch.path())
        .output()
        .expect("mount");
    let mounted = out.status.success();
    let state =
        std::fs::read_to_string(root.join("regions/ap-guangzhou/public/img-9qabwvbn/state"));
    let _ = imagefs::mounts::force_unmount(&root);
    assert!(mounted, "{}", stderr(&out));
    assert_eq!(state.expect("state"), "NORMAL\n");
    // A profile that does not exist names the file it looked for.
    let out = std::process::Command::new(imagefs_bin())
        .args([
            "mount",
            scratch.path().join("cloud2").to_str().expect("p"),
            "--backend",
            "tencentcloud",
            "--endpoint",
            &endpoint.url,
            "--profile",
            "missing",
        ])
        .env("HOME", scratch.path())
        .output()
        .expect("mount");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("missing.credential"),
        "{}",
        stderr(&out)
    );
}
