//! The actions of the CVM API 2017-03-12 that imagefs both sends (the tencentcloud backend,
//! [`crate::tencent`]) and answers (`imagefs serve`, [`crate::serve`]): each request and its
//! answer, defined once, with the API's member names. An answer here is the `Response`
//! object's members without `RequestId`, which belongs to the envelope.
//!
//! Requests are typed from the API reference (the `Request` objects of the CVM API's spec):
//! every member the action has, of its type, required or optional as the reference says, and
//! nothing else; they are read strictly by [`read`] (members of RunInstances's objects are in
//! [`launch`]). Answers are read as the backend always has: a member that is missing or of
//! the wrong type reads as its default, and an item of a list that cannot be read is left out
//! (or kept as sent, where paging must count it).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

mod launch;
pub mod read;
pub mod tags;

pub use launch::*;
pub use read::{read_json, Request};

pub use super::lenient::Lenient;
use super::lenient::{objects, or_default, some_items};
use super::{
    AccountId, Image, ImageId, ImageOsList, ImportImageOs, Instance, InstanceId, InstanceStatus,
    OsVersion,
};
use read::{first_given, first_in_list, Given};

/// The version of the CVM API spoken and served.
pub const CVM_VERSION: &str = "2017-03-12";

/// One action of an API 3.0 service: its request, and the shape of its answer.
pub trait Action: Serialize + Request {
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
    "ExportImages": ExportImagesRequest => ExportImagesResponse,
    "DescribeImageFromFamily": DescribeImageFromFamilyRequest => DescribeImageFromFamilyResponse,
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
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DescribeRegionsRequest {}

impl Request for DescribeRegionsRequest {}

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
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DescribeZonesRequest {}

impl Request for DescribeZonesRequest {}

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
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DescribeImageQuotaRequest {}

impl Request for DescribeImageQuotaRequest {}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DescribeImageQuotaResponse {
    #[serde(deserialize_with = "or_default")]
    pub image_num_quota: u64,
}

/// GetCallerIdentity takes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetCallerIdentityRequest {}

impl Request for GetCallerIdentityRequest {}

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
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DescribeImagesRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<Filter>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Only the images this instance type can run (every image here runs on every type).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
}

impl Request for DescribeImagesRequest {}

/// `Filter` of the API: a name and values, any of which matches.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Filter {
    pub name: String,
    pub values: Vec<String>,
}

impl Filter {
    pub fn new(name: &str, values: Vec<String>) -> Filter {
        Filter {
            name: name.to_string(),
            values,
        }
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

/// ModifyImageAttribute: a new name, description, family and/or deprecation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ModifyImageAttributeRequest {
    pub image_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_family: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_deprecated: Option<bool>,
}

impl Request for ModifyImageAttributeRequest {}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModifyImageAttributeResponse {}

/// DeleteImages: all of them or none. An image's snapshots go with it, `DeleteBindedSnap` or
/// not (the emulator keeps no snapshots apart from their images).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DeleteImagesRequest {
    pub image_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_binded_snap: Option<bool>,
    /// Only check that the images could be deleted (the answer is its `RequestId` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

impl Request for DeleteImagesRequest {}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DeleteImagesResponse {}

/// CreateImage from an instance (the emulator makes no images of snapshots or data disks).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateImageRequest {
    pub image_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_description: Option<String>,
    /// `"true"` or `"false"`: a string in the API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_poweroff: Option<String>,
    /// `"true"` or `"false"`: a string in the API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sysprep: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_disk_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_ids: Option<Vec<String>>,
    /// Only check that the image could be made (the answer is its `RequestId` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_specification: Option<Vec<TagSpecification>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_family: Option<String>,
}

impl Request for CreateImageRequest {
    fn unsupported(&self) -> Option<String> {
        first_given(&[
            ("DataDiskIds", self.data_disk_ids.given()),
            ("SnapshotIds", self.snapshot_ids.given()),
        ])
    }
}

/// `TagSpecification` of the API: the tags a new resource gets.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TagSpecification {
    pub resource_type: String,
    pub tags: Vec<Tag>,
}

/// `Tag` of the API, as requests carry it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Tag {
    pub key: String,
    pub value: String,
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

/// ImportImage from an image file (the emulator imports no data disks).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ImportImageRequest {
    pub architecture: String,
    pub os_type: String,
    pub os_version: String,
    pub image_url: String,
    pub image_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_description: Option<String>,
    /// Only check the request's parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_specification: Option<Vec<TagSpecification>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_family: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import_image_data_disk_list: Option<Vec<ImportImageDataDisk>>,
}

impl Request for ImportImageRequest {
    fn unsupported(&self) -> Option<String> {
        first_given(&[(
            "ImportImageDataDiskList",
            self.import_image_data_disk_list.given(),
        )])
    }
}

/// `ImportImageDataDisk` of the API: a data disk's image file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ImportImageDataDisk {
    pub image_url: String,
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

/// ExportImages: custom images to a COS bucket (locally, a folder under the export
/// directory), one file per image in `ExportFormat`. `SnapshotIds` is not part of the API
/// yet ("暂未对外开放"), so `ImageIds` names the images.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ExportImagesRequest {
    pub bucket_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_ids: Option<Vec<String>>,
    /// RAW (the default), QCOW2, VHD or VMDK.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_format: Option<String>,
    /// One prefix per image, in the order of `ImageIds`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name_prefix_list: Option<Vec<String>>,
    /// Images here have a system disk only: every export is of the root disk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only_export_root_disk: Option<bool>,
    /// Only check that the images could be exported (the answer is its `RequestId` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// The CAM role COS writes as; the emulator has no CAM and takes any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
}

impl Request for ExportImagesRequest {}

/// ExportImages' answer: the task and each file it writes (`/<prefix>_<ImageId>_system_<SnapshotId>.<format>`
/// in the bucket); neither for a dry run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ExportImagesResponse {
    #[serde(
        deserialize_with = "or_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub task_id: Option<u64>,
    #[serde(
        deserialize_with = "or_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub cos_paths: Option<Vec<String>>,
}

/// DescribeImageFromFamily: the image a family stands for now.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DescribeImageFromFamilyRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_family: Option<String>,
}

impl Request for DescribeImageFromFamilyRequest {}

/// DescribeImageFromFamily's answer: the newest usable image of the family that is not
/// deprecated, or `null` when it has none.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DescribeImageFromFamilyResponse {
    #[serde(deserialize_with = "or_default")]
    pub image: Option<Image>,
}

/// DescribeImportImageOs takes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DescribeImportImageOsRequest {}

impl Request for DescribeImportImageOsRequest {}

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

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DescribeImageSharePermissionRequest {
    pub image_id: String,
}

impl Request for DescribeImageSharePermissionRequest {}

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
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ModifyImageSharePermissionRequest {
    pub image_id: String,
    pub account_ids: Vec<String>,
    pub permission: String,
}

impl Request for ModifyImageSharePermissionRequest {}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModifyImageSharePermissionResponse {}

// ---- Copies ----

/// SyncImages: copies of an image in other regions (the emulator encrypts none).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SyncImagesRequest {
    pub image_ids: Vec<String>,
    pub destination_regions: Vec<String>,
    /// Only check that the image could be copied (the answer is its `RequestId` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// The copies' name (the source's by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    /// Whether the answer lists the copies (an empty `ImageSet` otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_set_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypt: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
}

impl Request for SyncImagesRequest {
    fn unsupported(&self) -> Option<String> {
        first_given(&[
            ("Encrypt", self.encrypt.given()),
            ("KmsKeyId", self.kms_key_id.given()),
        ])
    }
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

/// RunInstances, every member of the reference. The emulator models the image, count, name,
/// type, charge type and zone; the other members it keeps are carried to the backend with
/// the request (the filesystem's `launch` takes the same request: `LaunchSpec`). Members
/// that name resources the emulator does not have (hosts, disks, snapshots, KMS keys,
/// clusters, templates, groups, packages) or ask for work it does not do (timers,
/// encryption) are refused.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RunInstancesRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_charge_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_charge_prepaid: Option<InstanceChargePrepaid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_disk: Option<SystemDisk>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_disks: Option<Vec<DataDisk>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtual_private_cloud: Option<VirtualPrivateCloud>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internet_accessible: Option<InternetAccessible>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_settings: Option<LoginSettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_group_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enhanced_service: Option<EnhancedService>,
    /// The idempotency token: a request repeated with it launches once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_timer: Option<ActionTimer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disaster_recover_group_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_specification: Option<Vec<TagSpecification>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_market_options: Option<InstanceMarketOptionsRequest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Only check that the instances could be launched (the answer is its `RequestId` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_topology: Option<CpuTopology>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cam_role_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hpc_cluster_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<LaunchTemplate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedicated_cluster_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chc_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition_number: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_api_termination: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_jumbo_frame: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_interfaces: Option<Vec<NetworkInterfaces>>,
}

impl Request for RunInstancesRequest {
    fn unsupported(&self) -> Option<String> {
        first_given(&[
            ("LaunchTemplate", self.launch_template.is_some()),
            ("ActionTimer", self.action_timer.is_some()),
            (
                "DisasterRecoverGroupIds",
                self.disaster_recover_group_ids.given(),
            ),
            ("PartitionNumber", self.partition_number.given()),
            ("HpcClusterId", self.hpc_cluster_id.given()),
            ("DedicatedClusterId", self.dedicated_cluster_id.given()),
            ("ChcIds", self.chc_ids.given()),
            ("NetworkInterfaces", self.network_interfaces.given()),
        ])
        .or_else(|| within("Placement", self.placement.as_ref()?.unsupported()))
        .or_else(|| within("SystemDisk", self.system_disk.as_ref()?.unsupported()))
        .or_else(|| first_in_list(&self.data_disks, "DataDisks", DataDisk::unsupported))
        .or_else(|| {
            within(
                "VirtualPrivateCloud",
                self.virtual_private_cloud.as_ref()?.unsupported(),
            )
        })
        .or_else(|| {
            within(
                "InternetAccessible",
                self.internet_accessible.as_ref()?.unsupported(),
            )
        })
    }
}

/// `member` of the object member `name`.
fn within(name: &str, member: Option<String>) -> Option<String> {
    member.map(|member| read::member_name([name, &member]))
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

/// DescribeInstances: by ID or by filters, a page at a time.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DescribeInstancesRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<Filter>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

impl Request for DescribeInstancesRequest {}

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
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DescribeInstancesStatusRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

impl Request for DescribeInstancesStatusRequest {}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DescribeInstancesStatusResponse {
    #[serde(deserialize_with = "or_default")]
    pub total_count: u64,
    #[serde(deserialize_with = "objects")]
    pub instance_status_set: Vec<InstanceStatus>,
}

/// ResetInstance: reinstall from an image (the instance's own when none is named). A new
/// password, agents and user data change nothing the emulator shows; a new system disk size,
/// host name or key pairs would, and are refused.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ResetInstanceRequest {
    pub instance_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_disk: Option<SystemDisk>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_settings: Option<LoginSettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enhanced_service: Option<EnhancedService>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
}

impl Request for ResetInstanceRequest {
    fn unsupported(&self) -> Option<String> {
        let key_ids = self
            .login_settings
            .as_ref()
            .is_some_and(|l| l.key_ids.given());
        first_given(&[
            ("SystemDisk", self.system_disk.is_some()),
            ("LoginSettings.KeyIds", key_ids),
            ("HostName", self.host_name.given()),
        ])
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ResetInstanceResponse {}

/// TerminateInstances: all of them or none (the emulator's instances hold no addresses or
/// data disks to keep, so releasing them or not is the same).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TerminateInstancesRequest {
    pub instance_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_address: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_prepaid_data_disks: Option<bool>,
}

impl Request for TerminateInstancesRequest {}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TerminateInstancesResponse {}

#[cfg(test)]
mod tests {
    //! Answers against the official example responses (tccli's examples.json), and requests as
    //! the server reads them.

    use super::*;
    use crate::error::Code;
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

    /// The request objects of the API reference's spec, for the actions served.
    fn spec() -> Value {
        serde_json::from_str(include_str!("../../tests/fixtures/cvm-api-requests.json")).unwrap()
    }

    /// A value of a spec member's type: `sample` for scalars, lists of one, objects whole.
    fn sample(spec: &Value, member: &Value, wrong: bool) -> Value {
        let kind = member["type"].as_str().unwrap();
        let inner = member["member"].as_str().unwrap();
        match (kind, inner, wrong) {
            ("string", _, false) => json!("text"),
            ("string", _, true) => json!(12345),
            ("int", _, false) => json!(7),
            ("int", _, true) => json!("7"),
            ("bool", _, false) => json!(false),
            ("bool", _, true) => json!("true"),
            ("list", _, true) => json!("not a list"),
            ("list", "string", false) => json!(["text"]),
            ("list", object, false) => json!([whole(spec, object)]),
            ("object", _, true) => json!(["not an object"]),
            ("object", object, false) => whole(spec, object),
            other => panic!("a spec type this test does not know: {other:?}"),
        }
    }

    /// An object of the spec with every member given.
    fn whole(spec: &Value, object: &str) -> Value {
        let members = spec["objects"][object].as_array().unwrap();
        Value::Object(
            members
                .iter()
                .map(|m| {
                    (
                        m["name"].as_str().unwrap().to_string(),
                        sample(spec, m, false),
                    )
                })
                .collect(),
        )
    }

    fn read_members<T: Request>(json: &Value) -> std::result::Result<T, crate::error::Error> {
        serde_path_to_error::deserialize(read::JsonReader(json))
            .map_err(|e| read::refusal(&read::path_name(e.path()), e.into_inner()))
    }

    /// `T` has exactly the members the spec gives `action`'s request, of their types, each
    /// required as the spec says, and sends back what it read.
    fn check_against_spec<T: Request + Serialize + std::fmt::Debug>(action: &str) {
        let spec = spec();
        let object = spec["actions"][action]
            .as_str()
            .unwrap_or_else(|| panic!("{action}"));
        let full = whole(&spec, object);
        let request: T = read_members(&full).unwrap_or_else(|e| panic!("{action}: {e}"));
        assert_eq!(serde_json::to_value(&request).unwrap(), full, "{action}");
        for member in spec["objects"][object].as_array().unwrap() {
            let name = member["name"].as_str().unwrap();
            let mut wrong = full.clone();
            wrong[name] = sample(&spec, member, true);
            let e = read_members::<T>(&wrong).unwrap_err();
            assert_eq!(e.code(), Code::InvalidParameter, "{action}.{name}");
            assert!(e.message().contains(&format!("`{name}")), "{action}: {e}");
            let mut without = full.clone();
            without.as_object_mut().unwrap().remove(name);
            let missing = read_members::<T>(&without);
            if member["required"].as_bool().unwrap() {
                let e = missing.unwrap_err();
                assert_eq!(e.code(), Code::MissingParameter, "{action}.{name}");
                assert!(e.message().contains(&format!("`{name}`")), "{action}: {e}");
            } else {
                assert!(missing.is_ok(), "{action}.{name} is optional");
                let mut null = full.clone();
                null[name] = Value::Null;
                assert!(read_members::<T>(&null).is_ok(), "{action}.{name}: null");
            }
        }
        let mut unknown = full.clone();
        unknown["Bogus"] = json!(1);
        let e = read_members::<T>(&unknown).unwrap_err();
        assert_eq!(e.code(), Code::UnknownParameter, "{action}");
    }

    #[test]
    fn every_request_has_the_members_of_the_spec() {
        check_against_spec::<DescribeRegionsRequest>("DescribeRegions");
        check_against_spec::<DescribeZonesRequest>("DescribeZones");
        check_against_spec::<DescribeImagesRequest>("DescribeImages");
        check_against_spec::<DescribeImageQuotaRequest>("DescribeImageQuota");
        check_against_spec::<DescribeImportImageOsRequest>("DescribeImportImageOs");
        check_against_spec::<DescribeImageSharePermissionRequest>("DescribeImageSharePermission");
        check_against_spec::<ModifyImageSharePermissionRequest>("ModifyImageSharePermission");
        check_against_spec::<ModifyImageAttributeRequest>("ModifyImageAttribute");
        check_against_spec::<SyncImagesRequest>("SyncImages");
        check_against_spec::<DeleteImagesRequest>("DeleteImages");
        check_against_spec::<CreateImageRequest>("CreateImage");
        check_against_spec::<RunInstancesRequest>("RunInstances");
        check_against_spec::<DescribeInstancesRequest>("DescribeInstances");
        check_against_spec::<ResetInstanceRequest>("ResetInstance");
        check_against_spec::<TerminateInstancesRequest>("TerminateInstances");
        check_against_spec::<ImportImageRequest>("ImportImage");
        check_against_spec::<DescribeInstancesStatusRequest>("DescribeInstancesStatus");
        check_against_spec::<ExportImagesRequest>("ExportImages");
        check_against_spec::<DescribeImageFromFamilyRequest>("DescribeImageFromFamily");
        assert_eq!(spec()["actions"].as_object().unwrap().len(), 19);
    }

    #[test]
    fn members_the_emulator_cannot_honour_are_refused_by_name() {
        let refused = |json: Value| {
            read_json::<RunInstancesRequest>(&json)
                .unwrap_err()
                .message()
                .to_string()
        };
        let launch = |extra: Value| {
            let mut request =
                json!({"ImageId": "img-9qabwvbn", "Placement": {"Zone": "ap-guangzhou-3"}});
            for (k, v) in extra.as_object().unwrap() {
                request[k] = v.clone();
            }
            request
        };
        assert!(refused(launch(
            json!({"LaunchTemplate": {"LaunchTemplateId": "lt-1"}})
        ))
        .contains("`LaunchTemplate`"));
        assert!(refused(launch(
            json!({"Placement": {"Zone": "z", "HostIds": ["host-1"]}})
        ))
        .contains("`Placement.HostIds`"));
        assert!(refused(launch(json!({"SystemDisk": {"Encrypt": true}})))
            .contains("`SystemDisk.Encrypt`"));
        assert!(refused(launch(
            json!({"DataDisks": [{"DiskSize": 50}, {"DiskSize": 50, "KmsKeyId": "k"}]})
        ))
        .contains("`DataDisks.1.KmsKeyId`"));
        // The launch gives addresses itself.
        assert!(refused(launch(json!({"VirtualPrivateCloud": {
            "VpcId": "DEFAULT", "SubnetId": "DEFAULT", "PrivateIpAddresses": ["172.16.0.9"]
        }})))
        .contains("`VirtualPrivateCloud.PrivateIpAddresses`"));
        // Kept: the launch carries them.
        let kept: RunInstancesRequest = read_json(&launch(json!({
            "UserData": "IyEvYmluL3NoCg==", "LoginSettings": {"Password": "pw", "KeyIds": ["skey-1"]},
            "DataDisks": [{"DiskSize": 50, "Encrypt": false, "KmsKeyId": ""}], "SecurityGroupIds": ["sg-1"],
            "DisasterRecoverGroupIds": [], "ClientToken": "t", "DryRun": false
        })))
        .unwrap();
        assert_eq!(kept.user_data.as_deref(), Some("IyEvYmluL3NoCg=="));
        assert_eq!(kept.data_disks.unwrap()[0].disk_size, 50);
        let sync = read_json::<SyncImagesRequest>(
            &json!({"ImageIds": ["img-1"], "DestinationRegions": ["ap-beijing"], "Encrypt": true}),
        );
        assert!(sync.unwrap_err().message().contains("`Encrypt`"));
        let reset = read_json::<ResetInstanceRequest>(
            &json!({"InstanceId": "ins-1", "LoginSettings": {"Password": "pw"}}),
        );
        assert!(reset.is_ok());
        let reset = read_json::<ResetInstanceRequest>(
            &json!({"InstanceId": "ins-1", "SystemDisk": {"DiskSize": 60}}),
        );
        assert_eq!(reset.unwrap_err().code(), Code::UnsupportedOperation);
    }

    #[test]
    fn requests_send_only_the_members_given() {
        let request = SyncImagesRequest {
            image_ids: vec!["img-qlzp4oea".to_string()],
            destination_regions: vec!["ap-shanghai".to_string()],
            image_set_required: Some(true),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"ImageIds": ["img-qlzp4oea"], "DestinationRegions": ["ap-shanghai"], "ImageSetRequired": true})
        );
        let request = ModifyImageAttributeRequest {
            image_id: "img-qlzp4oea".to_string(),
            image_name: Some("renamed".to_string()),
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
            image_id: Some("img-9qabwvbn".to_string()),
            placement: Some(Placement {
                zone: "ap-guangzhou-3".to_string(),
                ..Placement::default()
            }),
            instance_charge_prepaid: Some(InstanceChargePrepaid {
                period: 1,
                renew_flag: None,
            }),
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
        let read: RunInstancesRequest = read_members(&json!({
            "Placement": {"Zone": "ap-guangzhou-3", "ProjectId": 0},
            "SystemDisk": {"DiskType": "CLOUD_SSD", "DiskSize": 60}
        }))
        .unwrap();
        assert_eq!(read.placement.unwrap().project_id, Some(0));
        assert_eq!(read.system_disk.unwrap().disk_size, Some(60));
        assert!(
            read_members::<RunInstancesRequest>(
                &json!({"DataDisks": [{"DiskSize": 100, "Bogus": 1}]})
            )
            .is_err(),
            "unknown members refused"
        );
    }

    /// The official examples' requests (as the API reference shows them) read as their types.
    #[test]
    fn the_documented_example_requests_read() {
        fn reads<T: Request>(json: Value) {
            if let Err(e) = read_members::<T>(&json) {
                panic!("{json}: {e}");
            }
        }
        reads::<DescribeImagesRequest>(
            json!({"Filters": [{"Values": ["PRIVATE_IMAGE"], "Name": "image-type"}], "Offset": 0, "Limit": 1}),
        );
        reads::<CreateImageRequest>(json!({"InstanceId": "ins-6pb6lrmy", "ImageName": "myImage"}));
        reads::<SyncImagesRequest>(
            json!({"ImageIds": ["img-o3ycss2p"], "DestinationRegions": ["ap-guangzhou"], "ImageSetRequired": true}),
        );
        reads::<ModifyImageSharePermissionRequest>(
            json!({"AccountIds": ["1038493875"], "Permission": "SHARE", "ImageId": "img-6pb6lrmy"}),
        );
        reads::<DeleteImagesRequest>(
            json!({"ImageIds": ["img-mfih409y"], "DryRun": true, "DeleteBindedSnap": true}),
        );
        reads::<ModifyImageAttributeRequest>(
            json!({"ImageId": "img-6pb6lrmy", "ImageName": "NewImageName"}),
        );
        reads::<ImportImageRequest>(json!({
            "ImageUrl": "http://111-1251233127.cosd.myqcloud.com/Windows%20Server%202008%20R2%20x64a.vmdk",
            "ImageDescription": "sampleimage", "ImageName": "sample", "Architecture": "x86_64",
            "OsType": "CentOS", "OsVersion": "6"
        }));
        reads::<ResetInstanceRequest>(json!({
            "InstanceId": "ins-r8hr2upy", "ImageId": "img-pmqg1cw7",
            "SystemDisk": {"DiskSize": 60}, "LoginSettings": {"Password": "********"}
        }));
    }

    #[test]
    fn caller_identity_is_an_sts_action() {
        assert_eq!(GetCallerIdentityRequest::SERVICE, "sts");
        assert_eq!(DescribeImagesRequest::SERVICE, "cvm");
        assert_eq!(DescribeImagesRequest::VERSION, CVM_VERSION);
    }
}
