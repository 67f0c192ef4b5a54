//! `imagefs serve`: the local emulator over Tencent Cloud's CVM API 2017-03-12, so the official
//! SDKs, tccli and the tencentcloud backend can run against it. Requests are authenticated with
//! TC3-HMAC-SHA256 as the cloud does, with the SecretId/SecretKey pairs of the store's
//! accounts; every action runs on the same backend code as the filesystem.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::local::store::Store;
use crate::local::LocalService;
use crate::model::{
    AccountId, CreateImageSpec, Image, ImageId, ImageKind, ImportImageSpec, InstanceId, LaunchSpec,
    PlacementSpec,
};
use crate::service::{Caller, ImageService};
use crate::tencent::sign;

/// Requests served at once. A slow client holds one until it has sent its body.
const SERVE_WORKERS: usize = 16;

/// Largest request body accepted.
const MAX_BODY: usize = 1 << 20;
/// How far a request's timestamp may be from now.
const MAX_SKEW: i64 = 300;

pub struct ServeSettings {
    pub transition_delay: Option<Duration>,
    /// ImportImage reads local files only under this directory; without it, imports are refused.
    pub import_dir: Option<PathBuf>,
}

/// A request as the API sees it.
struct ApiRequest {
    service: String,
    action: String,
    version: String,
    region: String,
    params: Value,
    account: AccountId,
}

fn request_id() -> String {
    let mut bytes = [0u8; 16];
    // SAFETY: getrandom writes at most 16 bytes into the buffer.
    unsafe {
        libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0);
    }
    let h = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn envelope(result: Result<Value>) -> Value {
    let mut response = match result {
        Ok(Value::Object(map)) => Value::Object(map),
        Ok(_) => json!({}),
        Err(e) => json!({"Error": {"Code": e.code(), "Message": e.message()}}),
    };
    response["RequestId"] = json!(request_id());
    json!({ "Response": response })
}

fn header<'a>(request: &'a tiny_http::Request, name: &str) -> Option<&'a str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// Checks the request's signature exactly as the cloud does; returns the request.
fn authenticate(store: &Store, request: &tiny_http::Request, body: &[u8]) -> Result<ApiRequest> {
    let auth = header(request, "Authorization").ok_or_else(|| {
        Error::new(
            "AuthFailure.InvalidAuthorization",
            "the Authorization header is missing",
        )
    })?;
    let rest = auth.strip_prefix("TC3-HMAC-SHA256 ").ok_or_else(|| {
        Error::new(
            "AuthFailure.InvalidAuthorization",
            "only TC3-HMAC-SHA256 is accepted",
        )
    })?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed_headers = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    let bad = || {
        Error::new(
            "AuthFailure.InvalidAuthorization",
            "the Authorization header is malformed",
        )
    };
    let (credential, signed_headers, signature) = match (credential, signed_headers, signature) {
        (Some(c), Some(h), Some(s)) => (c, h, s),
        _ => return Err(bad()),
    };
    let mut scope = credential.split('/');
    let (secret_id, date, service, terminator) =
        match (scope.next(), scope.next(), scope.next(), scope.next()) {
            (Some(i), Some(d), Some(s), Some(t)) => (i, d, s, t),
            _ => return Err(bad()),
        };
    if terminator != "tc3_request" {
        return Err(bad());
    }
    let timestamp: i64 = header(request, "X-TC-Timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| Error::new("MissingParameter", "the X-TC-Timestamp header is missing"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if now.abs_diff(timestamp) > MAX_SKEW as u64 {
        return Err(Error::new(
            "AuthFailure.SignatureExpire",
            "the request timestamp is more than 5 minutes from the server's time",
        ));
    }
    if date != sign::utc_date(timestamp) {
        return Err(Error::new(
            "AuthFailure.SignatureFailure",
            "the credential date does not match the timestamp",
        ));
    }
    if header(request, "X-TC-Token").is_some_and(|t| !t.is_empty()) {
        // The cloud checks a token against the temporary credentials it issued; this server
        // issues none, so no token can be valid.
        return Err(Error::new(
            "AuthFailure.TokenFailure",
            "this server issues no temporary credentials: send requests without X-TC-Token",
        ));
    }
    let (account, secret_key) = store.key(secret_id)?.ok_or_else(|| {
        Error::new(
            "AuthFailure.SecretIdNotFound",
            "the SecretId is not known to this store",
        )
    })?;
    let action = header(request, "X-TC-Action")
        .unwrap_or_default()
        .to_string();
    let sign_action = match signed_headers {
        "content-type;host" => false,
        "content-type;host;x-tc-action" => true,
        _ => {
            return Err(Error::new(
                "AuthFailure.SignatureFailure",
                format!("unsupported SignedHeaders {signed_headers}"),
            ))
        }
    };
    let expected = sign::Request {
        secret_id,
        secret_key: &secret_key,
        service,
        host: header(request, "Host").unwrap_or_default(),
        action: &action,
        content_type: header(request, "Content-Type").unwrap_or_default(),
        timestamp,
        payload: body,
        sign_action,
    }
    .signature();
    if !constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
        return Err(Error::new(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        ));
    }
    let params: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| {
            Error::new(
                "InvalidParameter",
                format!("the request body is not JSON: {e}"),
            )
        })?
    };
    if !params.is_object() {
        return Err(Error::new(
            "InvalidParameter",
            "the request body must be a JSON object",
        ));
    }
    Ok(ApiRequest {
        service: service.to_string(),
        action,
        version: header(request, "X-TC-Version")
            .unwrap_or_default()
            .to_string(),
        region: header(request, "X-TC-Region")
            .unwrap_or_default()
            .to_string(),
        params,
        account,
    })
}

/// Compares two signatures in time that does not depend on where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn string_param(params: &Value, name: &str) -> Option<String> {
    params.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn required(params: &Value, name: &str) -> Result<String> {
    string_param(params, name)
        .ok_or_else(|| Error::new("MissingParameter", format!("{name} is required")))
}

fn string_list(params: &Value, name: &str) -> Result<Vec<String>> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    Error::new(
                        "InvalidParameter",
                        format!("{name} must be a list of strings"),
                    )
                })
            })
            .collect(),
        Some(_) => Err(Error::new(
            "InvalidParameter",
            format!("{name} must be a list"),
        )),
    }
}

fn page(params: &Value) -> Result<(usize, usize)> {
    let offset = params.get("Offset").and_then(Value::as_u64).unwrap_or(0) as usize;
    let limit = params.get("Limit").and_then(Value::as_u64).unwrap_or(20) as usize;
    if limit > 100 {
        return Err(Error::new(
            "InvalidParameterValue.InvalidParameterValueLimit",
            "Limit is at most 100",
        ));
    }
    Ok((offset, limit))
}

/// The kind under which the account sees an image in a region.
fn kind_of(service: &LocalService, region: &str, image: &ImageId) -> Result<ImageKind> {
    for kind in ImageKind::ALL {
        if service.image(region, kind, image).is_ok() {
            return Ok(kind);
        }
    }
    Err(Error::new(
        "InvalidImageId.NotFound",
        format!("no image {image} in {region}"),
    ))
}

fn describe_images(service: &LocalService, region: &str, params: &Value) -> Result<Value> {
    let ids = string_list(params, "ImageIds")?;
    let filters = match params.get("Filters") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(f)) => f.clone(),
        Some(_) => return Err(Error::new("InvalidParameter", "Filters must be a list")),
    };
    if !ids.is_empty() && !filters.is_empty() {
        return Err(Error::new(
            "InvalidParameter.InvalidParameterCoexistImageIdsFilters",
            "ImageIds and Filters cannot both be given",
        ));
    }
    if filters.len() > 10 {
        return Err(Error::new(
            "InvalidParameterValue.LimitExceeded",
            "at most 10 filters",
        ));
    }
    let (offset, limit) = page(params)?;
    let mut conditions: Vec<(String, Vec<String>)> = Vec::new();
    for f in &filters {
        let name = f
            .get("Name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let values = string_list(f, "Values")?;
        if values.len() > 5 {
            return Err(Error::new(
                "InvalidFilterValue.LimitExceeded",
                format!("filter {name} has more than 5 values"),
            ));
        }
        let known = matches!(
            name.as_str(),
            "image-id" | "image-type" | "image-name" | "platform" | "tag-key" | "tag-value"
        ) || name.starts_with("tag:");
        if !known {
            return Err(Error::new(
                "InvalidFilter",
                format!("unknown filter `{name}`"),
            ));
        }
        conditions.push((name, values));
    }
    let kinds: Vec<ImageKind> = match conditions.iter().find(|(n, _)| n == "image-type") {
        Some((_, types)) => ImageKind::ALL
            .into_iter()
            .filter(|k| types.iter().any(|t| t == k.image_type()))
            .collect(),
        // The current API lists no marketplace type unless asked for it by name.
        None => vec![ImageKind::Public, ImageKind::Custom, ImageKind::Shared],
    };
    let mut images: Vec<Image> = Vec::new();
    if ids.is_empty() {
        for kind in kinds {
            for entry in service.list_images(region, kind)? {
                images.push(service.image(region, kind, &entry.image_id)?);
            }
        }
    } else {
        for id in &ids {
            let id = ImageId::parse(id)?;
            if let Ok(kind) = kind_of(service, region, &id) {
                images.push(service.image(region, kind, &id)?);
            }
        }
    }
    let matches = |image: &Image| {
        conditions.iter().all(|(name, values)| {
            values.iter().any(|v| match name.as_str() {
                "image-id" => image.image_id.as_str() == v,
                "image-type" => image.image_type == *v,
                "image-name" => image.image_name.contains(v.as_str()),
                "platform" => image.platform.to_lowercase().contains(&v.to_lowercase()),
                "tag-key" => image.tags.iter().any(|t| t.key == *v),
                "tag-value" => image.tags.iter().any(|t| t.value == *v),
                tag => tag
                    .strip_prefix("tag:")
                    .is_some_and(|k| image.tags.iter().any(|t| t.key == k && t.value == *v)),
            })
        })
    };
    images.retain(matches);
    let total = images.len();
    let set: Vec<Image> = images.into_iter().skip(offset).take(limit).collect();
    Ok(json!({"TotalCount": total, "ImageSet": set}))
}

fn describe_instances(service: &LocalService, region: &str, params: &Value) -> Result<Value> {
    let ids = string_list(params, "InstanceIds")?;
    let (offset, limit) = page(params)?;
    let mut instances = Vec::new();
    if ids.is_empty() {
        for entry in service.list_instances(region)? {
            instances.push(service.instance(region, &entry.instance_id)?);
        }
    } else {
        for id in &ids {
            if let Ok(instance) = service.instance(region, &InstanceId::parse(id)?) {
                instances.push(instance);
            }
        }
    }
    let total = instances.len();
    let set: Vec<_> = instances.into_iter().skip(offset).take(limit).collect();
    Ok(json!({"TotalCount": total, "InstanceSet": set}))
}

/// One action, as the account of the request.
fn dispatch(store: &Arc<Store>, settings: &ServeSettings, request: &ApiRequest) -> Result<Value> {
    if request.service == "sts" && request.action == "GetCallerIdentity" {
        let id = request.account.as_str();
        return Ok(
            json!({"AccountId": id, "UserId": id, "PrincipalId": id, "Type": "RootAccount", "Arn": format!("qcs::cam::uin/{id}:uin/{id}")}),
        );
    }
    if request.service != "cvm" {
        return Err(Error::new(
            "InvalidAction",
            format!(
                "this server answers the cvm service, not {}",
                request.service
            ),
        ));
    }
    if request.version != crate::tencent::client::CVM_VERSION {
        return Err(Error::new(
            "NoSuchVersion",
            format!("version `{}` is not 2017-03-12", request.version),
        ));
    }
    let service = LocalService::open(store.clone(), Some(request.account.clone()))?
        .with_transition_delay(settings.transition_delay);
    let p = &request.params;
    let region = request.region.as_str();
    let needs_region = || -> Result<()> {
        if region.is_empty() {
            return Err(Error::new(
                "MissingParameter",
                "the X-TC-Region header is required",
            ));
        }
        service
            .regions()?
            .iter()
            .find(|r| r.region == region)
            .map(|_| ())
            .ok_or_else(|| {
                Error::new(
                    "InvalidRegion.NotFound",
                    format!("region `{region}` does not exist"),
                )
            })
    };
    match request.action.as_str() {
        "DescribeRegions" => {
            let regions: Vec<Value> = service
                .regions()?
                .into_iter()
                .map(|r| json!({"Region": r.region, "RegionName": r.region_name, "RegionState": r.region_state}))
                .collect();
            Ok(json!({"TotalCount": regions.len(), "RegionSet": regions}))
        }
        "DescribeZones" => {
            needs_region()?;
            Ok(
                json!({"TotalCount": 1, "ZoneSet": [{"Zone": format!("{region}-1"), "ZoneName": format!("{region}-1"), "ZoneId": "100001", "ZoneState": "AVAILABLE"}]}),
            )
        }
        "DescribeImages" => {
            needs_region()?;
            describe_images(&service, region, p)
        }
        "DescribeImageQuota" => {
            needs_region()?;
            Ok(json!({"ImageNumQuota": service.quota(region)?.custom_image_quota}))
        }
        "DescribeImportImageOs" => {
            needs_region()?;
            let os = service.import_os(region)?;
            Ok(
                json!({"ImportImageOsListSupported": os.import_image_os_list_supported, "ImportImageOsVersionSet": os.import_image_os_version_set}),
            )
        }
        "DescribeImageSharePermission" => {
            needs_region()?;
            let image = ImageId::parse(&required(p, "ImageId")?)?;
            let set: Vec<Value> = service
                .share_permissions(region, &image)?
                .into_iter()
                .map(|(account, created)| json!({"AccountId": account, "CreatedTime": created}))
                .collect();
            Ok(json!({"SharePermissionSet": set}))
        }
        "ModifyImageSharePermission" => {
            needs_region()?;
            let image = ImageId::parse(&required(p, "ImageId")?)?;
            let accounts = string_list(p, "AccountIds")?
                .iter()
                .map(|a| AccountId::parse(a))
                .collect::<Result<Vec<_>>>()?;
            match required(p, "Permission")?.as_str() {
                "SHARE" => service.share_image(region, &image, &accounts)?,
                "CANCEL" => service.unshare_image(region, &image, &accounts)?,
                other => {
                    return Err(Error::new(
                        "InvalidParameterValue",
                        format!("Permission `{other}` is not SHARE or CANCEL"),
                    ))
                }
            }
            Ok(json!({}))
        }
        "ModifyImageAttribute" => {
            needs_region()?;
            let image = ImageId::parse(&required(p, "ImageId")?)?;
            let name = string_param(p, "ImageName");
            let description = string_param(p, "ImageDescription");
            service.modify_image(region, &image, name.as_deref(), description.as_deref())?;
            Ok(json!({}))
        }
        "SyncImages" => {
            needs_region()?;
            let ids = string_list(p, "ImageIds")?;
            // One image per call (many destinations), as the API documents.
            let [id] = ids.as_slice() else {
                return Err(Error::new(
                    "InvalidParameterValue.LimitExceeded",
                    "SyncImages copies one image per request: give exactly one ImageIds value",
                ));
            };
            let destinations = string_list(p, "DestinationRegions")?;
            let image = ImageId::parse(id)?;
            let kind = kind_of(&service, region, &image)?;
            let set: Vec<Value> = service
                .sync_images(region, kind, &image, &destinations)?
                .into_iter()
                .map(|(target, copy)| json!({"ImageId": copy, "Region": target}))
                .collect();
            Ok(json!({"ImageSet": set}))
        }
        "DeleteImages" => {
            needs_region()?;
            let ids = string_list(p, "ImageIds")?
                .iter()
                .map(|id| ImageId::parse(id))
                .collect::<Result<Vec<_>>>()?;
            service.delete_images(region, &ids)?;
            Ok(json!({}))
        }
        "CreateImage" => {
            needs_region()?;
            let instance = InstanceId::parse(&required(p, "InstanceId")?)?;
            let spec = CreateImageSpec {
                image_name: required(p, "ImageName")?,
                image_description: string_param(p, "ImageDescription"),
                instance_id: None,
                force_poweroff: string_param(p, "ForcePoweroff"),
                sysprep: string_param(p, "Sysprep"),
            };
            Ok(json!({"ImageId": service.create_image(region, &instance, &spec)?}))
        }
        "RunInstances" => {
            needs_region()?;
            let image = ImageId::parse(&required(p, "ImageId")?)?;
            let kind = kind_of(&service, region, &image)?;
            let spec = LaunchSpec {
                instance_count: p.get("InstanceCount").and_then(Value::as_i64),
                instance_name: string_param(p, "InstanceName"),
                instance_type: string_param(p, "InstanceType"),
                instance_charge_type: string_param(p, "InstanceChargeType"),
                placement: p
                    .pointer("/Placement/Zone")
                    .and_then(Value::as_str)
                    .map(|z| PlacementSpec {
                        zone: z.to_string(),
                        project_id: None,
                    }),
                image_id: None,
            };
            let ids = service.run_instances(region, kind, &image, &spec)?;
            Ok(json!({"InstanceIdSet": ids}))
        }
        "DescribeInstances" => {
            needs_region()?;
            describe_instances(&service, region, p)
        }
        "ResetInstance" => {
            needs_region()?;
            let instance = InstanceId::parse(&required(p, "InstanceId")?)?;
            let image = match string_param(p, "ImageId") {
                Some(id) => ImageId::parse(&id)?,
                None => service.instance(region, &instance)?.image_id,
            };
            service.reset_instance(region, &instance, &image)?;
            Ok(json!({}))
        }
        "TerminateInstances" => {
            needs_region()?;
            let ids = string_list(p, "InstanceIds")?
                .iter()
                .map(|id| InstanceId::parse(id))
                .collect::<Result<Vec<_>>>()?;
            service.terminate_instances(region, &ids)?;
            Ok(json!({}))
        }
        "ImportImage" => {
            needs_region()?;
            let spec: ImportImageSpec = serde_json::from_value(json!({
                "ImageName": required(p, "ImageName")?,
                "ImageUrl": required(p, "ImageUrl")?,
                "OsType": required(p, "OsType")?,
                "OsVersion": required(p, "OsVersion")?,
                "Architecture": required(p, "Architecture")?,
                "ImageDescription": string_param(p, "ImageDescription"),
                "Force": p.get("Force").and_then(Value::as_bool).unwrap_or(false),
                "DryRun": p.get("DryRun").and_then(Value::as_bool).unwrap_or(false),
                "LicenseType": string_param(p, "LicenseType"),
                "BootMode": string_param(p, "BootMode"),
            }))
            .map_err(|e| Error::new("InvalidParameter", format!("ImportImage: {e}")))?;
            // The file is opened here, confined to the import directory; the backend reads it
            // through this very descriptor.
            let file = open_beneath(settings.import_dir.as_deref(), &spec.image_url)?;
            let spec = ImportImageSpec {
                image_url: format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file)),
                ..spec
            };
            // SAFETY: these id calls cannot fail.
            let caller = unsafe {
                Caller {
                    uid: libc::geteuid(),
                    gid: libc::getegid(),
                    pid: std::process::id(),
                }
            };
            match service.import_image(region, &spec, &caller)? {
                Some(id) => Ok(json!({"ImageId": id})),
                None => Ok(json!({})),
            }
        }
        other => Err(Error::new(
            "InvalidAction",
            format!("the action `{other}` is not served by imagefs"),
        )),
    }
}

/// Opens the local file an ImportImage names, which must lie under `--import-dir`. Every
/// component is resolved inside that directory by the kernel (`openat2` with
/// `RESOLVE_BENEATH`): no `..`, absolute path or symlink leads out, and nothing can be swapped
/// between a check and the open. A file that is missing and one that is outside get the same
/// answer, so the server reveals nothing about paths outside the directory.
fn open_beneath(dir: Option<&Path>, url: &str) -> Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    let refuse = |m: String| Error::new("InvalidParameter.InvalidParameterUrlError", m);
    let dir = dir.ok_or_else(|| {
        refuse("this server imports no files: start it with --import-dir DIR".into())
    })?;
    let not_found = || {
        Error::with_errno(
            "InvalidParameter.InvalidParameterUrlError",
            format!("{url}: no such file under the import directory"),
            libc::ENOENT,
        )
    };
    let base = dir
        .canonicalize()
        .map_err(|e| refuse(format!("import directory {}: {e}", dir.display())))?;
    let named = url.strip_prefix("file://").unwrap_or(url);
    let relative = match Path::new(named).strip_prefix(&base) {
        Ok(inside) => inside.to_path_buf(),
        Err(_) if Path::new(named).is_absolute() => return Err(not_found()),
        Err(_) => PathBuf::from(named),
    };
    let relative =
        std::ffi::CString::new(relative.as_os_str().as_encoded_bytes()).map_err(|_| not_found())?;
    let directory = std::fs::File::open(&base)
        .map_err(|e| refuse(format!("import directory {}: {e}", base.display())))?;
    // SAFETY: open_how is plain data; zeroed is a valid value to fill in.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
    use std::os::fd::AsRawFd;
    // SAFETY: valid descriptor, NUL-terminated path and a correctly sized open_how.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            directory.as_raw_fd(),
            relative.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(not_found());
    }
    // SAFETY: the kernel just returned this descriptor, owned by nothing else.
    Ok(unsafe { std::fs::File::from_raw_fd(fd as i32) })
}

/// Answers one HTTP request.
fn handle(store: &Arc<Store>, settings: &ServeSettings, mut request: tiny_http::Request) {
    let mut body = Vec::new();
    let too_large = request.body_length().is_some_and(|n| n > MAX_BODY);
    let read = request
        .as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body);
    let result = if too_large || body.len() > MAX_BODY {
        Err(Error::new(
            "InvalidParameter",
            "the request body is larger than 1 MiB",
        ))
    } else if read.is_err() {
        Err(Error::new(
            "InvalidParameter",
            "the request body could not be read",
        ))
    } else if *request.method() != tiny_http::Method::Post {
        Err(Error::new(
            "UnsupportedProtocol",
            "use POST with a JSON body",
        ))
    } else {
        authenticate(store, &request, &body).and_then(|api| {
            let result = dispatch(store, settings, &api);
            match &result {
                Ok(_) => log::info!("{} {} as {}: ok", api.action, api.region, api.account),
                Err(e) => log::info!("{} {} as {}: {e}", api.action, api.region, api.account),
            }
            result
        })
    };
    let text = envelope(result).to_string();
    let mut response = tiny_http::Response::from_string(text);
    if let Ok(h) = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]) {
        response.add_header(h);
    }
    if let Err(e) = request.respond(response) {
        log::debug!("client went away: {e}");
    }
}

/// Serves the API on `listen` until the process ends, over HTTPS when given a TLS
/// configuration. Clients reach the API server (on loopback) through the front (see
/// [`crate::front`]), which bounds how long and how many. `ready` gets the bound address.
pub fn serve(
    store: Arc<Store>,
    listen: &str,
    settings: ServeSettings,
    tls: Option<Arc<rustls::ServerConfig>>,
    ready: impl FnOnce(&str),
) -> Result<()> {
    let server = tiny_http::Server::http("127.0.0.1:0")
        .map_err(|e| Error::internal(format!("cannot listen on loopback: {e}")))?;
    let backend = server
        .server_addr()
        .to_ip()
        .map(|a| a.to_string())
        .ok_or_else(|| Error::internal("the API server has no IP address"))?;
    let listener = std::net::TcpListener::bind(listen)
        .map_err(|e| Error::internal(format!("cannot listen on {listen}: {e}")))?;
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| listen.to_string());
    std::thread::Builder::new()
        .name("imagefs-front".into())
        .spawn(move || crate::front::run(listener, tls, backend))
        .map_err(|e| Error::internal(format!("cannot start the front: {e}")))?;
    ready(&address);
    let server = Arc::new(server);
    let settings = Arc::new(settings);
    let workers: Vec<_> = (0..SERVE_WORKERS)
        .map(|_| {
            let server = server.clone();
            let store = store.clone();
            let settings = settings.clone();
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    // A bug in one request must not take a worker down with it.
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        handle(&store, &settings, request)
                    }));
                    if outcome.is_err() {
                        log::error!("a request handler panicked; the request got no answer");
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    Ok(())
}
