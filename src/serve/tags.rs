//! The tag service (API version 2018-08-13) over the same store and accounts: TagResources,
//! UnTagResources, ModifyResourceTags, GetResources, GetTags, GetTagKeys, DescribeResourceTagsByResourceIds and
//! DescribeResourceTags, for custom images and instances named as the cloud names them
//! (`qcs::cvm:REGION:uin/ACCOUNT:image/img-...`, `.../instance/ins-...`). Requests need no
//! region: each resource names its own. The rules of a tag are the backend's
//! (`local/tags.rs`); the limits of a request and its paging are here, as the tag API's
//! documentation gives them.

use std::collections::BTreeSet;

use super::Context;
use crate::error::{Code, Error, Result};
use crate::model::api::tags::{
    DescribeResourceTagsByResourceIdsRequest, DescribeResourceTagsByResourceIdsResponse,
    DescribeResourceTagsRequest, DescribeResourceTagsResponse, GetResourcesRequest,
    GetResourcesResponse, GetTagKeysRequest, GetTagKeysResponse, GetTagsRequest, GetTagsResponse,
    ModifyResourceTagsRequest, ModifyResourceTagsResponse, ResourceTagMapping, TagFilter,
    TagResource, TagResourcesRequest, TagResourcesResponse, UnTagResourcesRequest,
    UnTagResourcesResponse,
};
use crate::model::tags::{ResourceName, TaggedResource, CVM_SERVICE};
use crate::model::Tag;
use crate::service::ImageService;

/// Resources (and tags, tag keys) one TagResources or UnTagResources takes ("N: 0~9"), and
/// one GetResources names.
const PER_REQUEST: usize = 10;
/// Resource IDs one DescribeResourceTagsByResourceIds takes.
const IDS_PER_REQUEST: usize = 50;
/// Tag filters of GetResources, and values of one filter.
const MAX_FILTERS: usize = 6;
const MAX_FILTER_VALUES: usize = 10;
/// Tag keys one GetTags takes.
const MAX_GET_TAGS_KEYS: usize = 20;

fn too_many(code: Code, what: &str, limit: usize) -> Error {
    Error::new(code, format!("at most {limit} {what} in one request"))
}

/// The resources a request names, each of the caller's account (an empty account segment
/// is the caller's) and of a region the store has.
fn resources(cx: &Context, names: &[String]) -> Result<Vec<TaggedResource>> {
    let regions = cx.service.regions()?;
    let account = cx.service.account()?.account_id;
    names
        .iter()
        .map(|name| {
            let read = ResourceName::parse(name)?;
            if read.account.as_ref().is_some_and(|a| *a != account) {
                return Err(Error::new(
                    Code::InvalidParameterValueUinInvalid,
                    format!("`{name}` is a resource of another account than {account}"),
                ));
            }
            region_known(&regions, &read.resource.region)?;
            Ok(read.resource)
        })
        .collect()
}

fn region_known(regions: &[crate::model::Region], region: &str) -> Result<()> {
    if regions.iter().any(|r| r.region == region) {
        Ok(())
    } else {
        Err(Error::new(
            Code::InvalidParameterValueRegionInvalid,
            format!("region `{region}` does not exist"),
        ))
    }
}

pub(super) fn tag_resources(
    cx: &Context,
    request: TagResourcesRequest,
) -> Result<TagResourcesResponse> {
    if request.resource_list.len() > PER_REQUEST {
        return Err(too_many(
            Code::LimitExceededResourceNumPerRequest,
            "resources",
            PER_REQUEST,
        ));
    }
    if request.tags.len() > PER_REQUEST {
        return Err(too_many(
            Code::LimitExceededTagNumPerRequest,
            "tags",
            PER_REQUEST,
        ));
    }
    let resources = resources(cx, &request.resource_list)?;
    let tags: Vec<Tag> = request.tags.iter().map(Tag::from).collect();
    cx.service.tag_resources(&resources, &tags)?;
    Ok(TagResourcesResponse::default())
}

pub(super) fn untag_resources(
    cx: &Context,
    request: UnTagResourcesRequest,
) -> Result<UnTagResourcesResponse> {
    if request.resource_list.len() > PER_REQUEST {
        return Err(too_many(
            Code::LimitExceededResourceNumPerRequest,
            "resources",
            PER_REQUEST,
        ));
    }
    if request.tag_keys.len() > PER_REQUEST {
        return Err(too_many(
            Code::LimitExceededTagNumPerRequest,
            "tag keys",
            PER_REQUEST,
        ));
    }
    let resources = resources(cx, &request.resource_list)?;
    cx.service.untag_resources(&resources, &request.tag_keys)?;
    Ok(UnTagResourcesResponse::default())
}

/// One list of ModifyResourceTags: it may be left out, but not given empty, and holds at most
/// 10 items (the SDK's documentation of `ReplaceTags` and `DeleteTags`).
fn modify_list<T>(member: &str, list: Option<Vec<T>>) -> Result<Vec<T>> {
    match list {
        None => Ok(Vec::new()),
        Some(list) if list.is_empty() => Err(Error::new(
            Code::InvalidParameter,
            format!("{member} may be left out but not given empty"),
        )),
        Some(list) if list.len() > PER_REQUEST => Err(too_many(
            Code::LimitExceededTagNumPerRequest,
            member,
            PER_REQUEST,
        )),
        Some(list) => Ok(list),
    }
}

/// ModifyResourceTags: one resource takes `ReplaceTags` and loses `DeleteTags`, in one change.
pub(super) fn modify_resource_tags(
    cx: &Context,
    request: ModifyResourceTagsRequest,
) -> Result<ModifyResourceTagsResponse> {
    if request.replace_tags.is_none() && request.delete_tags.is_none() {
        return Err(Error::new(
            Code::MissingParameter,
            "ModifyResourceTags needs ReplaceTags or DeleteTags",
        ));
    }
    let replace: Vec<Tag> = modify_list("ReplaceTags", request.replace_tags)?
        .iter()
        .map(Tag::from)
        .collect();
    let delete: Vec<String> = modify_list("DeleteTags", request.delete_tags)?
        .into_iter()
        .map(|t| t.tag_key)
        .collect();
    let resource = resources(cx, std::slice::from_ref(&request.resource))?;
    let [resource] = &resource[..] else {
        return Err(Error::internal("one resource name read as several"));
    };
    cx.service
        .modify_resource_tags(resource, &replace, &delete)?;
    Ok(ModifyResourceTagsResponse::default())
}

/// Checks GetResources' tag filters.
fn check_filters(filters: &[TagFilter]) -> Result<()> {
    if filters.len() > MAX_FILTERS {
        return Err(too_many(
            Code::InvalidParameterValueTagFiltersLengthExceeded,
            "tag filters",
            MAX_FILTERS,
        ));
    }
    if filters.iter().any(|f| {
        f.tag_value
            .as_ref()
            .is_some_and(|v| v.len() > MAX_FILTER_VALUES)
    }) {
        return Err(too_many(
            Code::InvalidParameterValueTagFilters,
            "values in a tag filter",
            MAX_FILTER_VALUES,
        ));
    }
    Ok(())
}

/// Whether tags hold every filter's key, with one of its values (any, when it has none).
fn matches(tags: &[Tag], filters: &[TagFilter]) -> bool {
    filters.iter().all(|f| {
        tags.iter().any(|t| {
            t.key == f.tag_key
                && f.tag_value
                    .as_ref()
                    .is_none_or(|values| values.is_empty() || values.contains(&t.value))
        })
    })
}

/// A page of `items` after a `PaginationToken` (this server's: the offset, in decimal),
/// and the next page's token (empty after the last).
fn token_page<T>(
    items: Vec<T>,
    token: Option<&str>,
    max_results: Option<i64>,
    largest: i64,
) -> Result<(Vec<T>, String)> {
    let size = max_results.unwrap_or(50);
    if !(1..=largest).contains(&size) {
        return Err(Error::new(
            Code::InvalidParameter,
            format!("MaxResults must be 1 to {largest}, not {size}"),
        ));
    }
    let start = match token.unwrap_or_default() {
        "" => 0,
        text => text.parse::<usize>().map_err(|_| {
            Error::new(
                Code::InvalidParameterPaginationTokenInvalid,
                format!("PaginationToken `{text}` is not one this server gave"),
            )
        })?,
    };
    let size = usize::try_from(size).unwrap_or(1);
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(size).collect();
    let next = start.saturating_add(size);
    let token = if next < total {
        next.to_string()
    } else {
        String::new()
    };
    Ok((page, token))
}

/// GetResources: the named resources (each as it was named, an image under `instance/`
/// included), or every tagged one of the account, with their tags.
pub(super) fn get_resources(
    cx: &Context,
    request: GetResourcesRequest,
) -> Result<GetResourcesResponse> {
    let filters = request.tag_filters.unwrap_or_default();
    check_filters(&filters)?;
    let account = cx.service.account()?.account_id;
    let mappings: Vec<ResourceTagMapping> = match request.resource_list {
        Some(names) if !names.is_empty() => {
            if names.len() > PER_REQUEST {
                return Err(too_many(
                    Code::LimitExceededResourceNumPerRequest,
                    "resources",
                    PER_REQUEST,
                ));
            }
            let named = resources(cx, &names)?;
            let found = cx.service.resource_tags(&named)?;
            named
                .iter()
                .zip(&names)
                .filter_map(|(resource, name)| {
                    let (_, tags) = found.iter().find(|(r, _)| r == resource)?;
                    Some(mapping(name.clone(), tags))
                })
                .filter(|m| {
                    filters.is_empty()
                        || matches(&m.tags.iter().map(Tag::from).collect::<Vec<_>>(), &filters)
                })
                .collect()
        }
        _ => cx
            .service
            .tagged_resources()?
            .into_iter()
            .filter(|(_, tags)| matches(tags, &filters))
            .map(|(resource, tags)| mapping(resource.name(&account), &tags))
            .collect(),
    };
    let (page, token) = token_page(
        mappings,
        request.pagination_token.as_deref(),
        request.max_results,
        200,
    )?;
    Ok(GetResourcesResponse {
        pagination_token: token,
        resource_tag_mapping_list: page,
    })
}

fn mapping(resource: String, tags: &[Tag]) -> ResourceTagMapping {
    ResourceTagMapping {
        resource,
        tags: tags.iter().map(custom).collect(),
    }
}

/// A tag as the tag service shows it: every tag here is a user's (`Custom`).
fn custom(tag: &Tag) -> crate::model::api::tags::Tag {
    crate::model::api::tags::Tag {
        category: Some("Custom".into()),
        ..tag.into()
    }
}

/// Whether a `Category` asks for users' tags: `Custom` and `All` do, `System` does not.
fn wants_custom(category: Option<&str>) -> Result<bool> {
    match category.unwrap_or("All") {
        "All" | "Custom" => Ok(true),
        "System" => Ok(false),
        other => Err(Error::new(
            Code::InvalidParameter,
            format!("Category `{other}` is not Custom, System or All"),
        )),
    }
}

/// GetTags: the account's distinct tags, in key and value order.
pub(super) fn get_tags(cx: &Context, request: GetTagsRequest) -> Result<GetTagsResponse> {
    let keys = request.tag_keys.unwrap_or_default();
    if keys.len() > MAX_GET_TAGS_KEYS {
        return Err(too_many(
            Code::InvalidParameter,
            "TagKeys",
            MAX_GET_TAGS_KEYS,
        ));
    }
    let mut pairs = BTreeSet::new();
    if wants_custom(request.category.as_deref())? {
        for (_, tags) in cx.service.tagged_resources()? {
            for tag in tags {
                if keys.is_empty() || keys.contains(&tag.key) {
                    pairs.insert((tag.key, tag.value));
                }
            }
        }
    }
    let tags: Vec<Tag> = pairs
        .into_iter()
        .map(|(key, value)| Tag { key, value })
        .collect();
    let (page, token) = token_page(
        tags,
        request.pagination_token.as_deref(),
        request.max_results,
        1000,
    )?;
    Ok(GetTagsResponse {
        pagination_token: token,
        tags: page.iter().map(custom).collect(),
    })
}

/// GetTagKeys: the account's distinct tag keys, in order.
pub(super) fn get_tag_keys(cx: &Context, request: GetTagKeysRequest) -> Result<GetTagKeysResponse> {
    let mut keys = BTreeSet::new();
    if wants_custom(request.category.as_deref())? {
        for (_, tags) in cx.service.tagged_resources()? {
            keys.extend(tags.into_iter().map(|t| t.key));
        }
    }
    let (page, token) = token_page(
        keys.into_iter().collect(),
        request.pagination_token.as_deref(),
        request.max_results,
        1000,
    )?;
    Ok(GetTagKeysResponse {
        pagination_token: token,
        tag_keys: page,
    })
}

/// An `Offset` and `Limit` page (default 0 and 15; the offset a multiple of the limit).
fn offset_page<T>(
    items: Vec<T>,
    offset: Option<i64>,
    limit: Option<i64>,
) -> Result<(Vec<T>, u64, u64)> {
    let offset = offset.unwrap_or(0);
    let limit = limit.unwrap_or(15);
    if offset < 0 || limit < 1 {
        return Err(Error::new(
            Code::InvalidParameter,
            format!(
                "Offset {offset} and Limit {limit}: the offset is 0 or more, the limit 1 or more"
            ),
        ));
    }
    if offset % limit != 0 {
        return Err(Error::new(
            Code::InvalidParameterValueOffsetInvalid,
            format!("Offset {offset} is not a multiple of Limit {limit}"),
        ));
    }
    let (o, l) = (offset.unsigned_abs(), limit.unsigned_abs());
    let page = items
        .into_iter()
        .skip(usize::try_from(o).unwrap_or(usize::MAX))
        .take(usize::try_from(l).unwrap_or(usize::MAX))
        .collect();
    Ok((page, o, l))
}

/// One row per tag of each resource.
fn rows(found: Vec<(TaggedResource, Vec<Tag>)>) -> Vec<TagResource> {
    found
        .into_iter()
        .flat_map(|(resource, tags)| {
            tags.into_iter().map(move |tag| TagResource {
                tag_key: tag.key,
                tag_value: tag.value,
                resource_id: resource.id_str().to_string(),
                service_type: CVM_SERVICE.to_string(),
                category: Some("Custom".into()),
                ..TagResource::default()
            })
        })
        .collect()
}

fn check_service(service_type: &str) -> Result<()> {
    if service_type == CVM_SERVICE {
        Ok(())
    } else {
        Err(Error::new(
            Code::InvalidParameterValueServiceTypeInvalid,
            format!("ServiceType `{service_type}` is not cvm, the only one served here"),
        ))
    }
}

/// DescribeResourceTagsByResourceIds: the tags of resources of one prefix and region.
pub(super) fn describe_resource_tags_by_resource_ids(
    cx: &Context,
    request: DescribeResourceTagsByResourceIdsRequest,
) -> Result<DescribeResourceTagsByResourceIdsResponse> {
    check_service(&request.service_type)?;
    if request.resource_ids.len() > IDS_PER_REQUEST {
        return Err(too_many(
            Code::LimitExceededResourceNumPerRequest,
            "ResourceIds",
            IDS_PER_REQUEST,
        ));
    }
    region_known(&cx.service.regions()?, &request.resource_region)?;
    wants_custom(request.category.as_deref())?;
    let named = request
        .resource_ids
        .iter()
        .map(|id| {
            TaggedResource::from_parts(&request.resource_region, &request.resource_prefix, id)
        })
        .collect::<Result<Vec<_>>>()?;
    let all = rows(cx.service.resource_tags(&named)?);
    let total_count = all.len() as u64;
    let (tags, offset, limit) = offset_page(all, request.offset, request.limit)?;
    Ok(DescribeResourceTagsByResourceIdsResponse {
        total_count,
        offset,
        limit,
        tags,
    })
}

/// DescribeResourceTags: the tags of the account's resources, narrowed by service, prefix,
/// region and ID (one resource named whole is read as GetResources reads it: an image shared
/// with the account shows its tags).
pub(super) fn describe_resource_tags(
    cx: &Context,
    request: DescribeResourceTagsRequest,
) -> Result<DescribeResourceTagsResponse> {
    if let Some(service) = request.service_type.as_deref() {
        check_service(service)?;
    }
    let account = cx.service.account()?.account_id;
    let other_creator = request
        .create_uin
        .is_some_and(|uin| uin.to_string() != account.as_str());
    let found = match (
        &request.resource_region,
        &request.resource_prefix,
        &request.resource_id,
    ) {
        _ if other_creator || request.cos_resource_id == Some(1) => Vec::new(),
        (Some(region), Some(prefix), Some(id)) => {
            region_known(&cx.service.regions()?, region)?;
            let resource = TaggedResource::from_parts(region, prefix, id)?;
            cx.service.resource_tags(&[resource])?
        }
        (region, prefix, id) => cx
            .service
            .tagged_resources()?
            .into_iter()
            .filter(|(r, _)| {
                region.as_ref().is_none_or(|g| *g == r.region)
                    && prefix.as_ref().is_none_or(|p| p == r.prefix())
                    && id.as_ref().is_none_or(|i| i == r.id_str())
            })
            .collect(),
    };
    let all = rows(found);
    let total_count = all.len() as u64;
    let (rows, offset, limit) = offset_page(all, request.offset, request.limit)?;
    Ok(DescribeResourceTagsResponse {
        total_count,
        offset,
        limit,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(key: &str, value: &str) -> Tag {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn filters_need_every_key_with_one_of_its_values() {
        let tags = [tag("team", "web"), tag("env", "prod")];
        let filter = |key: &str, values: &[&str]| TagFilter {
            tag_key: key.into(),
            tag_value: Some(values.iter().map(|v| v.to_string()).collect()),
        };
        assert!(matches(&tags, &[]));
        assert!(matches(
            &tags,
            &[filter("team", &["api", "web"]), filter("env", &[])]
        ));
        assert!(!matches(&tags, &[filter("team", &["api"])]));
        assert!(!matches(&tags, &[filter("owner", &[])]));
        let seven: Vec<TagFilter> = (0..7).map(|i| filter(&format!("k{i}"), &[])).collect();
        assert!(check_filters(&seven)
            .expect_err("7")
            .is(Code::InvalidParameterValueTagFiltersLengthExceeded));
    }

    #[test]
    fn pages_follow_tokens_and_offsets() {
        let items: Vec<u32> = (0..5).collect();
        let (page, token) = token_page(items.clone(), None, Some(2), 200).expect("page");
        assert_eq!((page, token.as_str()), (vec![0, 1], "2"));
        let (page, token) = token_page(items.clone(), Some("4"), Some(2), 200).expect("last");
        assert_eq!((page, token.as_str()), (vec![4], ""));
        assert!(token_page(items.clone(), Some("x"), None, 200)
            .expect_err("bad token")
            .is(Code::InvalidParameterPaginationTokenInvalid));
        assert!(token_page(items.clone(), None, Some(201), 200).is_err());
        let (page, offset, limit) = offset_page(items.clone(), Some(2), Some(2)).expect("offset");
        assert_eq!((page, offset, limit), (vec![2, 3], 2, 2));
        assert!(offset_page(items, Some(1), Some(2))
            .expect_err("not a multiple")
            .is(Code::InvalidParameterValueOffsetInvalid));
    }
}
