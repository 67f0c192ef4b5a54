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
    signed_api_call(&server.url, key, region, CVM_API, action, body, skew)
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

/// The host of the server's URL: `127.0.0.1:PORT`.
fn host_of(server: &Server) -> String {
    server.url.trim_start_matches("http://").to_string()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64
}

/// Sends a request as it is given; returns the `Response` object.
fn send(
    server: &Server,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Value {
    let mut request = ureq::request(method, &format!("{}{target}", server.url));
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let answer: Value = request
        .send_bytes(body)
        .expect("HTTP 200")
        .into_json()
        .expect("JSON");
    assert!(answer["Response"]["RequestId"].is_string(), "{answer}");
    answer["Response"].clone()
}

/// What a TC3 request signs, as a client chooses it.
struct Tc3<'a> {
    method: &'a str,
    /// The credential scope's service.
    service: &'a str,
    /// The host signed (the Host header sent is always the server's `127.0.0.1:PORT`).
    signed_host: &'a str,
    action: &'a str,
    version: &'a str,
    query: &'a str,
    body: &'a [u8],
}

/// A TC3-signed request, GET or POST, in the ap-guangzhou region.
fn tc3(server: &Server, key: &(String, String), request: &Tc3<'_>) -> Value {
    let content_type = if request.method == "GET" {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    };
    let timestamp = now();
    let headers = [
        ("content-type", content_type),
        ("host", request.signed_host),
    ];
    let signer = sign::Tc3Key::new(&key.1, request.service, timestamp);
    let signature = signer.sign(
        &sign::Canonical {
            method: request.method,
            path: "/",
            query: request.query,
            headers: &headers,
            payload_hash: &sign::sha256_hex(request.body),
        }
        .request(),
    );
    let authorization = format!(
        "TC3-HMAC-SHA256 Credential={}/{}, SignedHeaders=content-type;host, Signature={signature}",
        key.0,
        signer.credential_scope()
    );
    let target = if request.query.is_empty() {
        "/".to_string()
    } else {
        format!("/?{}", request.query)
    };
    send(
        server,
        request.method,
        &target,
        &[
            ("Content-Type", content_type),
            ("X-TC-Action", request.action),
            ("X-TC-Version", request.version),
            ("X-TC-Region", "ap-guangzhou"),
            ("X-TC-Timestamp", &timestamp.to_string()),
            ("Authorization", &authorization),
        ],
        request.body,
    )
}

/// The Node.js SDK signs the host without its port and names the service after the endpoint's
/// first label; whatever the label, the request is routed by its action and version.
#[test]
fn signatures_name_any_service_and_the_host_with_or_without_its_port() {
    let scratch = Scratch::new();
    let key = account(&scratch, "100000000007");
    let server = serve(&scratch);
    let host = host_of(&server);
    let describe = |service: &str, signed_host: &str| {
        tc3(
            &server,
            &key,
            &Tc3 {
                method: "POST",
                service,
                signed_host,
                action: "DescribeImages",
                version: "2017-03-12",
                query: "",
                body: br#"{"ImageIds": ["img-9qabwvbn"]}"#,
            },
        )
    };
    for (service, signed_host) in [
        ("cvm", host.as_str()),
        ("127", "127.0.0.1"),
        ("127", host.as_str()),
        (host.as_str(), host.as_str()),
    ] {
        let answer = describe(service, signed_host);
        assert_eq!(answer["TotalCount"], 1, "{service} {signed_host}: {answer}");
    }
    assert_eq!(
        code(&describe("cvm", "127.0.0.2")),
        "AuthFailure.SignatureFailure"
    );
    let identity = |version: &str| {
        tc3(
            &server,
            &key,
            &Tc3 {
                method: "POST",
                service: "127",
                signed_host: "127.0.0.1",
                action: "GetCallerIdentity",
                version,
                query: "",
                body: b"{}",
            },
        )
    };
    assert_eq!(identity("2018-08-13")["AccountId"], "100000000007");
    assert_eq!(code(&identity("2017-03-12")), "InvalidAction");
    assert_eq!(code(&identity("2020-01-01")), "NoSuchVersion");
}

/// A GET carries the members in its query, flattened and as text; each is read as the type
/// its member has: `InstanceCount=3` launches three, `ImageName=12345` is a name.
#[test]
fn a_get_reads_each_member_as_its_type() {
    let scratch = Scratch::new();
    let key = account(&scratch, "100000000001");
    let server = serve(&scratch);
    let host = host_of(&server);
    let get = |action: &str, query: &str| {
        tc3(
            &server,
            &key,
            &Tc3 {
                method: "GET",
                service: "cvm",
                signed_host: &host,
                action,
                version: "2017-03-12",
                query,
                body: b"",
            },
        )
    };
    let launched = get(
        "RunInstances",
        "ImageId=img-9qabwvbn&InstanceCount=3&Placement.Zone=ap-guangzhou-3",
    );
    let instances = launched["InstanceIdSet"].as_array().expect("instances");
    assert_eq!(instances.len(), 3, "{launched}");
    let instance = instances[0].as_str().expect("an ID");
    let created = get(
        "CreateImage",
        &format!("InstanceId={instance}&ImageName=12345"),
    );
    let image = created["ImageId"].as_str().expect("an image");
    let described = get(
        "DescribeImages",
        &format!("Filters.0.Name=image-id&Filters.0.Values.0={image}&Limit=5"),
    );
    assert_eq!(
        described["ImageSet"][0]["ImageName"], "12345",
        "{described}"
    );
    // A member of the wrong type is refused as it is in a JSON body.
    assert_eq!(
        code(&get("DescribeImages", "Limit=many")),
        code(&call(
            &server,
            &key,
            "ap-guangzhou",
            "DescribeImages",
            &json!({"Limit": "many"}),
            0
        ))
    );
    assert_eq!(
        code(&get("DescribeImages", "Limit=1&Limit=2")),
        "InvalidParameter"
    );
}

/// A v1 request (HmacSHA1 or HmacSHA256) of DescribeImages: its parameters in a form, the
/// body of a POST or the query of a GET, signed with the SecretKey.
fn v1(
    server: &Server,
    key: &(String, String),
    method: &str,
    sign_method: sign::V1Method,
    members: &[(&str, &str)],
) -> Value {
    v1_action(server, key, method, sign_method, "DescribeImages", members)
}

/// A v1 request of `action`.
fn v1_action(
    server: &Server,
    key: &(String, String),
    method: &str,
    sign_method: sign::V1Method,
    action: &str,
    members: &[(&str, &str)],
) -> Value {
    let timestamp = now().to_string();
    let mut params: Vec<(&str, &str)> = vec![
        ("Action", action),
        ("Version", "2017-03-12"),
        ("Region", "ap-guangzhou"),
        ("Timestamp", &timestamp),
        ("Nonce", "4079"),
        ("SecretId", &key.0),
        ("SignatureMethod", sign_method.name()),
    ];
    params.extend_from_slice(members);
    let text = sign::v1_string_to_sign(method, &host_of(server), "/", &params);
    let signature = sign::v1_signature(sign_method, &key.1, &text);
    let form = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .append_pair("Signature", &signature)
        .finish();
    if method == "GET" {
        send(server, "GET", &format!("/?{form}"), &[], b"")
    } else {
        let content_type = [("Content-Type", "application/x-www-form-urlencoded")];
        send(server, "POST", "/", &content_type, form.as_bytes())
    }
}

#[test]
fn v1_signatures_are_checked_and_other_requests_refused() {
    let scratch = Scratch::new();
    let key = account(&scratch, "100000000001");
    let server = serve(&scratch);
    let one = [("ImageIds.0", "img-9qabwvbn")];
    for (method, sign_method) in [
        ("POST", sign::V1Method::HmacSha1),
        ("GET", sign::V1Method::HmacSha256),
    ] {
        let answer = v1(&server, &key, method, sign_method, &one);
        assert_eq!(answer["TotalCount"], 1, "{method}: {answer}");
    }
    let wrong = (key.0.clone(), "not-the-key".to_string());
    assert_eq!(
        code(&v1(
            &server,
            &wrong,
            "POST",
            sign::V1Method::HmacSha256,
            &one
        )),
        "AuthFailure.SignatureFailure"
    );
    assert_eq!(
        code(&send(
            &server,
            "GET",
            "/?Action=DescribeImages&Signature=x",
            &[],
            b""
        )),
        "MissingParameter"
    );
    assert_eq!(
        code(&send(&server, "PUT", "/", &[], b"{}")),
        "UnsupportedProtocol"
    );
    let json = [("Content-Type", "application/json")];
    assert_eq!(
        code(&send(&server, "POST", "/", &json, b"{}")),
        "AuthFailure.InvalidAuthorization"
    );
}

/// ImportImage's refusals name the file as the request did, never the descriptor the server
/// read it through.
#[test]
fn import_errors_name_the_file_as_the_client_did() {
    let scratch = Scratch::new();
    let key = account(&scratch, "100000000001");
    let server = serve(&scratch);
    std::fs::write(scratch.path().join("notes.txt"), b"not a disk").expect("file");
    let answer = call(
        &server,
        &key,
        "ap-guangzhou",
        "ImportImage",
        &json!({"ImageName": "imp", "ImageUrl": "notes.txt", "OsType": "CentOS", "OsVersion": "7", "Architecture": "x86_64"}),
        0,
    );
    let message = answer["Error"]["Message"].as_str().expect("a refusal");
    assert!(message.starts_with("notes.txt "), "{message}");
    assert!(!message.contains("/proc/"), "{message}");
}

/// A refusal with `code` whose message names `member` (as the API spells it, in backquotes).
fn assert_refused_naming(answer: &Value, code: &str, member: &str) {
    assert_eq!(self::code(answer), code, "{answer}");
    let message = answer["Error"]["Message"].as_str().unwrap_or("");
    assert!(
        message.contains(&format!("`{member}`")),
        "{member}: {answer}"
    );
}

/// Every member is read as the type the API gives it: a request whose member is of another
/// type, unknown, missing or not emulated is refused naming it, and changes nothing.
#[test]
fn members_are_typed_and_refusals_name_them() {
    let scratch = Scratch::new();
    let key = account(&scratch, "100000000001");
    let server = serve(&scratch);
    let gz = "ap-guangzhou";
    let call = |action: &str, body: Value| call(&server, &key, gz, action, &body, 0);
    let placement = json!({"Zone": "ap-guangzhou-3"});
    let launched = call(
        "RunInstances",
        json!({"ImageId": "img-9qabwvbn", "InstanceCount": "3", "Placement": placement}),
    );
    assert_refused_naming(&launched, "InvalidParameter", "InstanceCount");
    assert_eq!(call("DescribeInstances", json!({}))["TotalCount"], 0);
    assert_refused_naming(
        &call("DescribeImages", json!({"Limit": "5"})),
        "InvalidParameter",
        "Limit",
    );
    assert_refused_naming(
        &call("DescribeImages", json!({"Bogus": 1})),
        "UnknownParameter",
        "Bogus",
    );
    assert_refused_naming(
        &call(
            "DescribeImages",
            json!({"Filters": [{"Name": "image-type", "Values": "PUBLIC_IMAGE"}]}),
        ),
        "InvalidParameter",
        "Filters.0.Values",
    );
    assert_refused_naming(
        &call(
            "RunInstances",
            json!({"ImageId": "img-9qabwvbn", "Placement": {"Zone": "ap-guangzhou-3", "Floor": 2}}),
        ),
        "UnknownParameter",
        "Placement.Floor",
    );
    assert_refused_naming(
        &call("DeleteImages", json!({})),
        "MissingParameter",
        "ImageIds",
    );
    // null is a member not given.
    let page = call(
        "DescribeImages",
        json!({"ImageIds": null, "Filters": null, "Limit": null, "Offset": null}),
    );
    assert_eq!(
        page["ImageSet"].as_array().expect("a page").len(),
        20,
        "{page}"
    );
    // Members the emulator does not emulate are refused, not ignored.
    assert_refused_naming(
        &call(
            "RunInstances",
            json!({"ImageId": "img-9qabwvbn", "Placement": placement, "LaunchTemplate": {"LaunchTemplateId": "lt-1"}}),
        ),
        "UnsupportedOperation",
        "LaunchTemplate",
    );
    assert_refused_naming(
        &call(
            "RunInstances",
            json!({"ImageId": "img-9qabwvbn", "Placement": placement, "DataDisks": [{"DiskSize": 50, "Encrypt": true}]}),
        ),
        "UnsupportedOperation",
        "DataDisks.0.Encrypt",
    );
    assert_eq!(call("DescribeInstances", json!({}))["TotalCount"], 0);
    // Members it keeps are accepted.
    let kept = call(
        "RunInstances",
        json!({"ImageId": "img-9qabwvbn", "Placement": placement, "InstanceCount": 1,
               "UserData": "IyEvYmluL3NoCg==", "LoginSettings": {"Password": "Passw0rd!"},
               "DataDisks": [{"DiskSize": 50, "DiskType": "CLOUD_PREMIUM"}]}),
    );
    let instance = kept["InstanceIdSet"][0]
        .as_str()
        .expect("an instance")
        .to_string();
    let image = call(
        "CreateImage",
        json!({"InstanceId": instance, "ImageName": "typed"}),
    )["ImageId"]
        .as_str()
        .expect("an image")
        .to_string();
    let renamed = call(
        "ModifyImageAttribute",
        json!({"ImageId": image, "ImageName": 12345}),
    );
    assert_refused_naming(&renamed, "InvalidParameter", "ImageName");
    let described = call("DescribeImages", json!({"ImageIds": [image]}));
    assert_eq!(
        described["ImageSet"][0]["ImageName"], "typed",
        "nothing changed"
    );
    assert_refused_naming(
        &call(
            "SyncImages",
            json!({"ImageIds": [image], "DestinationRegions": ["ap-beijing"], "Encrypt": true}),
        ),
        "UnsupportedOperation",
        "Encrypt",
    );
    // ImportImage with a DryRun of the wrong type imports nothing.
    std::fs::write(scratch.path().join("disk.raw"), vec![0u8; 1 << 20]).expect("disk");
    let imported = call(
        "ImportImage",
        json!({"ImageName": "imp", "ImageUrl": "disk.raw", "OsType": "CentOS", "OsVersion": "7",
               "Architecture": "x86_64", "DryRun": "true"}),
    );
    assert_refused_naming(&imported, "InvalidParameter", "DryRun");
    let custom = call(
        "DescribeImages",
        json!({"Filters": [{"Name": "image-type", "Values": ["PRIVATE_IMAGE"]}]}),
    );
    assert_eq!(
        custom["TotalCount"], 1,
        "only the image made above: {custom}"
    );
}

/// A form's values are text, each read as its member's type: `InstanceCount=3` launches three
/// whether the form is a GET's query or a v1 POST's body; lists start at `.0` or `.1`.
#[test]
fn forms_read_each_value_as_its_members_type() {
    let scratch = Scratch::new();
    let key = account(&scratch, "100000000001");
    let server = serve(&scratch);
    for (method, sign_method) in [
        ("POST", sign::V1Method::HmacSha256),
        ("GET", sign::V1Method::HmacSha1),
    ] {
        let launched = v1_action(
            &server,
            &key,
            method,
            sign_method,
            "RunInstances",
            &[
                ("ImageId", "img-9qabwvbn"),
                ("InstanceCount", "3"),
                ("Placement.Zone", "ap-guangzhou-3"),
                ("DryRun", "false"),
            ],
        );
        let ids = launched["InstanceIdSet"].as_array().expect("instances");
        assert_eq!(ids.len(), 3, "{method}: {launched}");
        let terminate: Vec<(String, &str)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                (
                    format!("InstanceIds.{}", i + 1),
                    id.as_str().expect("an ID"),
                )
            })
            .collect();
        let members: Vec<(&str, &str)> = terminate.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        let answer = v1_action(
            &server,
            &key,
            method,
            sign_method,
            "TerminateInstances",
            &members,
        );
        assert!(answer.get("Error").is_none(), "{method}: {answer}");
        let refused = v1_action(
            &server,
            &key,
            method,
            sign_method,
            "RunInstances",
            &[("ImageId", "img-9qabwvbn"), ("InstanceCount", "three")],
        );
        assert_refused_naming(&refused, "InvalidParameter", "InstanceCount");
        let unknown = v1(
            &server,
            &key,
            method,
            sign_method,
            &[("ImageIds.1", "img-9qabwvbn"), ("Colour", "red")],
        );
        assert_refused_naming(&unknown, "UnknownParameter", "Colour");
        let listed = v1(
            &server,
            &key,
            method,
            sign_method,
            &[("ImageIds.1", "img-9qabwvbn")],
        );
        assert_eq!(listed["TotalCount"], 1, "{method}: {listed}");
    }
}

/// Each refusal carries the code the action's documentation lists for its condition.
#[test]
fn each_refusal_carries_the_code_its_action_lists() {
    let scratch = Scratch::new();
    let owner = account(&scratch, "100000000001");
    let friend = account(&scratch, "100000000002");
    let server = serve(&scratch);
    let gz = "ap-guangzhou";
    let as_owner = |action: &str, body: Value| call(&server, &owner, gz, action, &body, 0);
    let as_friend = |action: &str, body: Value| call(&server, &friend, gz, action, &body, 0);
    let share = |image: &str, accounts: Value| json!({"ImageId": image, "AccountIds": accounts, "Permission": "SHARE"});
    assert_eq!(
        code(&as_owner(
            "ModifyImageSharePermission",
            share("img-9qabwvbn", json!(["100000000002"]))
        )),
        "InvalidParameterValue.InvalidImageId"
    );
    assert_eq!(
        code(&as_owner(
            "DescribeImageSharePermission",
            json!({"ImageId": "img-9qabwvbn"})
        )),
        "UnauthorizedOperation.ImageNotBelongToAccount"
    );
    assert_eq!(
        code(&as_owner(
            "DeleteImages",
            json!({"ImageIds": ["img-9qabwvbn"]})
        )),
        "InvalidParameterValue.InvalidImageId"
    );
    let placement = json!({"Zone": "ap-guangzhou-3"});
    let long_name = "n".repeat(129);
    assert_eq!(
        code(&as_owner(
            "RunInstances",
            json!({"ImageId": "img-9qabwvbn", "Placement": placement, "InstanceName": long_name})
        )),
        "InvalidInstanceName.TooLong"
    );
    let launched = as_owner(
        "RunInstances",
        json!({"ImageId": "img-9qabwvbn", "Placement": placement}),
    );
    let instance = launched["InstanceIdSet"][0]
        .as_str()
        .expect("an instance")
        .to_string();
    let image = as_owner(
        "CreateImage",
        json!({"InstanceId": instance, "ImageName": "codes"}),
    )["ImageId"]
        .as_str()
        .expect("an image")
        .to_string();
    assert_eq!(
        code(&as_owner(
            "ModifyImageSharePermission",
            share(&image, json!(["12ab"]))
        )),
        "InvalidAccountId.NotFound"
    );
    assert_eq!(
        code(&as_owner(
            "CreateImage",
            json!({"InstanceId": "ins-bad", "ImageName": "x"})
        )),
        "InvalidInstanceId.NotFound"
    );
    as_owner(
        "ModifyImageSharePermission",
        share(&image, json!(["100000000002"])),
    );
    // The receiver: each action's own code (the filesystem's errno stays EPERM).
    assert_eq!(
        code(&as_friend(
            "ModifyImageSharePermission",
            share(&image, json!(["100000000001"]))
        )),
        "UnauthorizedOperation.ImageNotBelongToAccount"
    );
    assert_eq!(
        code(&as_friend("DeleteImages", json!({"ImageIds": [image]}))),
        "InvalidParameterValue.InvalidImageIdIsShared"
    );
    assert_eq!(
        code(&as_friend(
            "DescribeImageSharePermission",
            json!({"ImageId": image})
        )),
        "UnauthorizedOperation.ImageNotBelongToAccount"
    );
    assert_eq!(
        code(&as_friend(
            "ModifyImageAttribute",
            json!({"ImageId": image, "ImageName": "mine"})
        )),
        "UnsupportedOperation.SharedImageModifyUnsupported"
    );

    // Work that takes a minute: a PENDING instance, a CREATING image.
    let (mut slow_child, slow_url) = start_server(
        &scratch.store(),
        &["--transition-delay".as_ref(), "60".as_ref()],
    );
    let slow = Server { url: slow_url };
    let as_slow = |action: &str, body: Value| call(&slow, &owner, gz, action, &body, 0);
    let pending = as_slow(
        "RunInstances",
        json!({"ImageId": "img-9qabwvbn", "Placement": placement}),
    );
    let pending = pending["InstanceIdSet"][0]
        .as_str()
        .expect("an instance")
        .to_string();
    assert_eq!(
        code(&as_slow(
            "CreateImage",
            json!({"InstanceId": pending, "ImageName": "too-early"})
        )),
        "OperationDenied.InstanceOperationInProgress"
    );
    assert_eq!(
        code(&as_slow("ResetInstance", json!({"InstanceId": pending}))),
        "UnsupportedOperation.InstanceStatePending"
    );
    let creating = as_slow(
        "CreateImage",
        json!({"InstanceId": instance, "ImageName": "creating"}),
    )["ImageId"]
        .as_str()
        .expect("an image")
        .to_string();
    assert_eq!(
        code(&as_slow(
            "ModifyImageSharePermission",
            share(&creating, json!(["100000000002"]))
        )),
        "InvalidParameterValue.InvalidImageState"
    );
    assert_eq!(
        code(&as_slow("DeleteImages", json!({"ImageIds": [creating]}))),
        "InvalidImageId.IncorrectState"
    );
    let _ = slow_child.kill();
    let _ = slow_child.wait();
}
