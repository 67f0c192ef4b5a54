//! Instances and zones as the cloud has them: real zones, whole `Instance` objects, the
//! DescribeInstances filters, idempotent RunInstances, charge types, batches of up to 500
//! with numbered names, and termination that shows. Through `imagefs serve` with raw signed
//! requests and the official Python SDK, and through the filesystem.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const OWNER: &str = "100000000001";
const GZ: &str = "ap-guangzhou";

/// An account's view of `imagefs serve`.
struct Api {
    url: String,
    key: (String, String),
}

impl Api {
    fn new(scratch: &Scratch, account: &str) -> Api {
        Api {
            url: scratch.server_url(),
            key: scratch.key_pair(account),
        }
    }

    /// One signed call in `region`; the `Response` object.
    fn call_in(&self, region: &str, action: &str, body: &Value) -> Value {
        signed_call(&self.url, &self.key, region, action, body)
    }

    fn call(&self, action: &str, body: &Value) -> Value {
        self.call_in(GZ, action, body)
    }

    /// A call that must succeed.
    fn ok(&self, action: &str, body: &Value) -> Value {
        let answer = self.call(action, body);
        assert!(answer.get("Error").is_none(), "{action} {body}: {answer}");
        answer
    }

    fn run(&self, body: Value) -> Vec<String> {
        ids(&self.ok("RunInstances", &body)["InstanceIdSet"])
    }

    fn instances(&self, body: Value) -> Value {
        self.ok("DescribeInstances", &body)
    }
}

fn code(answer: &Value) -> &str {
    answer["Error"]["Code"].as_str().unwrap_or("")
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_str().expect("an ID").to_string())
        .collect()
}

fn launch_in(zone: &str) -> Value {
    json!({"ImageId": "img-9qabwvbn", "Placement": {"Zone": zone}})
}

/// `imagefs serve` with a transition delay, stopped when dropped.
struct SlowServer {
    child: std::process::Child,
    api: Api,
}

impl SlowServer {
    fn start(scratch: &Scratch, account: &str, delay: &str) -> SlowServer {
        let key = scratch.key_pair(account);
        let (child, url) = start_server(
            &scratch.store(),
            &["--transition-delay".as_ref(), delay.as_ref()],
        );
        SlowServer {
            child,
            api: Api { url, key },
        }
    }
}

impl Drop for SlowServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `done` holds, for up to 20 s.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn describe_zones_lists_the_regions_real_zones() {
    let scratch = Scratch::new();
    let api = Api::new(&scratch, OWNER);
    let zones = api.ok("DescribeZones", &json!({}));
    let set = zones["ZoneSet"].as_array().expect("ZoneSet");
    assert_eq!(zones["TotalCount"], set.len());
    assert_eq!(set.len(), 7, "{zones}");
    assert_eq!(
        set[2],
        json!({"Zone": "ap-guangzhou-3", "ZoneName": "Guangzhou Zone 3", "ZoneId": "100003", "ZoneState": "AVAILABLE"})
    );
    assert_eq!(set[0]["ZoneState"], "UNAVAILABLE");
    let beijing = api.call_in("ap-beijing", "DescribeZones", &json!({}));
    let codes: Vec<&str> = beijing["ZoneSet"]
        .as_array()
        .expect("ZoneSet")
        .iter()
        .map(|z| z["Zone"].as_str().expect("Zone"))
        .collect();
    assert_eq!(
        codes,
        [
            "ap-beijing-1",
            "ap-beijing-2",
            "ap-beijing-3",
            "ap-beijing-4",
            "ap-beijing-5",
            "ap-beijing-6",
            "ap-beijing-7"
        ],
        "ap-beijing-8 has no published ZoneId"
    );
    let frankfurt = api.call_in("eu-frankfurt", "DescribeZones", &json!({}));
    assert_eq!(frankfurt["ZoneSet"][1]["ZoneId"], "170002");
}

#[test]
fn run_instances_requires_a_real_zone_of_the_region() {
    let scratch = Scratch::new();
    let api = Api::new(&scratch, OWNER);
    let without = api.call("RunInstances", &json!({"ImageId": "img-9qabwvbn"}));
    assert_eq!(code(&without), "MissingParameter", "{without}");
    for (zone, expected) in [
        ("ap-guangzhou-99", "InvalidZone.MismatchRegion"),
        ("ap-shanghai-2", "InvalidZone.MismatchRegion"),
        (
            "ap-guangzhou-1",
            "ResourceInsufficient.AvailabilityZoneSoldOut",
        ),
    ] {
        assert_eq!(
            code(&api.call("RunInstances", &launch_in(zone))),
            expected,
            "{zone}"
        );
    }
    assert_eq!(
        code(&api.call_in("ap-beijing", "RunInstances", &launch_in("ap-beijing-8"))),
        "InvalidParameterValue.ZoneNotSupported"
    );
    assert_eq!(api.instances(json!({}))["TotalCount"], 0);
    let placed = api.run(launch_in("ap-guangzhou-6"));
    let listed = api.instances(json!({"InstanceIds": placed}));
    assert_eq!(
        listed["InstanceSet"][0]["Placement"]["Zone"],
        "ap-guangzhou-6"
    );
}

#[test]
fn describe_instances_answers_whole_instances() {
    let scratch = Scratch::new();
    let api = Api::new(&scratch, OWNER);
    let ids = api.run(json!({
        "ImageId": "img-487zeit5",
        "Placement": {"Zone": "ap-guangzhou-3"},
        "SystemDisk": {"DiskType": "CLOUD_SSD", "DiskSize": 60},
        "DataDisks": [{"DiskType": "CLOUD_PREMIUM", "DiskSize": 100}],
        "InternetAccessible": {"InternetMaxBandwidthOut": 10},
        "LoginSettings": {"Password": "Imagefs-Secret-9"},
        "HostName": "web-{R:1}",
        "InstanceCount": 2
    }));
    let answer = api.instances(json!({"InstanceIds": ids}));
    assert!(
        !answer.to_string().contains("Imagefs-Secret-9"),
        "the password is never shown"
    );
    let first = &answer["InstanceSet"][0];
    for member in [
        "SystemDisk",
        "DataDisks",
        "InternetAccessible",
        "VirtualPrivateCloud",
        "SecurityGroupIds",
        "LoginSettings",
        "Uuid",
        "PrivateIpAddresses",
        "PublicIpAddresses",
        "Tags",
        "ExpiredTime",
        "RenewFlag",
        "HostName",
        "StopChargingMode",
        "IsolatedSource",
        "DefaultLoginUser",
    ] {
        assert!(first.get(member).is_some(), "{member}: {first}");
    }
    assert_eq!(first["SystemDisk"]["DiskType"], "CLOUD_SSD");
    assert_eq!(first["SystemDisk"]["DiskSize"], 60);
    assert_eq!(first["DataDisks"][0]["DiskSize"], 100);
    assert_eq!(first["DataDisks"][0]["DeleteWithInstance"], true);
    assert_eq!(
        first["InternetAccessible"],
        json!({
            "InternetChargeType": "TRAFFIC_POSTPAID_BY_HOUR",
            "InternetMaxBandwidthOut": 10,
            "PublicIpAssigned": true,
            "BandwidthPackageId": "",
            "InternetServiceProvider": "BGP",
            "IPv4AddressType": "",
            "IPv6AddressType": "",
            "AntiDDoSPackageId": ""
        })
    );
    assert_eq!(first["PublicIpAddresses"].as_array().map(Vec::len), Some(1));
    assert_eq!(first["DefaultLoginUser"], "ubuntu");
    assert_eq!(first["Tags"], json!([]));
    assert_eq!(first["LoginSettings"], json!({"KeyIds": []}));
    let hosts: Vec<&str> = answer["InstanceSet"]
        .as_array()
        .expect("InstanceSet")
        .iter()
        .map(|i| i["HostName"].as_str().expect("HostName"))
        .collect();
    let mut hosts = hosts.clone();
    hosts.sort_unstable();
    assert_eq!(hosts, ["web-1", "web-2"]);
    let second = &answer["InstanceSet"][1];
    assert_eq!(
        first["VirtualPrivateCloud"]["VpcId"],
        second["VirtualPrivateCloud"]["VpcId"]
    );
    assert_eq!(first["SecurityGroupIds"], second["SecurityGroupIds"]);
    // The instance's own network may be named; another one may not.
    let network = json!({
        "ImageId": "img-9qabwvbn",
        "Placement": {"Zone": "ap-guangzhou-3"},
        "VirtualPrivateCloud": {
            "VpcId": first["VirtualPrivateCloud"]["VpcId"],
            "SubnetId": first["VirtualPrivateCloud"]["SubnetId"]
        },
        "SecurityGroupIds": first["SecurityGroupIds"]
    });
    api.run(network.clone());
    let mut elsewhere = network;
    elsewhere["VirtualPrivateCloud"]["VpcId"] = json!("vpc-zzzzzzzz");
    assert_eq!(
        code(&api.call("RunInstances", &elsewhere)),
        "InvalidParameterValue.VpcIdNotExist"
    );
}

#[test]
fn describe_instances_filters_and_pages() {
    let scratch = Scratch::new();
    let api = Api::new(&scratch, OWNER);
    let web = api.run(json!({
        "ImageId": "img-9qabwvbn",
        "Placement": {"Zone": "ap-guangzhou-3"},
        "InstanceName": "web-{R:1}",
        "InstanceCount": 2
    }));
    let db = api.run(json!({
        "ImageId": "img-9qabwvbn",
        "Placement": {"Zone": "ap-guangzhou-4"},
        "InstanceName": "db"
    }));
    let filtered = |filters: Value| api.instances(json!({"Filters": filters}));
    let names = |answer: &Value| -> Vec<String> {
        let mut names: Vec<String> = answer["InstanceSet"]
            .as_array()
            .expect("InstanceSet")
            .iter()
            .map(|i| i["InstanceName"].as_str().expect("name").to_string())
            .collect();
        names.sort();
        names
    };
    let none = filtered(json!([{"Name": "instance-name", "Values": ["nomatch"]}]));
    assert_eq!(none["TotalCount"], 0, "{none}");
    assert_eq!(
        names(&filtered(
            json!([{"Name": "instance-name", "Values": ["web"]}])
        )),
        ["web-1", "web-2"]
    );
    let in_zone = filtered(json!([{"Name": "zone", "Values": ["ap-guangzhou-4"]}]));
    assert_eq!(ids(&json!([in_zone["InstanceSet"][0]["InstanceId"]])), db);
    let by_id = filtered(json!([
        {"Name": "instance-id", "Values": [web[0], db[0]]},
        {"Name": "instance-state", "Values": ["RUNNING"]}
    ]));
    assert_eq!(by_id["TotalCount"], 2);
    for (filters, expected) in [
        (
            json!([{"Name": "flavour", "Values": ["x"]}]),
            "InvalidFilter",
        ),
        (
            json!([{"Name": "zone", "Values": ["a", "b", "c", "d", "e", "f"]}]),
            "InvalidFilterValue.LimitExceeded",
        ),
        (
            json!([{"Name": "private-ip-address", "Values": ["10.0.0"]}]),
            "InvalidParameterValue.IPAddressMalformed",
        ),
        (
            json!([{"Name": "zone", "Values": ["ap-shanghai-2"]}]),
            "InvalidZone.MismatchRegion",
        ),
    ] {
        assert_eq!(
            code(&api.call("DescribeInstances", &json!({"Filters": filters}))),
            expected,
            "{filters}"
        );
    }
    let eleven: Vec<Value> = (0..11)
        .map(|_| json!({"Name": "instance-state", "Values": ["RUNNING"]}))
        .collect();
    assert_eq!(
        code(&api.call("DescribeInstances", &json!({"Filters": eleven}))),
        "InvalidParameterValue.LimitExceeded"
    );
    assert_eq!(
        code(&api.call(
            "DescribeInstances",
            &json!({"InstanceIds": db, "Filters": [{"Name": "zone", "Values": ["ap-guangzhou-4"]}]})
        )),
        "InvalidParameter"
    );
    let page = api.instances(json!({"Offset": 1, "Limit": 1}));
    assert_eq!(page["TotalCount"], 3);
    assert_eq!(page["InstanceSet"].as_array().map(Vec::len), Some(1));
}

#[test]
fn a_client_token_makes_a_retry_launch_nothing() {
    let scratch = Scratch::new();
    let api = Api::new(&scratch, OWNER);
    let request = json!({
        "ImageId": "img-9qabwvbn",
        "Placement": {"Zone": "ap-guangzhou-3"},
        "InstanceCount": 2,
        "ClientToken": "deploy-42"
    });
    let first = api.run(request.clone());
    assert_eq!(api.run(request.clone()), first);
    assert_eq!(api.instances(json!({}))["TotalCount"], 2);
    let mut too_long = request;
    too_long["ClientToken"] = json!("x".repeat(65));
    assert_eq!(
        code(&api.call("RunInstances", &too_long)),
        "InvalidClientToken.TooLong"
    );
}

#[test]
fn charge_types_are_kept() {
    let scratch = Scratch::new();
    let api = Api::new(&scratch, OWNER);
    let prepaid = api.run(json!({
        "ImageId": "img-9qabwvbn",
        "Placement": {"Zone": "ap-guangzhou-3"},
        "InstanceChargeType": "PREPAID",
        "InstanceChargePrepaid": {"Period": 1, "RenewFlag": "NOTIFY_AND_AUTO_RENEW"}
    }));
    let instance = &api.instances(json!({"InstanceIds": prepaid}))["InstanceSet"][0];
    assert_eq!(instance["InstanceChargeType"], "PREPAID");
    assert_eq!(instance["RenewFlag"], "NOTIFY_AND_AUTO_RENEW");
    let created = instance["CreatedTime"].as_str().expect("CreatedTime");
    let expired = instance["ExpiredTime"].as_str().expect("ExpiredTime");
    assert!(expired > created, "{created} {expired}");
    assert_eq!(
        instance["InternetAccessible"]["InternetChargeType"],
        "BANDWIDTH_PREPAID"
    );
    let spot = api.run(json!({
        "ImageId": "img-9qabwvbn",
        "Placement": {"Zone": "ap-guangzhou-3"},
        "InstanceChargeType": "SPOTPAID"
    }));
    let instance = &api.instances(json!({"InstanceIds": spot}))["InstanceSet"][0];
    assert_eq!(instance["InstanceChargeType"], "SPOTPAID");
    assert!(instance["ExpiredTime"].is_null());
    let by_charge = api
        .instances(json!({"Filters": [{"Name": "instance-charge-type", "Values": ["PREPAID"]}]}));
    assert_eq!(by_charge["TotalCount"], 1);
    assert_eq!(
        code(&api.call(
            "RunInstances",
            &json!({"ImageId": "img-9qabwvbn", "Placement": {"Zone": "ap-guangzhou-3"}, "InstanceChargeType": "PREPAID"})
        )),
        "MissingParameter"
    );
    assert_eq!(
        code(&api.call(
            "RunInstances",
            &json!({"ImageId": "img-9qabwvbn", "Placement": {"Zone": "ap-guangzhou-3"}, "InstanceChargeType": "PREPAID", "InstanceChargePrepaid": {"Period": 7.5}})
        )),
        "InvalidParameter"
    );
    assert_eq!(
        code(&api.call(
            "RunInstances",
            &json!({"ImageId": "img-9qabwvbn", "Placement": {"Zone": "ap-guangzhou-3"}, "InstanceChargeType": "PREPAID", "InstanceChargePrepaid": {"Period": 13}})
        )),
        "InvalidPeriod"
    );
}

#[test]
fn up_to_500_instances_with_numbered_names() {
    let scratch = Scratch::new();
    let api = Api::new(&scratch, OWNER);
    let mut batch = launch_in("ap-guangzhou-3");
    batch["InstanceCount"] = json!(501);
    assert_eq!(
        code(&api.call("RunInstances", &batch)),
        "InvalidParameterValue.Range"
    );
    batch["InstanceCount"] = json!(500);
    batch["InstanceName"] = json!("node-{R:1,F:3}");
    assert_eq!(api.run(batch).len(), 500);
    let named = |name: &str| {
        api.instances(json!({"Filters": [{"Name": "instance-name", "Values": [name]}]}))
            ["TotalCount"]
            .clone()
    };
    assert_eq!(named("node-001"), 1);
    assert_eq!(named("node-500"), 1);
    assert_eq!(named("node-501"), 0);
}

#[test]
fn terminated_instances_show_terminating_then_go() {
    let scratch = Scratch::new();
    let server = SlowServer::start(&scratch, OWNER, "1.5");
    let api = &server.api;
    let ids = api.run(launch_in("ap-guangzhou-3"));
    let state = || {
        let answer = api.ok("DescribeInstancesStatus", &json!({"InstanceIds": ids}));
        answer["InstanceStatusSet"][0]["InstanceState"]
            .as_str()
            .unwrap_or("gone")
            .to_string()
    };
    assert_eq!(state(), "PENDING");
    assert_eq!(
        code(&api.call("TerminateInstances", &json!({"InstanceIds": ids}))),
        "UnsupportedOperation.InstanceStatePending"
    );
    eventually("RUNNING", || state() == "RUNNING");
    api.ok("TerminateInstances", &json!({"InstanceIds": ids}));
    assert_eq!(state(), "TERMINATING");
    let listed = api.instances(json!({}));
    assert_eq!(listed["TotalCount"], 1);
    assert_eq!(listed["InstanceSet"][0]["InstanceState"], "TERMINATING");
    assert_eq!(
        listed["InstanceSet"][0]["LatestOperation"],
        "TerminateInstances"
    );
    assert_eq!(
        code(&api.call("TerminateInstances", &json!({"InstanceIds": ids}))),
        "UnsupportedOperation.InstanceStateTerminating"
    );
    eventually("the instance to go", || state() == "gone");
    assert_eq!(api.instances(json!({}))["TotalCount"], 0);
    assert_eq!(
        code(&api.call("TerminateInstances", &json!({"InstanceIds": ids}))),
        "InvalidInstanceId.NotFound"
    );
}

/// The official Python SDK, over GET: nested members and filters flattened into the query
/// (`Placement.Zone=`, `Filters.0.Values.0=`), and the new DescribeInstancesStatus.
#[test]
fn the_python_sdk_sees_zones_filters_and_states() {
    if !have_python_sdk() {
        return;
    }
    let scratch = Scratch::new();
    let url = scratch.server_url();
    let key = scratch.key_pair(OWNER);
    let call = |action: &str, params: Value| -> Value {
        let out = std::process::Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/call.py"))
            .args([&url, &key.0, &key.1, "", "TC3-HMAC-SHA256", "GET", action])
            .arg(params.to_string())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .expect("python3");
        let said = stdout(&out);
        let answer = said
            .strip_prefix("ok ")
            .unwrap_or_else(|| panic!("{action}: {said}{}", stderr(&out)));
        serde_json::from_str(answer).expect("JSON")
    };
    let zones = call("DescribeZones", json!({}));
    assert_eq!(zones["ZoneSet"][2]["ZoneId"], "100003");
    let launched = call(
        "RunInstances",
        json!({
            "ImageId": "img-9qabwvbn",
            "Placement": {"Zone": "ap-guangzhou-4"},
            "InstanceCount": 2,
            "InstanceName": "api-{R:7}",
            "SystemDisk": {"DiskType": "CLOUD_BSSD", "DiskSize": 80},
            "InstanceChargeType": "PREPAID",
            "InstanceChargePrepaid": {"Period": 12}
        }),
    );
    assert_eq!(ids(&launched["InstanceIdSet"]).len(), 2);
    let found = call(
        "DescribeInstances",
        json!({"Filters": [{"Name": "instance-name", "Values": ["api-8"]}]}),
    );
    assert_eq!(found["TotalCount"], 1, "{found}");
    let instance = &found["InstanceSet"][0];
    assert_eq!(instance["Placement"]["Zone"], "ap-guangzhou-4");
    assert_eq!(instance["SystemDisk"]["DiskType"], "CLOUD_BSSD");
    assert_eq!(instance["SystemDisk"]["DiskSize"], 80);
    assert_eq!(instance["InstanceChargeType"], "PREPAID");
    assert!(instance["ExpiredTime"].is_string(), "{instance}");
    assert!(instance["VirtualPrivateCloud"]["VpcId"]
        .as_str()
        .is_some_and(|v| v.starts_with("vpc-")));
    let states = call("DescribeInstancesStatus", json!({"Limit": 1}));
    assert_eq!(states["TotalCount"], 2);
    assert_eq!(states["InstanceStatusSet"][0]["InstanceState"], "RUNNING");
}

// ---- The filesystem ----

fn mounted_launch(mount: &Mount, text: &str) -> std::io::Result<Vec<String>> {
    let file = mount.region(GZ).join("public/img-9qabwvbn/launch");
    command(&file, text)?;
    Ok(read(&file).lines().map(str::to_owned).collect())
}

/// A bare count launches into the region's first available zone; JSON may name a zone, which
/// must be one of the region's; a batch goes up to 500.
#[test]
fn launch_uses_real_zones_and_batches_of_500() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount_with(None, &["--transition-delay", "0"]);
    let ids = mounted_launch(&mount, "1").expect("launch");
    let instance = mount.region(GZ).join("instances").join(&ids[0]);
    let meta = json(&instance.join("metadata.json"));
    assert_eq!(meta["Placement"]["Zone"], "ap-guangzhou-2");
    assert_eq!(meta["SystemDisk"]["DiskType"], "CLOUD_PREMIUM");
    assert_eq!(
        meta["InternetAccessible"]["InternetChargeType"],
        "TRAFFIC_POSTPAID_BY_HOUR"
    );
    assert!(meta["VirtualPrivateCloud"]["VpcId"]
        .as_str()
        .is_some_and(|v| v.starts_with("vpc-")));
    for (text, expected) in [
        (
            r#"{"Placement":{"Zone":"ap-guangzhou-99"}}"#,
            " InvalidZone.MismatchRegion ",
        ),
        (
            r#"{"Placement":{"Zone":"ap-guangzhou-1"}}"#,
            " ResourceInsufficient.AvailabilityZoneSoldOut ",
        ),
        ("501", " InvalidParameterValue.Range "),
    ] {
        assert_eq!(
            errno_of(mounted_launch(&mount, text)),
            if text == "501" || text.contains("-99") {
                libc::EINVAL
            } else {
                libc::ENOSPC
            },
            "{text}"
        );
        assert!(
            last_error(&mount).contains(expected),
            "{}",
            last_error(&mount)
        );
    }
    let prepaid = mounted_launch(
        &mount,
        r#"{"Placement":{"Zone":"ap-guangzhou-5"},"InstanceChargeType":"PREPAID","InstanceChargePrepaid":{"Period":6}}"#,
    )
    .expect("prepaid launch");
    let meta = json(
        &mount
            .region(GZ)
            .join("instances")
            .join(&prepaid[0])
            .join("metadata.json"),
    );
    assert_eq!(meta["InstanceChargeType"], "PREPAID");
    assert!(meta["ExpiredTime"].is_string(), "{meta}");
    let batch = mounted_launch(&mount, "500").expect("a batch of 500");
    assert_eq!(batch.len(), 500);
    let listed = std::fs::read_dir(mount.region(GZ).join("instances"))
        .expect("instances")
        .count();
    assert_eq!(listed, 502);
}

/// `rmdir` terminates: it succeeds, the directory stays with `state` TERMINATING for the
/// transition delay (a second `rmdir` meanwhile is refused, EBUSY), then it is gone.
#[test]
fn rmdir_shows_terminating_until_the_instance_is_gone() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount_with(None, &["--transition-delay", "1.5"]);
    let ids = mounted_launch(&mount, "1").expect("launch");
    let instance = mount.region(GZ).join("instances").join(&ids[0]);
    assert!(wait_for_content(
        &instance.join("state"),
        "RUNNING\n",
        Duration::from_secs(20)
    ));
    std::fs::remove_dir(&instance).expect("rmdir terminates");
    assert!(instance.is_dir(), "the directory stays while TERMINATING");
    assert_eq!(read(&instance.join("state")), "TERMINATING\n");
    assert_eq!(
        json(&instance.join("metadata.json"))["LatestOperation"],
        "TerminateInstances"
    );
    assert_eq!(errno_of(std::fs::remove_dir(&instance)), libc::EBUSY);
    assert!(last_error(&mount).contains(" UnsupportedOperation.InstanceStateTerminating "));
    eventually("the instance to go", || !instance.exists());
    assert!(std::fs::read_dir(mount.region(GZ).join("instances"))
        .expect("instances")
        .next()
        .is_none());
}

/// docs/SEMANTICS.md: "`regions/<r>/by-name/instances/<name>` | 0777 symlink | to
/// `../../instances/<InstanceId>`, named after `InstanceName`, when one instance of the
/// region carries the name" and "`regions/<r>/by-name/instances/<name>/` | 0555 | when
/// several instances carry the name: one symlink per instance, named after its InstanceId, to
/// `../../../instances/<InstanceId>`"; "Launches and terminations, by this mount or anyone
/// else, show at once: a name's entry changes from a link to a directory and back". Removing
/// a link is refused (`UnsupportedOperation`, `EPERM`) with an `errors` line saying to
/// terminate the instance by `rmdir` of the directory the link points to; `rmdir` of a name's
/// directory is refused (`UnsupportedOperation`, `EPERM`) with a line saying the same.
#[test]
fn instances_by_name() {
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount_with(None, &["--transition-delay", "0"]);
    let links = mount.region(GZ).join("by-name/instances");
    let names = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let is_link =
        |path: &Path| std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    let is_dir = |path: &Path| std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
    assert!(names(&links).is_empty());

    // A name one instance carries is a link.
    let web = mounted_launch(&mount, r#"{"InstanceName":"web"}"#).expect("launch web");
    let db = mounted_launch(&mount, r#"{"InstanceName":"db"}"#).expect("launch db");
    assert_eq!(names(&links), ["db", "web"]);
    assert!(is_link(&links.join("web")));
    assert_eq!(
        std::fs::read_link(links.join("web")).expect("readlink"),
        Path::new("../../instances").join(&web[0])
    );
    let through = json(&links.join("web/metadata.json"));
    assert_eq!(through["InstanceId"], web[0].as_str());
    assert_eq!(through["InstanceName"], "web");

    // A second `db` (a batch would number its names: db1, db2): the name is a directory of
    // links named after the IDs; the link the kernel looked up before is not served again.
    assert!(is_link(&links.join("db")));
    let db2 = mounted_launch(&mount, r#"{"InstanceName":"db"}"#).expect("launch db");
    let mut both = vec![db[0].clone(), db2[0].clone()];
    both.sort();
    eventually("db to become a directory", || is_dir(&links.join("db")));
    assert_eq!(names(&links), ["db", "web"]);
    let db_dir = links.join("db");
    assert_eq!(names(&db_dir), both);
    for id in &both {
        assert!(is_link(&db_dir.join(id)));
        assert_eq!(
            std::fs::read_link(db_dir.join(id)).expect("readlink"),
            Path::new("../../../instances").join(id)
        );
        let through = json(&db_dir.join(id).join("metadata.json"));
        assert_eq!(through["InstanceId"], id.as_str());
    }
    let listing = std::process::Command::new("ls")
        .arg("-l")
        .arg(&db_dir)
        .output()
        .expect("ls -l");
    let listing = String::from_utf8_lossy(&listing.stdout);
    for id in &both {
        assert!(
            listing.contains(&format!("{id} -> ../../../instances/{id}")),
            "{listing}"
        );
    }

    // rm of a link is refused and says what to do; the instance stays.
    assert_eq!(
        errno_of(std::fs::remove_file(links.join("web"))),
        libc::EPERM
    );
    let line = last_error(&mount);
    assert!(
        line.contains(" UnsupportedOperation ")
            && line.contains("rmdir the directory the link points to"),
        "{line}"
    );
    assert_eq!(
        errno_of(std::fs::remove_file(db_dir.join(&both[0]))),
        libc::EPERM
    );
    let line = last_error(&mount);
    assert!(
        line.contains(&format!(
            " unlink /regions/{GZ}/by-name/instances/db/{} ",
            both[0]
        )) && line.contains("rmdir the directory the link points to"),
        "{line}"
    );
    // So is rmdir of a name's directory.
    assert_eq!(errno_of(std::fs::remove_dir(&db_dir)), libc::EPERM);
    let line = last_error(&mount);
    assert!(
        line.contains(&format!(
            " rmdir /regions/{GZ}/by-name/instances/db UnsupportedOperation "
        )) && line.contains("rmdir the directory its link points to"),
        "{line}"
    );
    assert!(links.join("web").exists());
    assert_eq!(names(&db_dir), both);

    // Terminating one of the two `db` makes the name a link again, to the other.
    std::fs::remove_dir(mount.region(GZ).join("instances").join(&both[0])).expect("terminate");
    eventually("db to become a link again", || is_link(&links.join("db")));
    assert_eq!(names(&links), ["db", "web"]);
    assert_eq!(
        std::fs::read_link(links.join("db")).expect("readlink"),
        Path::new("../../instances").join(&both[1])
    );

    // Launched by someone else (the API, on the same store): the change feed shows it.
    let api = Api::new(&scratch, OWNER);
    let other = api.run(json!({"ImageId": "img-9qabwvbn", "InstanceName": "web",
        "Placement": {"Zone": "ap-guangzhou-2"}}));
    eventually("web to become a directory", || is_dir(&links.join("web")));
    let mut webs = vec![web[0].clone(), other[0].clone()];
    webs.sort();
    assert_eq!(names(&links.join("web")), webs);
}
