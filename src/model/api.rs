//! The actions of the CVM API 2017-03-12 that imagefs both sends (the tencentcloud backend,
//! [`crate::tencent`]) and answers (`imagefs serve`, [`crate::serve`]): each request and its
//! answer, defined once, with the API's member names. An answer here is the `Response`
//! object's members without `RequestId`, which belongs to the envelope.
//!
//! Requests are read leniently (see [`Lenient`]) until typed requests land. Answers are read as
//! the backend always has: a member that is missing or of the wrong type reads as its default,
//! and an item of a list that cannot be read is left out (or kept as sent, where paging must
//! count it).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::lenient::{objects, or_default, some_items};
pub use super::lenient::{Lenient, MEMBER_READINGS};
use super::{
    AccountId, ChargePrepaidSpec, DataDiskSpec, Image, ImageId, ImageOsList, ImportImageOs,
    Instance, InstanceId, InstanceStatus, InternetAccessibleSpec, LoginSettingsSpec, OsVersion,
    SystemDiskSpec, VirtualPrivateCloudSpec,
};

/// The version of the CVM API spoken and served.
pub const CVM_VERSION: &str = "2017-03-12";

/// One action of an API 3.0 service: its request, and the shape of its answer.
pub trait Action: Serialize + DeserializeOwned {
    /// The action's name (`X-TC-Action`).
    const NAME: &'static str;
    /// The service that answers it (the host's first label and the credential scope's).
    const SERVICE: &'static str = "cvm";
    /// `X-TC-Version`.
    const VERSION: &'static str = CVM_VERSION;
    /// The answer's members.
    type Response: Serialize + DeserializeOwned;
}

macro_rules! actions {
    ($($name:literal: $request:ident => $response:ident,)*) => {
        $(impl Action for $request {
            const NAME: &'static str = $name;
            type Response = $response;
        })*
    };
}

actions! {
    "DescribeRegions": DescribeRegionsRequest => DescribeRegionsResponse,
    "DescribeZones": DescribeZonesRequest => DescribeZonesResponse,
    "DescribeImages": DescribeImagesRequest => DescribeImagesResponse,
    "DescribeImageQuota": DescribeImageQuotaRequest => DescribeImageQuotaResponse,
    "DescribeImportImageOs": DescribeImportImageOsRequest => DescribeImportImageOsResponse,
    "DescribeImageSharePermission": DescribeImageSharePermissionRequest => DescribeImageSharePermissionResponse,
    "ModifyImageSharePermission": ModifyImageSharePermissionRequest => ModifyImageSharePermissionResponse,
    "ModifyImageAttribute": ModifyImageAttributeRequest => ModifyImageAttributeResponse,
    "SyncImages": SyncImagesRequest => SyncImagesResponse,
    "DeleteImages": DeleteImagesRequest => DeleteImagesResponse,
    "CreateImage": CreateImageRequest => CreateImageResponse,
    "ImportImage": ImportImageRequest => ImportImageResponse,
    "RunInstances": RunInstancesRequest => RunInstancesResponse,
    "DescribeInstances": DescribeInstancesRequest => DescribeInstancesResponse,
    "ResetInstance": ResetInstanceRequest => ResetInstanceResponse,
    "TerminateInstances": TerminateInstancesRequest => TerminateInstancesResponse,
    "DescribeInstancesStatus": DescribeInstancesStatusRequest => DescribeInstancesStatusResponse,
}

/// sts's GetCallerIdentity (version 2018-08-13): who a key pair belongs to.
impl Action for GetCallerIdentityRequest {
    const NAME: &'static str = "GetCallerIdentity";
    const SERVICE: &'static str = "sts";
    const VERSION: &'static str = "2018-08-13";
    type Response = GetCallerIdentityResponse;
}

// ---- Regions and the account ----

/// DescribeRegions takes nothing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DescribeRegionsRequest {}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DescribeRegionsResponse {
    #[serde(deserialize_with = "or_default")]
    pub total_count: u64,
    #[serde(deserialize_with = "objects")]
    pub region_set: Vec<RegionInfo>,
}

/// `RegionInfo` of the API. An item without a `Region` is left out; one without a state is
/// taken as available.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegionInfo {
    pub region: String,
    #[serde(default, deserialize_with = "or_default")]
    pub region_name: String,
    #[serde(default = "available", deserialize_with = "state_or_available")]
    pub region_state: String,
}

fn available() -> String {
    "AVAILABLE".to_string()
}

fn state_or_available<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let value = Value::deserialize(deserializer)?;
    Ok(String::deserialize(&value).unwrap_or_else(|_| available()))
}

/// DescribeZones takes nothing (the region is the request's).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DescribeZonesRequest {}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DescribeZonesResponse {
    #[serde(deserialize_with = "or_default")]
    pub total_count: u64,
    #[serde(deserialize_with = "objects")]
    pub zone_set: Vec<ZoneInfo>,
}

/// `ZoneInfo` of the API (members missing from an answer read as empty).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ZoneInfo {
    #[serde(deserialize_with = "or_default")]
    pub zone: String,
    #[serde(deserialize_with = "or_default")]
    pub zone_name: String,
    #[serde(deserialize_with = "or_default")]
    pub zone_id: String,
    #[serde(deserialize_with = "or_default")]
    pub zone_state: String,
}

/// DescribeImageQuota takes nothing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DescribeImageQuotaRequest {}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DescribeImageQuotaResponse {
    #[serde(deserialize_with = "or_default")]
    pub image_num_quota: u64,
}

/// GetCallerIdentity takes nothing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GetCallerIdentityRequest {}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct GetCallerIdentityResponse {
    #[serde(
        deserialize_with = "or_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub account_id: Option<String>,
    #[serde(deserialize_with = "or_default")]
    pub user_id: String,
    #[serde(deserialize_with = "or_default")]
    pub principal_id: String,
    #[serde(deserialize_with = "or_default")]
    pub r#type: String,
    #[serde(deserialize_with = "or_default")]
    pub arn: String,
}

// ---- Images ----

/// DescribeImages: by ID, or by filters, a page at a time.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DescribeImagesRequest {
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub image_ids: Lenient<Vec<String>>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub filters: Lenient<Vec<Lenient<Filter>>>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub offset: Lenient<u64>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub limit: Lenient<u64>,
    /// Only the images this instance type can run.
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub instance_type: Lenient<String>,
}

/// `Filter` of the API: a name and values, any of which matches. Read only from a JSON object:
/// anything else reads as a filter without name or values (serde would read a struct from an
/// array, member by member).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub name: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub values: Lenient<Vec<String>>,
}

impl Filter {
    pub fn new(name: &str, values: Vec<String>) -> Filter {
        Filter {
            name: name.to_string().into(),
            values: values.into(),
        }
    }
}

impl<'de> Deserialize<'de> for Filter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut map = Map::<String, Value>::deserialize(deserializer)?;
        Ok(Filter {
            name: Lenient::take(&mut map, "Name"),
            values: Lenient::take(&mut map, "Values"),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DescribeImagesResponse {
    #[serde(deserialize_with = "or_default")]
    pub total_count: u64,
    /// Each image is read on its own: one that cannot be read is kept as sent, so that paging
    /// still counts it.
    #[serde(deserialize_with = "or_default")]
    pub image_set: Vec<Lenient<Image>>,
}

/// ModifyImageAttribute: a new name and/or description.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ModifyImageAttributeRequest {
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub image_id: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub image_name: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub image_description: Lenient<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModifyImageAttributeResponse {}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeleteImagesRequest {
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub image_ids: Lenient<Vec<String>>,
    /// Only check that the images could be deleted.
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub dry_run: Lenient<bool>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DeleteImagesResponse {}

/// CreateImage from an instance.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct CreateImageRequest {
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub instance_id: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub image_name: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub image_description: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub force_poweroff: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub sysprep: Lenient<String>,
    /// Only check that the image could be made.
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub dry_run: Lenient<bool>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct CreateImageResponse {
    #[serde(
        deserialize_with = "or_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub image_id: Option<String>,
}

/// ImportImage from an image file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ImportImageRequest {
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub image_name: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub image_url: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub os_type: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub os_version: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub architecture: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub image_description: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub force: Lenient<bool>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub dry_run: Lenient<bool>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub license_type: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub boot_mode: Lenient<String>,
}

/// ImportImage's answer: the new image, none for a dry run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ImportImageResponse {
    #[serde(
        deserialize_with = "or_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub image_id: Option<String>,
}

/// DescribeImportImageOs takes nothing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DescribeImportImageOsRequest {}

/// DescribeImportImageOs's answer: a missing member reads as empty, a malformed one is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeImportImageOsResponse {
    #[serde(default = "no_import_os")]
    pub import_image_os_list_supported: ImageOsList,
    #[serde(default)]
    pub import_image_os_version_set: Vec<OsVersion>,
}

fn no_import_os() -> ImageOsList {
    ImageOsList {
        windows: Vec::new(),
        linux: Vec::new(),
    }
}

impl From<ImportImageOs> for DescribeImportImageOsResponse {
    fn from(os: ImportImageOs) -> Self {
        DescribeImportImageOsResponse {
            import_image_os_list_supported: os.import_image_os_list_supported,
            import_image_os_version_set: os.import_image_os_version_set,
        }
    }
}

impl From<DescribeImportImageOsResponse> for ImportImageOs {
    fn from(answer: DescribeImportImageOsResponse) -> Self {
        ImportImageOs {
            import_image_os_list_supported: answer.import_image_os_list_supported,
            import_image_os_version_set: answer.import_image_os_version_set,
        }
    }
}

// ---- Sharing ----

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DescribeImageSharePermissionRequest {
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub image_id: Lenient<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DescribeImageSharePermissionResponse {
    #[serde(deserialize_with = "objects")]
    pub share_permission_set: Vec<SharePermission>,
}

/// `SharePermission` of the API. An item whose `AccountId` is not an account is left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SharePermission {
    #[serde(default, deserialize_with = "or_default")]
    pub created_time: String,
    pub account_id: AccountId,
}

/// ModifyImageSharePermission: `Permission` is SHARE or CANCEL.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ModifyImageSharePermissionRequest {
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub image_id: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub account_ids: Lenient<Vec<String>>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub permission: Lenient<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModifyImageSharePermissionResponse {}

// ---- Copies ----

/// SyncImages: copies of an image in other regions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct SyncImagesRequest {
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub image_ids: Lenient<Vec<String>>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub destination_regions: Lenient<Vec<String>>,
    /// Only check that the image could be copied.
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub dry_run: Lenient<bool>,
    /// The copies' name (the image's own by default).
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub image_name: Lenient<String>,
    /// Whether the answer lists the copies (an empty `ImageSet` otherwise).
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub image_set_required: Lenient<bool>,
}

/// SyncImages's answer: the copies when asked for (`ImageSetRequired`), else an empty list;
/// none at all after a dry run, which answers with its `RequestId` only.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct SyncImagesResponse {
    #[serde(
        deserialize_with = "some_objects",
        skip_serializing_if = "Option::is_none"
    )]
    pub image_set: Option<Vec<SyncImage>>,
}

/// An answer's list of objects (see [`objects`]), `None` when the answer has none.
fn some_objects<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    objects(deserializer).map(Some)
}

/// `SyncImage` of the API: one copy. An item without both members is left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SyncImage {
    pub image_id: ImageId,
    pub region: String,
}

// ---- Instances ----

/// RunInstances: the members imagefs sends and serves. The nested objects are the `launch`
/// command's own types ([`LaunchSpec`]'s), which refuse members imagefs does not model.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RunInstancesRequest {
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub image_id: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub instance_count: Lenient<i64>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub placement: Lenient<Placement>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub instance_name: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub instance_type: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub instance_charge_type: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub instance_charge_prepaid: Lenient<ChargePrepaidSpec>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub system_disk: Lenient<SystemDiskSpec>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub data_disks: Lenient<Vec<DataDiskSpec>>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub virtual_private_cloud: Lenient<VirtualPrivateCloudSpec>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub internet_accessible: Lenient<InternetAccessibleSpec>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub security_group_ids: Lenient<Vec<String>>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub login_settings: Lenient<LoginSettingsSpec>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub host_name: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub disable_api_termination: Lenient<bool>,
    /// The idempotency token: a request repeated with it launches once.
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub client_token: Lenient<String>,
    /// Only check that the instances could be launched.
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub dry_run: Lenient<bool>,
}

/// `Placement` as RunInstances takes it (its zone and project). Read only from a JSON object,
/// like [`Filter`].
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Placement {
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub zone: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub project_id: Lenient<i64>,
}

impl<'de> Deserialize<'de> for Placement {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut map = Map::<String, Value>::deserialize(deserializer)?;
        Ok(Placement {
            zone: Lenient::take(&mut map, "Zone"),
            project_id: Lenient::take(&mut map, "ProjectId"),
        })
    }
}

/// RunInstances's answer. Without an `InstanceIdSet` list it is `None`; IDs that cannot be
/// read are left out.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RunInstancesResponse {
    #[serde(
        deserialize_with = "some_items",
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_id_set: Option<Vec<InstanceId>>,
}

/// DescribeInstances: by ID or by filters, a page at a time. (The API's Offset and Limit are
/// int64; they are read as before, where a negative one is ignored.)
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DescribeInstancesRequest {
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub instance_ids: Lenient<Vec<String>>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub filters: Lenient<Vec<Lenient<Filter>>>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub offset: Lenient<u64>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub limit: Lenient<u64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DescribeInstancesResponse {
    #[serde(deserialize_with = "or_default")]
    pub total_count: u64,
    /// Each instance is read on its own (see [`read_instance`]): one that cannot be read is
    /// kept as sent, so that paging still counts it.
    #[serde(deserialize_with = "instances")]
    pub instance_set: Vec<Lenient<Instance>>,
}

fn instances<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<Lenient<Instance>>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Array(list) => list
            .into_iter()
            .map(|v| match read_instance(&v) {
                Some(instance) => Lenient::Valid(instance),
                None => Lenient::Invalid(v),
            })
            .collect(),
        _ => Vec::new(),
    })
}

/// The API's `Instance` as the filesystem shows it: members missing from the answer, or of
/// another type, get neutral values; `None` if its instance or image ID cannot be read.
pub fn read_instance(v: &Value) -> Option<Instance> {
    if !v.is_object() {
        return None;
    }
    Instance::deserialize(v).ok()
}

/// DescribeInstancesStatus: the states of instances, by ID or all, a page at a time.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DescribeInstancesStatusRequest {
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub instance_ids: Lenient<Vec<String>>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub offset: Lenient<u64>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub limit: Lenient<u64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DescribeInstancesStatusResponse {
    #[serde(deserialize_with = "or_default")]
    pub total_count: u64,
    #[serde(deserialize_with = "objects")]
    pub instance_status_set: Vec<InstanceStatus>,
}

/// ResetInstance: reinstall from an image (the instance's own when none is named).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ResetInstanceRequest {
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub instance_id: Lenient<String>,
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub image_id: Lenient<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ResetInstanceResponse {}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TerminateInstancesRequest {
    #[serde(skip_serializing_if = "Lenient::is_absent")]
    pub instance_ids: Lenient<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TerminateInstancesResponse {}

#[cfg(test)]
mod tests {
    //! Answers against the official example responses (tccli's examples.json), and requests as
    //! the server reads them.

    use super::*;
    use serde_json::json;

    fn example<A: Action>() -> A::Response {
        let all: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/cvm-api-examples.json"))
                .unwrap();
        serde_json::from_value(all[A::NAME]["Response"].clone()).unwrap()
    }

    #[test]
    fn describe_images_example_reads_into_an_image() {
        let answer = example::<DescribeImagesRequest>();
        assert_eq!(answer.total_count, 1);
        assert_eq!(answer.image_set.len(), 1);
        let image = answer.image_set[0].valid().unwrap();
        assert_eq!(image.image_id.as_str(), "img-9qabwvbn");
        assert_eq!(image.image_type, "PUBLIC_IMAGE");
        assert_eq!(image.image_size, 50);
        assert_eq!(image.sync_percent, Some(20));
        assert_eq!(image.tags[0].key, "myKey");
        // Members this older answer lacks default.
        assert_eq!(image.image_family, "");
        assert!(!image.image_deprecated);
        assert!(crate::model::parse_api_time(&image.created_time).is_some());
    }

    #[test]
    fn describe_instances_example_reads_into_an_instance() {
        let answer = example::<DescribeInstancesRequest>();
        let instance = answer.instance_set[0].valid().unwrap();
        assert_eq!(instance.instance_id.as_str(), "ins-xlsyru2j");
        assert_eq!(instance.image_id.as_str(), "img-8toqc6s3");
        assert_eq!(instance.placement.zone, "ap-guangzhou-3");
        assert_eq!(instance.instance_state, "RUNNING");
        assert_eq!(instance.cpu, 1);
        assert_eq!(
            instance.private_ip_addresses,
            vec!["172.16.32.78".to_string()]
        );
    }

    #[test]
    fn import_os_example_reads() {
        let os: ImportImageOs = example::<DescribeImportImageOsRequest>().into();
        assert!(os
            .import_image_os_list_supported
            .linux
            .contains(&"CentOS".to_string()));
        assert!(os
            .import_image_os_version_set
            .iter()
            .any(|v| v.os_name == "CentOS" && v.os_versions.contains(&"7".to_string())));
    }

    #[test]
    fn other_examples_read() {
        let regions = example::<DescribeRegionsRequest>();
        assert_eq!(regions.region_set[0].region, "ap-beijing");
        assert_eq!(regions.region_set[0].region_state, "AVAILABLE");
        assert_eq!(example::<DescribeImageQuotaRequest>().image_num_quota, 20);
        let shares = example::<DescribeImageSharePermissionRequest>();
        assert_eq!(
            shares.share_permission_set[1].account_id.as_str(),
            "101104350001"
        );
        assert_eq!(
            example::<CreateImageRequest>().image_id.as_deref(),
            Some("img-0yc6rie8")
        );
        assert_eq!(
            example::<RunInstancesRequest>().instance_id_set.unwrap()[0].as_str(),
            "ins-bfw5zq3y"
        );
        assert_eq!(example::<ImportImageRequest>().image_id, None);
        assert_eq!(example::<SyncImagesRequest>().image_set, Some(Vec::new()));
    }

    #[test]
    fn answers_with_missing_or_odd_members_read_as_before() {
        let regions: DescribeRegionsResponse = serde_json::from_value(json!({
            "RegionSet": [{"Region": "ap-x"}, {"RegionName": "no id"}, ["ap-y", "n", "s"], {"Region": "ap-z", "RegionState": 3}]
        }))
        .unwrap();
        let names: Vec<_> = regions
            .region_set
            .iter()
            .map(|r| r.region.as_str())
            .collect();
        assert_eq!(names, ["ap-x", "ap-z"]);
        assert_eq!(regions.region_set[0].region_state, "AVAILABLE");
        assert_eq!(regions.region_set[1].region_state, "AVAILABLE");
        let run: RunInstancesResponse = serde_json::from_value(json!({})).unwrap();
        assert_eq!(run.instance_id_set, None);
        let run: RunInstancesResponse =
            serde_json::from_value(json!({"InstanceIdSet": ["ins-a1b2c3d4", "bad", 5]})).unwrap();
        assert_eq!(run.instance_id_set.unwrap().len(), 1);
        let images: DescribeImagesResponse =
            serde_json::from_value(json!({"TotalCount": "2", "ImageSet": [{"ImageId": 1}]}))
                .unwrap();
        assert_eq!(images.total_count, 0);
        assert!(matches!(images.image_set[0], Lenient::Invalid(_)));
        assert!(
            serde_json::from_value::<DescribeImportImageOsResponse>(json!({})).is_ok(),
            "missing members read as empty"
        );
        assert!(serde_json::from_value::<DescribeImportImageOsResponse>(
            json!({"ImportImageOsVersionSet": 3})
        )
        .is_err());
    }

    #[test]
    fn requests_keep_members_of_the_wrong_type() {
        let request: DescribeImagesRequest = serde_json::from_value(json!({
            "ImageIds": "img-9qabwvbn",
            "Filters": [{"Name": "image-type", "Values": ["PUBLIC_IMAGE"]}, ["image-id", ["x"]], null],
            "Limit": null,
            "Offset": -1,
            "Unknown": true
        }))
        .unwrap();
        assert_eq!(request.image_ids, Lenient::Invalid(json!("img-9qabwvbn")));
        let filters = request.filters.valid().unwrap();
        assert_eq!(
            filters[0],
            Lenient::Valid(Filter::new("image-type", vec!["PUBLIC_IMAGE".into()]))
        );
        assert!(matches!(filters[1], Lenient::Invalid(_)));
        assert_eq!(filters[2], Lenient::Absent);
        assert_eq!(request.limit, Lenient::Absent);
        assert_eq!(request.offset, Lenient::Invalid(json!(-1)));
        let run: RunInstancesRequest = serde_json::from_value(json!({
            "Placement": ["ap-guangzhou-3"], "InstanceCount": "2"
        }))
        .unwrap();
        assert!(matches!(run.placement, Lenient::Invalid(_)));
        assert_eq!(run.instance_count, Lenient::Invalid(json!("2")));
    }

    #[test]
    fn requests_send_only_the_members_given() {
        let request = SyncImagesRequest {
            image_ids: vec!["img-qlzp4oea".to_string()].into(),
            destination_regions: vec!["ap-shanghai".to_string()].into(),
            image_set_required: true.into(),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"ImageIds": ["img-qlzp4oea"], "DestinationRegions": ["ap-shanghai"], "ImageSetRequired": true})
        );
        let request = ModifyImageAttributeRequest {
            image_id: "img-qlzp4oea".to_string().into(),
            image_name: "renamed".to_string().into(),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"ImageId": "img-qlzp4oea", "ImageName": "renamed"})
        );
        assert_eq!(
            serde_json::to_value(DescribeRegionsRequest {}).unwrap(),
            json!({})
        );
    }

    /// The official examples of DescribeInstancesStatus and DescribeZones (tccli's
    /// examples.json; not in the fixture file, which predates these actions here).
    #[test]
    fn status_and_zone_examples_read() {
        let status: DescribeInstancesStatusResponse = serde_json::from_value(json!({
            "TotalCount": 2,
            "InstanceStatusSet": [
                {"InstanceId": "ins-r8hr2upy", "InstanceState": "RUNNING"},
                {"InstanceId": "ins-5d8a23rs", "InstanceState": "STOPPED"}
            ]
        }))
        .unwrap();
        assert_eq!(status.total_count, 2);
        assert_eq!(
            status.instance_status_set[1].instance_id.as_str(),
            "ins-5d8a23rs"
        );
        assert_eq!(status.instance_status_set[1].instance_state, "STOPPED");
        let zones: DescribeZonesResponse = serde_json::from_value(json!({
            "TotalCount": 5,
            "ZoneSet": [
                {"ZoneState": "AVAILABLE", "ZoneId": "100003", "Zone": "ap-guangzhou-3", "ZoneName": "Guangzhou Zone 3"}
            ]
        }))
        .unwrap();
        assert_eq!(zones.zone_set[0].zone_id, "100003");
        assert_eq!(
            DescribeInstancesStatusRequest::NAME,
            "DescribeInstancesStatus"
        );
    }

    #[test]
    fn run_instances_requests_send_their_nested_members() {
        let request = RunInstancesRequest {
            image_id: "img-9qabwvbn".to_string().into(),
            placement: Placement {
                zone: "ap-guangzhou-3".to_string().into(),
                project_id: Lenient::Absent,
            }
            .into(),
            instance_charge_prepaid: ChargePrepaidSpec {
                period: 1,
                renew_flag: None,
            }
            .into(),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({
                "ImageId": "img-9qabwvbn",
                "Placement": {"Zone": "ap-guangzhou-3"},
                "InstanceChargePrepaid": {"Period": 1}
            })
        );
        let read: RunInstancesRequest = serde_json::from_value(json!({
            "Placement": {"Zone": "ap-guangzhou-3", "ProjectId": 0},
            "SystemDisk": {"DiskType": "CLOUD_SSD", "DiskSize": 60},
            "DataDisks": [{"DiskSize": 100, "Bogus": 1}]
        }))
        .unwrap();
        assert_eq!(
            read.placement.valid().unwrap().project_id,
            Lenient::Valid(0)
        );
        assert_eq!(read.system_disk.valid().unwrap().disk_size, Some(60));
        assert!(
            matches!(read.data_disks, Lenient::Invalid(_)),
            "unknown members refused"
        );
    }

    #[test]
    fn caller_identity_is_an_sts_action() {
        assert_eq!(GetCallerIdentityRequest::SERVICE, "sts");
        assert_eq!(DescribeImagesRequest::SERVICE, "cvm");
        assert_eq!(DescribeImagesRequest::VERSION, CVM_VERSION);
    }
}
