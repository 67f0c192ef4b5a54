//! Tags of custom images and instances: the official Python SDK's cvm and tag clients against
//! `imagefs serve` (tests/sdk/tags.py), and the `tags` file of a mount.

mod common;

use std::process::Command;

use common::*;

const OWNER: &str = "100000000001";
const FRIEND: &str = "100000000002";

#[test]
fn the_python_sdk_runs_the_tags_story() {
    if !have_python_tag_sdk() {
        return;
    }
    let scratch = Scratch::new();
    let owner = scratch.key_pair(OWNER);
    let friend = scratch.key_pair(FRIEND);
    python_story(
        "tags.py",
        &scratch.server_url(),
        (OWNER, &owner),
        (FRIEND, &friend),
        "tags story complete\n",
    );
}

const GZ: &str = "ap-guangzhou";

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// The `tags` file of an instance and of a custom image, on both backends (the tencentcloud
/// one through `imagefs serve`'s tag service).
#[test]
fn tags_files_list_and_replace_tags() {
    quoted(
        "A `tags` file lists them, one `key=value` line each in key order. Writing to a custom \
         image's or an instance's `tags` replaces the whole set, as `name` takes the whole text: \
         each line is split at its first `=` (so `url=a=b` is key `url`, value `a=b`, and a key \
         holding `=` is set through the API, not here), empty lines are skipped, and `echo > tags` \
         (a lone newline) clears them.",
    );
    quoted(
        "A write past the start of the file continues the one before it on the same open \
         file",
    );
    if !fuse_available() {
        return;
    }
    for backend in [TestBackend::Local, TestBackend::Cloud] {
        let scratch = Scratch::new();
        let mount = scratch.mount_on(backend, OWNER);
        let instance =
            mount
                .region(GZ)
                .join("instances")
                .join(launch_one(&mount, GZ, "img-487zeit5"));
        let tags = instance.join("tags");
        assert_eq!(read(&tags), "", "{backend:?}");
        assert_eq!(mode(&tags), 0o644);
        command(&tags, "team=web\nenv=prod\n").expect("tags");
        assert_eq!(read(&tags), "env=prod\nteam=web\n", "{backend:?}");
        assert_eq!(
            json(&instance.join("metadata.json"))["Tags"],
            serde_json::json!([{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "web"}])
        );
        // A value holding `=`: the line splits at its first.
        command(&tags, "url=a=b\n").expect("a whole new set");
        assert_eq!(read(&tags), "url=a=b\n");
        command(&tags, "\n").expect("echo > tags");
        assert_eq!(read(&tags), "");
        // A shell writes a multi-line printf a line at a time, and `>>` appends: the lines
        // past the start of the file add to the set.
        let shell = |script: &str| {
            let status = std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .env("TAGS", &tags)
                .status()
                .expect("sh");
            assert!(status.success(), "{script} ({backend:?})");
        };
        shell(r#"printf 'team=web\nenv=prod\ntier=1\n' > "$TAGS""#);
        assert_eq!(read(&tags), "env=prod\nteam=web\ntier=1\n", "{backend:?}");
        shell(r#"echo tier=2 >> "$TAGS" && echo owner=alice >> "$TAGS""#);
        assert_eq!(
            read(&tags),
            "env=prod\nowner=alice\nteam=web\ntier=2\n",
            "{backend:?}"
        );
        shell(r#"printf 'only=this\n' > "$TAGS""#);
        assert_eq!(read(&tags), "only=this\n", "{backend:?}");
        command(&tags, "\n").expect("echo > tags");

        // The instance's image, made with tags, and its own tags file.
        assert!(wait_for_content(
            &instance.join("state"),
            "RUNNING\n",
            std::time::Duration::from_secs(20)
        ));
        let create = instance.join("create_image");
        command(
            &create,
            r#"{"ImageName": "tagged", "TagSpecification": [{"ResourceType": "image", "Tags": [{"Key": "env", "Value": "prod"}]}]}"#,
        )
        .expect("create_image with tags");
        let image = mount.region(GZ).join("custom").join(read(&create).trim());
        assert_eq!(read(&image.join("tags")), "env=prod\n", "{backend:?}");
        assert_eq!(mode(&image.join("tags")), 0o644);
        command(&image.join("tags"), "env=test\nowner=alice\n").expect("image tags");
        assert_eq!(read(&image.join("tags")), "env=test\nowner=alice\n");
        assert_eq!(
            json(&image.join("metadata.json"))["Tags"],
            serde_json::json!([{"Key": "env", "Value": "test"}, {"Key": "owner", "Value": "alice"}])
        );

        // An import with tags.
        let disk = scratch.path().join("app.qcow2");
        make_disk(&disk, "qcow2", "1G");
        let import = mount.region(GZ).join("import");
        let spec = format!(
            r#"{{"ImageName":"app","ImageUrl":"{}","OsType":"Ubuntu","OsVersion":"22.04","Architecture":"x86_64","TagSpecification":[{{"ResourceType":"image","Tags":[{{"Key":"app","Value":"1.4"}}]}}]}}"#,
            disk.display()
        );
        command(&import, &spec).expect("import with tags");
        let imported = mount.region(GZ).join("custom").join(read(&import).trim());
        assert_eq!(read(&imported.join("tags")), "app=1.4\n", "{backend:?}");
        let wrong_type = spec.replace(r#""ResourceType":"image""#, r#""ResourceType":"instance""#);
        assert_eq!(errno_of(command(&import, &wrong_type)), libc::EINVAL);
    }
}

/// Refusals: the tag service's codes in `errors`, with SEMANTICS' errno; shared and public
/// images show their tags read-only.
#[test]
fn tags_files_refuse_broken_tags_and_others_images() {
    quoted(
        "A line without `=` is `InvalidParameter` (`EINVAL`). The `tags` of shared, public and \
         marketplace images is read-only (0444; writing is `EPERM`).",
    );
    quoted("`LimitExceeded.ResourceAttachedTags`: `EDQUOT`");
    if !fuse_available() {
        return;
    }
    let scratch = Scratch::new();
    let mount = scratch.mount_on(TestBackend::Local, OWNER);
    let instance = mount
        .region(GZ)
        .join("instances")
        .join(launch_one(&mount, GZ, "img-487zeit5"));
    let tags = instance.join("tags");
    let too_many: String = (0..51).map(|i| format!("k{i}=v\n")).collect();
    for (text, errno, code) in [
        (
            "qcloud:x=1\n",
            libc::EINVAL,
            "InvalidParameterValue.ReservedTagKey",
        ),
        ("k=\n", libc::EINVAL, "InvalidParameterValue.TagValueEmpty"),
        ("=v\n", libc::EINVAL, "InvalidParameterValue.TagKeyEmpty"),
        (
            "k=a\tb\n",
            libc::EINVAL,
            "InvalidParameterValue.TagValueCharacterIllegal",
        ),
        (
            "k=1\nk=2\n",
            libc::EINVAL,
            "InvalidParameterValue.TagKeyDuplicate",
        ),
        ("no equals sign\n", libc::EINVAL, "InvalidParameter"),
        (
            too_many.as_str(),
            libc::EDQUOT,
            "LimitExceeded.ResourceAttachedTags",
        ),
    ] {
        assert_eq!(errno_of(command(&tags, text)), errno, "{text}");
        assert!(
            last_error(&mount).contains(code),
            "{text}: {}",
            last_error(&mount)
        );
    }
    assert_eq!(read(&tags), "", "nothing was set");

    let public = mount.region(GZ).join("public/img-487zeit5/tags");
    assert_eq!(read(&public), "");
    assert_eq!(mode(&public), 0o444);
    assert_eq!(errno_of(command(&public, "k=v\n")), libc::EPERM);

    // An image shared with a friend shows the owner's tags, read-only.
    assert!(wait_for_content(
        &instance.join("state"),
        "RUNNING\n",
        std::time::Duration::from_secs(20)
    ));
    let create = instance.join("create_image");
    command(&create, "to share").expect("create_image");
    let id = read(&create).trim().to_string();
    let image = mount.region(GZ).join("custom").join(&id);
    command(&image.join("tags"), "team=web\n").expect("tags");
    assert!(wait_for_content(
        &image.join("state"),
        "NORMAL\n",
        std::time::Duration::from_secs(20)
    ));
    let friend = scratch.mount_on(TestBackend::Local, FRIEND);
    command(&image.join("share"), FRIEND).expect("share");
    let shared = friend.region(GZ).join("shared").join(&id).join("tags");
    assert_eq!(read(&shared), "team=web\n");
    assert_eq!(mode(&shared), 0o444);
    assert_eq!(errno_of(command(&shared, "team=api\n")), libc::EPERM);
}

/// tccli's tag commands on an instance it launched, over HTTP.
#[test]
fn tccli_tags_an_instance() {
    if !have("tccli", &["--version"], "pip install tccli") {
        return;
    }
    let scratch = Scratch::new();
    let (id, key) = scratch.key_pair(OWNER);
    let endpoint = scratch.server_url();
    let home = scratch.path().join("tccli-home");
    std::fs::create_dir_all(&home).expect("home");
    let answer = |service: &str, args: &[&str]| -> serde_json::Value {
        let out = Command::new("tccli")
            .arg(service)
            .args(args)
            .args(["--region", GZ, "--endpoint", &endpoint])
            .args(["--secretId", &id, "--secretKey", &key])
            .env("HOME", &home)
            .output()
            .expect("tccli");
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        serde_json::from_str(&stdout(&out)).expect("JSON")
    };
    let launched = answer(
        "cvm",
        &[
            "RunInstances",
            "--ImageId",
            "img-9qabwvbn",
            "--Placement",
            r#"{"Zone": "ap-guangzhou-3"}"#,
        ],
    );
    let instance = launched["InstanceIdSet"][0].as_str().expect("an instance");
    let name = format!("qcs::cvm:{GZ}:uin/{OWNER}:instance/{instance}");
    answer(
        "tag",
        &[
            "TagResources",
            "--ResourceList",
            &format!(r#"["{name}"]"#),
            "--Tags",
            r#"[{"TagKey": "team", "TagValue": "web"}]"#,
        ],
    );
    let got = answer(
        "tag",
        &["GetResources", "--ResourceList", &format!(r#"["{name}"]"#)],
    );
    assert_eq!(got["ResourceTagMappingList"][0]["Resource"], name.as_str());
    assert_eq!(
        got["ResourceTagMappingList"][0]["Tags"][0]["TagValue"],
        "web"
    );
    let found = answer(
        "cvm",
        &[
            "DescribeInstances",
            "--Filters",
            r#"[{"Name": "tag-value", "Values": ["web"]}]"#,
        ],
    );
    assert_eq!(found["InstanceSet"][0]["InstanceId"], instance);
}

/// The tencentcloud backend's ModifyResourceTags, against `imagefs serve`: the replaced and
/// the deleted keys change together, and the cloud's refusal comes back with its code,
/// changing nothing.
#[test]
fn the_cloud_backend_replaces_and_deletes_tags_together() {
    use imagefs::model::tags::TaggedResource;
    use imagefs::model::{InstanceId, Tag};
    use imagefs::service::ImageService;
    use imagefs::tencent::{Client, Credentials, TencentService};

    let tag = |key: &str, value: &str| Tag {
        key: key.into(),
        value: value.into(),
    };
    let scratch = Scratch::new();
    let key = scratch.key_pair(OWNER);
    let url = scratch.server_url();
    let launched = signed_call(
        &url,
        &key,
        GZ,
        "RunInstances",
        &serde_json::json!({"ImageId": "img-487zeit5", "Placement": {"Zone": "ap-guangzhou-3"}}),
    );
    let id = launched["InstanceIdSet"][0].as_str().expect("an instance");
    let instance = TaggedResource::instance(GZ, &InstanceId::parse(id).expect("an ID"));
    let client = Client::new(
        Credentials::new(key.0.clone(), key.1.clone(), None),
        Some(url),
    );
    let cloud = TencentService::connect(client, None).expect("connect");
    let one = std::slice::from_ref(&instance);
    cloud
        .tag_resources(one, &[tag("a", "1"), tag("b", "2")])
        .expect("tag");
    cloud
        .modify_resource_tags(&instance, &[tag("a", "3"), tag("c", "4")], &["b".into()])
        .expect("modify");
    let held = cloud.resource_tags(one).expect("read");
    assert_eq!(
        held,
        vec![(instance.clone(), vec![tag("a", "3"), tag("c", "4")])]
    );
    let e = cloud
        .modify_resource_tags(&instance, &[tag("a", "5")], &["a".into()])
        .expect_err("a key in both");
    assert!(
        e.is(imagefs::error::Code::InvalidParameterValueDeleteTagsParamError),
        "{e}"
    );
    assert_eq!(cloud.resource_tags(one).expect("read"), held);
}
