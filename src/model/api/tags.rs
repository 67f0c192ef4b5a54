//! The actions of Tencent Cloud's tag service (API version 2018-08-13) that imagefs both sends
//! (the tencentcloud backend, for the tags of images and instances) and answers (`imagefs
//! serve`): each request and its answer, member for member as the official SDK's models have
//! them (`tencentcloud/tag/v20180813/models.py`). Requests are read strictly, like CVM's;
//! answers leniently (a missing member reads as its default).

use serde::{Deserialize, Serialize};

use super::read::Request;
use super::Action;

/// The version of the tag API spoken and served.
pub const TAG_VERSION: &str = "2018-08-13";

macro_rules! tag_actions {
    ($($name:literal: $request:ident => $response:ident,)*) => {
        $(impl Action for $request {
            const NAME: &'static str = $name;
            const SERVICE: &'static str = "tag";
            const VERSION: &'static str = TAG_VERSION;
            type Response = $response;
        }
        impl Request for $request {})*
    };
}

tag_actions! {
    "TagResources": TagResourcesRequest => TagResourcesResponse,
    "UnTagResources": UnTagResourcesRequest => UnTagResourcesResponse,
    "GetResources": GetResourcesRequest => GetResourcesResponse,
    "GetTags": GetTagsRequest => GetTagsResponse,
    "GetTagKeys": GetTagKeysRequest => GetTagKeysResponse,
    "DescribeResourceTagsByResourceIds": DescribeResourceTagsByResourceIdsRequest => DescribeResourceTagsByResourceIdsResponse,
    "DescribeResourceTags": DescribeResourceTagsRequest => DescribeResourceTagsResponse,
    "ModifyResourceTags": ModifyResourceTagsRequest => ModifyResourceTagsResponse,
}

/// `Tag` of the tag API: a key and its value (`Category`: `Custom` or `System`; every tag
/// set here is `Custom`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Tag {
    pub tag_key: String,
    pub tag_value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

/// `TagFilter`: resources holding the key with one of the values (any value when none given).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TagFilter {
    pub tag_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_value: Option<Vec<String>>,
}

/// `FailedResource`: a resource a write could not tag or untag.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct FailedResource {
    pub resource: String,
    pub code: String,
    pub message: String,
}

/// `ResourceTagMapping`: a resource (its six-segment name) and its tags.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ResourceTagMapping {
    pub resource: String,
    pub tags: Vec<Tag>,
}

/// `TagResource`: one tag of one resource. The MD5 members are not given (imagefs computes
/// no MD5).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TagResource {
    pub tag_key: String,
    pub tag_value: String,
    pub resource_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_key_md5: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_value_md5: Option<String>,
    pub service_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

/// TagResources: binds the tags to each resource (a key it holds takes the new value).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TagResourcesRequest {
    pub resource_list: Vec<String>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TagResourcesResponse {
    pub failed_resources: Vec<FailedResource>,
}

/// UnTagResources: removes the keys from each resource.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UnTagResourcesRequest {
    pub resource_list: Vec<String>,
    pub tag_keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UnTagResourcesResponse {
    pub failed_resources: Vec<FailedResource>,
}

/// GetResources: the named resources, or every tagged one, with their tags.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GetResourcesRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_list: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_filters: Option<Vec<TagFilter>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct GetResourcesResponse {
    pub pagination_token: String,
    pub resource_tag_mapping_list: Vec<ResourceTagMapping>,
}

/// GetTags: the account's tags (key and value pairs), of the given keys or all.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GetTagsRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_keys: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct GetTagsResponse {
    pub pagination_token: String,
    pub tags: Vec<Tag>,
}

/// GetTagKeys: the account's tag keys.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GetTagKeysRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct GetTagKeysResponse {
    pub pagination_token: String,
    pub tag_keys: Vec<String>,
}

/// DescribeResourceTagsByResourceIds: the tags of resources of one service, prefix and region.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DescribeResourceTagsByResourceIdsRequest {
    pub service_type: String,
    pub resource_prefix: String,
    pub resource_ids: Vec<String>,
    pub resource_region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DescribeResourceTagsByResourceIdsResponse {
    pub total_count: u64,
    pub offset: u64,
    pub limit: u64,
    pub tags: Vec<TagResource>,
}

/// DescribeResourceTags: the tags of resources, narrowed by any of service, prefix, region
/// and resource ID.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DescribeResourceTagsRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_uin: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cos_resource_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DescribeResourceTagsResponse {
    pub total_count: u64,
    pub offset: u64,
    pub limit: u64,
    pub rows: Vec<TagResource>,
}

/// `TagKeyObject`: a tag key alone.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TagKeyObject {
    pub tag_key: String,
}

/// ModifyResourceTags: one resource takes `ReplaceTags` (a key it holds takes the new value)
/// and loses the keys of `DeleteTags`. One of the two is given; neither is an empty list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ModifyResourceTagsRequest {
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace_tags: Option<Vec<Tag>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_tags: Option<Vec<TagKeyObject>>,
}

/// ModifyResourceTags' answer: its `RequestId` only.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ModifyResourceTagsResponse {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::api::read_json;
    use serde_json::json;

    #[test]
    fn requests_read_strictly_as_the_sdk_sends_them() {
        let request: TagResourcesRequest = read_json(&json!({
            "ResourceList": ["qcs::cvm:ap-guangzhou:uin/100000000001:image/img-1a2b3c4d"],
            "Tags": [{"TagKey": "team", "TagValue": "web"}]
        }))
        .expect("reads");
        assert_eq!(request.tags[0].tag_key, "team");
        let unknown = read_json::<GetTagsRequest>(&json!({"Bogus": 1})).expect_err("unknown");
        assert!(unknown.is(crate::error::Code::UnknownParameter));
        assert_eq!(GetResourcesRequest::SERVICE, "tag");
        assert_eq!(GetResourcesRequest::VERSION, TAG_VERSION);
        let modify: ModifyResourceTagsRequest = read_json(&json!({
            "Resource": "qcs::cvm:ap-guangzhou::instance/img-1a2b3c4d",
            "ReplaceTags": [{"TagKey": "stage", "TagValue": "prod"}],
            "DeleteTags": [{"TagKey": "env"}]
        }))
        .expect("reads");
        assert_eq!(modify.delete_tags.expect("given")[0].tag_key, "env");
        let missing = read_json::<ModifyResourceTagsRequest>(&json!({"DeleteTags": []}))
            .expect_err("no Resource");
        assert!(
            missing.is(crate::error::Code::MissingParameter),
            "{missing}"
        );
        let wrong = read_json::<ModifyResourceTagsRequest>(&json!({
            "Resource": "r", "DeleteTags": [{"TagKey": "env", "TagValue": "x"}]
        }))
        .expect_err("a TagKeyObject has no value");
        assert!(wrong.is(crate::error::Code::UnknownParameter), "{wrong}");
    }

    #[test]
    fn answers_read_leniently() {
        let answer: GetResourcesResponse = serde_json::from_value(json!({
            "ResourceTagMappingList": [{"Resource": "r", "Tags": []}]
        }))
        .expect("reads");
        assert_eq!(answer.pagination_token, "");
        assert_eq!(answer.resource_tag_mapping_list[0].resource, "r");
    }
}
