//! Cloud Custodian (`c7n-tencentcloud`) against `imagefs serve`, at its defaults but for a
//! proxy and a trusted certificate authority: it has no endpoint setting, so it reaches serve
//! the way a user behind a corporate proxy would. `HTTPS_PROXY` names a CONNECT proxy in this
//! test that leads every `*.tencentcloudapi.com:443` tunnel to `imagefs serve --tls-cert`,
//! whose certificate a test CA signed for the cloud's names; custodian verifies servers
//! against certifi's bundle, so the test CA is appended to a copy of that bundle.
//! `.ci/run` installs custodian; in CI (`CI` set) its absence fails the test.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::{json, Value};

const OWNER: &str = "100000000001";
const REGION: &str = "ap-guangzhou";
/// A public image every region offers (CentOS 7.6).
const PUBLIC_IMAGE: &str = "img-9qabwvbn";
/// The domain of the cloud's endpoints, which the proxy leads to serve.
const CLOUD_DOMAIN: &str = "tencentcloudapi.com";

/// A test certificate authority and a server certificate it signed for the cloud's endpoint
/// names, made with the openssl command.
struct Certificates {
    authority: PathBuf,
    server: PathBuf,
    server_key: PathBuf,
}

/// Runs openssl in `dir` with `args` (split at spaces).
fn openssl(args: &str, dir: &Path) {
    let out = Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl {args}: {}", stderr(&out));
}

fn certificates(dir: &Path) -> Certificates {
    std::fs::create_dir_all(dir).expect("certificates dir");
    openssl(
        "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=imagefs-test-CA \
         -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
         -keyout ca.key -out ca.pem",
        dir,
    );
    openssl(
        "req -new -newkey rsa:2048 -nodes -subj /CN=tencentcloudapi.com \
         -keyout server.key -out server.csr",
        dir,
    );
    // Custodian puts the region inside each endpoint's name (`cvm.ap-guangzhou.…`), which
    // `*.tencentcloudapi.com` does not cover: a wildcard stands for one label.
    std::fs::write(
        dir.join("server.ext"),
        format!(
            "basicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\n\
             subjectKeyIdentifier=hash\n\
             authorityKeyIdentifier=keyid\n\
             subjectAltName=DNS:{CLOUD_DOMAIN},DNS:*.{CLOUD_DOMAIN},DNS:*.{REGION}.{CLOUD_DOMAIN}\n"
        ),
    )
    .expect("server.ext");
    openssl(
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
         -extfile server.ext -out server.pem",
        dir,
    );
    Certificates {
        authority: dir.join("ca.pem"),
        server: dir.join("server.pem"),
        server_key: dir.join("server.key"),
    }
}

/// A `certifi` first on PYTHONPATH whose bundle is certifi's own plus the test CA: what a user
/// gets by appending a CA to the bundle `python3 -m certifi` names. Returns the PYTHONPATH.
fn certifi_with(authority: &Path, dir: &Path) -> PathBuf {
    let out = Command::new("python3")
        .args(["-m", "certifi"])
        .output()
        .expect("python3");
    assert!(out.status.success(), "python3 -m certifi: {}", stderr(&out));
    let mut bundle = read(Path::new(stdout(&out).trim()));
    bundle.push('\n');
    bundle.push_str(&read(authority));
    let package = dir.join("certifi");
    std::fs::create_dir_all(&package).expect("certifi shim");
    let bundle_path = dir.join("cacert.pem");
    std::fs::write(&bundle_path, bundle).expect("bundle");
    std::fs::write(
        package.join("__init__.py"),
        format!(
            "def where():\n    return {:?}\n\ndef contents():\n    return open(where()).read()\n",
            bundle_path.display().to_string()
        ),
    )
    .expect("certifi shim");
    dir.to_path_buf()
}

/// The loopback CONNECT proxy: tunnels `tencentcloudapi.com` and its subdomains on port 443 to
/// `upstream`, refuses anything else with 403, and keeps the authorities it was asked for.
struct Proxy {
    address: SocketAddr,
    asked: Arc<Mutex<Vec<(String, bool)>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Proxy {
    fn start(upstream: SocketAddr) -> Proxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("proxy listener");
        let address = listener.local_addr().expect("proxy address");
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        connect(request, upstream, log.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        Proxy {
            address,
            asked,
            _runtime: runtime,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The authorities tunnelled (`true`) or refused (`false`), in the order asked.
    fn asked(&self) -> Vec<(String, bool)> {
        self.asked.lock().expect("lock").clone()
    }
}

type ProxyAnswer = hyper::Response<http_body_util::Empty<hyper::body::Bytes>>;

/// Answers one request to the proxy: a CONNECT to the cloud's endpoints becomes a tunnel.
async fn connect(
    request: hyper::Request<hyper::body::Incoming>,
    upstream: SocketAddr,
    log: Arc<Mutex<Vec<(String, bool)>>>,
) -> Result<ProxyAnswer, std::convert::Infallible> {
    let authority = request.uri().authority().cloned();
    let tunnelled = request.method() == hyper::Method::CONNECT
        && authority.as_ref().is_some_and(|a| {
            let host = a.host().to_ascii_lowercase();
            a.port_u16() == Some(443)
                && (host == CLOUD_DOMAIN || host.ends_with(&format!(".{CLOUD_DOMAIN}")))
        });
    let named = authority.map(|a| a.to_string()).unwrap_or_default();
    log.lock().expect("lock").push((named, tunnelled));
    if !tunnelled {
        let mut refused = hyper::Response::new(http_body_util::Empty::new());
        *refused.status_mut() = hyper::StatusCode::FORBIDDEN;
        return Ok(refused);
    }
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(request).await else {
            return;
        };
        let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else {
            return;
        };
        let mut client = hyper_util::rt::TokioIo::new(upgraded);
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    });
    Ok(hyper::Response::new(http_body_util::Empty::new()))
}

/// `imagefs serve` with TLS, stopped on drop.
struct TlsServer {
    child: std::process::Child,
    address: SocketAddr,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_tls(store: &Path, certificates: &Certificates) -> TlsServer {
    let (child, url) = start_server(
        store,
        &[
            "--tls-cert".as_ref(),
            certificates.server.as_os_str(),
            "--tls-key".as_ref(),
            certificates.server_key.as_os_str(),
        ],
    );
    let address = url
        .strip_prefix("https://")
        .unwrap_or_else(|| panic!("not https: {url}"))
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    TlsServer { child, address }
}

/// One signed call to `api` at `url`; its `Response`, which must not be an error.
fn call(url: &str, key: &(String, String), api: (&str, &str), action: &str, body: Value) -> Value {
    let response = signed_api_call(url, key, REGION, api, action, &body, 0);
    assert!(
        response.get("Error").is_none(),
        "{} {action} {body}: {response}",
        api.0
    );
    response
}

/// Launches an instance named `name`; returns its ID.
fn launch(url: &str, key: &(String, String), name: &str) -> String {
    let launched = call(
        url,
        key,
        CVM_API,
        "RunInstances",
        json!({
            "ImageId": PUBLIC_IMAGE,
            "Placement": {"Zone": format!("{REGION}-3")},
            "InstanceName": name,
        }),
    );
    launched["InstanceIdSet"][0]
        .as_str()
        .expect("an instance")
        .to_string()
}

/// Makes a custom image named `name` from `instance`; returns its ID.
fn image(url: &str, key: &(String, String), instance: &str, name: &str) -> String {
    let made = call(
        url,
        key,
        CVM_API,
        "CreateImage",
        json!({"InstanceId": instance, "ImageName": name}),
    );
    made["ImageId"].as_str().expect("an image").to_string()
}

/// Tags resources (six-segment names) with `env=VALUE` through the tag service.
fn tag_env(url: &str, key: &(String, String), resources: &[String], value: &str) {
    call(
        url,
        key,
        TAG_API,
        "TagResources",
        json!({"ResourceList": resources, "Tags": [{"TagKey": "env", "TagValue": value}]}),
    );
}

fn qcs(kind: &str, id: &str) -> String {
    format!("qcs::cvm:{REGION}:uin/{OWNER}:{kind}/{id}")
}

/// Custodian's policies: production images whose names start `web-` (their `env` tag renamed
/// `stage`, which custodian does with the tag service's ModifyResourceTags), and running
/// production instances whose names start `web-`.
const POLICIES: &str = r#"policies:
  - name: prod-web-images
    resource: tencentcloud.ami
    filters:
      - "tag:env": prod
      - type: value
        key: ImageName
        op: glob
        value: "web-*"
      - ImageState: NORMAL
    actions:
      - type: rename-tag
        old_key: env
        new_key: stage
  - name: prod-web-instances
    resource: tencentcloud.cvm
    filters:
      - "tag:env": prod
      - type: value
        key: InstanceName
        op: regex
        value: "^web-"
      - InstanceState: RUNNING
"#;

/// The IDs (`id_member`) of the resources custodian wrote for `policy`.
fn matched(output: &Path, policy: &str, id_member: &str) -> BTreeSet<String> {
    let resources = json(&output.join(policy).join("resources.json"));
    resources
        .as_array()
        .unwrap_or_else(|| panic!("{policy}: not a list: {resources}"))
        .iter()
        .map(|r| {
            r[id_member]
                .as_str()
                .unwrap_or_else(|| panic!("{policy}: no {id_member} in {r}"))
                .to_string()
        })
        .collect()
}

/// Whether custodian and openssl are here (in CI their absence fails the test).
fn have_tools() -> bool {
    have("custodian", &["version"], "pip install c7n-tencentcloud")
        && have("openssl", &["version"], "apt-get install openssl")
}

/// Serve over TLS with the test CA's certificate, behind the proxy, for custodian to reach.
struct Cloud {
    certificates: Certificates,
    proxy: Proxy,
    _server: TlsServer,
}

impl Cloud {
    fn start(scratch: &Scratch) -> Cloud {
        let certificates = certificates(&scratch.path().join("tls"));
        let server = serve_tls(&scratch.store(), &certificates);
        let proxy = Proxy::start(server.address);
        Cloud {
            certificates,
            proxy,
            _server: server,
        }
    }

    /// `custodian run` of `policies` as `key`, its output in the scratch's `output`; the test
    /// CA is added to certifi's bundle if `trusted`.
    fn custodian(
        &self,
        scratch: &Scratch,
        key: &(String, String),
        policies: &str,
        trusted: bool,
    ) -> (std::process::Output, PathBuf) {
        let home = scratch.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        let policy_file = scratch.path().join("policies.yml");
        std::fs::write(&policy_file, policies).expect("policies");
        let output = scratch.path().join("output");
        let mut command = Command::new("custodian");
        command
            .arg("run")
            .args(["--region", REGION, "--cache-period", "0", "-s"])
            .arg(&output)
            .arg(&policy_file)
            .env("TENCENTCLOUD_SECRET_ID", &key.0)
            .env("TENCENTCLOUD_SECRET_KEY", &key.1)
            .env_remove("TENCENTCLOUD_TOKEN")
            .env_remove("TENCENTCLOUD_REGION")
            .env("HTTPS_PROXY", self.proxy.url())
            .env("https_proxy", self.proxy.url())
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .env_remove("PYTHONPATH")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("HOME", &home);
        if trusted {
            let python = scratch.path().join("python");
            command.env(
                "PYTHONPATH",
                certifi_with(&self.certificates.authority, &python),
            );
        }
        (command.output().expect("custodian"), output)
    }
}

#[test]
fn cloud_custodian_finds_tagged_images_and_instances_through_a_proxy() {
    if !have_tools() {
        return;
    }
    let scratch = Scratch::new();
    let key = scratch.key_pair(OWNER);

    // The account's resources, made and tagged through the API over plain HTTP.
    let url = scratch.server_url();
    let web_a = launch(&url, &key, "web-a");
    let web_b = launch(&url, &key, "web-b");
    let db_a = launch(&url, &key, "db-a");
    let web_prod = image(&url, &key, &web_a, "web-golden");
    let web_dev = image(&url, &key, &web_b, "web-canary");
    let db_prod = image(&url, &key, &db_a, "db-golden");
    let web_untagged = image(&url, &key, &web_a, "web-scratch");
    let prod = [
        qcs("image", &web_prod),
        qcs("image", &db_prod),
        qcs("instance", &web_a),
        qcs("instance", &db_a),
    ];
    tag_env(&url, &key, &prod, "prod");
    tag_env(
        &url,
        &key,
        &[qcs("image", &web_dev), qcs("instance", &web_b)],
        "dev",
    );

    let cloud = Cloud::start(&scratch);
    let (out, output) = cloud.custodian(&scratch, &key, POLICIES, true);
    let said = format!("stdout:\n{}\nstderr:\n{}", stdout(&out), stderr(&out));
    assert!(out.status.success(), "custodian failed\n{said}");
    assert_eq!(
        matched(&output, "prod-web-images", "ImageId"),
        BTreeSet::from([web_prod.clone()]),
        "{web_untagged} is untagged, {web_dev} is dev, {db_prod} is not web-\n{said}"
    );
    assert_eq!(
        matched(&output, "prod-web-instances", "InstanceId"),
        BTreeSet::from([web_a.clone()]),
        "{web_b} is dev, {db_a} is not web-\n{said}"
    );
    // The selected image's `env` became `stage`, with its value; the others kept theirs.
    let described = call(
        &url,
        &key,
        CVM_API,
        "DescribeImages",
        json!({"ImageIds": [&web_prod, &web_dev, &db_prod]}),
    );
    let tags: BTreeMap<&str, &Value> = described["ImageSet"]
        .as_array()
        .expect("an image set")
        .iter()
        .map(|i| (i["ImageId"].as_str().expect("an ID"), &i["Tags"]))
        .collect();
    assert_eq!(
        tags[web_prod.as_str()],
        &json!([{"Key": "stage", "Value": "prod"}]),
        "{said}"
    );
    assert_eq!(
        tags[web_dev.as_str()],
        &json!([{"Key": "env", "Value": "dev"}])
    );
    assert_eq!(
        tags[db_prod.as_str()],
        &json!([{"Key": "env", "Value": "prod"}])
    );
    // Everything custodian asked for went through the proxy to the cloud's names.
    let asked = cloud.proxy.asked();
    let hosts: BTreeSet<&str> = asked.iter().map(|(a, _)| a.as_str()).collect();
    for service in ["sts", "cvm", "tag"] {
        let authority = format!("{service}.{REGION}.{CLOUD_DOMAIN}:443");
        assert!(
            hosts.contains(authority.as_str()),
            "{authority} not in {asked:?}"
        );
    }
    assert!(asked.iter().all(|(_, tunnelled)| *tunnelled), "{asked:?}");
}

/// Custodian verifies the server: without the test CA in its bundle it stops at its first
/// call (sts GetCallerIdentity), though the proxy led it to serve.
#[test]
fn cloud_custodian_refuses_a_server_it_does_not_trust() {
    if !have_tools() {
        return;
    }
    let scratch = Scratch::new();
    let key = scratch.key_pair(OWNER);
    let cloud = Cloud::start(&scratch);
    let (out, _) = cloud.custodian(&scratch, &key, POLICIES, false);
    let said = format!("stdout:\n{}\nstderr:\n{}", stdout(&out), stderr(&out));
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("CERTIFICATE_VERIFY_FAILED"), "{said}");
    let sts = format!("sts.{REGION}.{CLOUD_DOMAIN}:443");
    assert_eq!(cloud.proxy.asked().first(), Some(&(sts, true)), "{said}");
}

#[test]
fn the_proxy_refuses_other_hosts() {
    let proxy = Proxy::start("127.0.0.1:9".parse().expect("address"));
    let refused = |request: &str| {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(proxy.address).expect("proxy");
        stream.write_all(request.as_bytes()).expect("request");
        let mut answer = [0u8; 12];
        stream.read_exact(&mut answer).expect("answer");
        String::from_utf8_lossy(&answer).into_owned()
    };
    for request in [
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        "CONNECT cvm.tencentcloudapi.com:80 HTTP/1.1\r\nHost: cvm.tencentcloudapi.com:80\r\n\r\n",
        "CONNECT eviltencentcloudapi.com:443 HTTP/1.1\r\nHost: eviltencentcloudapi.com:443\r\n\r\n",
        "GET http://cvm.tencentcloudapi.com/ HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\n\r\n",
    ] {
        assert_eq!(refused(request), "HTTP/1.1 403", "{request}");
    }
    assert!(proxy.asked().iter().all(|(_, tunnelled)| !tunnelled));
}
