//! Images: DescribeImages, ModifyImageAttribute, DeleteImages, CreateImage and
//! DescribeImageFromFamily.

use super::{params, Context};
use crate::error::{Code, Error, Result};
use crate::model::api::{
    CreateImageRequest, CreateImageResponse, DeleteImagesRequest, DeleteImagesResponse,
    DescribeImageFromFamilyRequest, DescribeImageFromFamilyResponse, DescribeImagesRequest,
    DescribeImagesResponse, Filter, Lenient, ModifyImageAttributeRequest,
    ModifyImageAttributeResponse,
};
use crate::model::{Image, ImageChanges, ImageId, ImageKind, InstanceId};
use crate::service::ImageService;

/// A filter of DescribeImages, checked: its name and values.
type Condition = (String, Vec<String>);

pub(super) fn describe_images(
    cx: &Context,
    request: DescribeImagesRequest,
) -> Result<DescribeImagesResponse> {
    let region = cx.region()?;
    let ids = request.image_ids.unwrap_or_default();
    let filters = request.filters.unwrap_or_default();
    if !ids.is_empty() && !filters.is_empty() {
        return Err(Error::new(
            Code::InvalidParameterInvalidParameterCoexistImageIdsFilters,
            "ImageIds and Filters cannot both be given",
        ));
    }
    if filters.len() > 10 {
        return Err(Error::new(
            Code::InvalidParameterValueLimitExceeded,
            "at most 10 filters",
        ));
    }
    let (offset, limit) = params::page(
        request.offset,
        request.limit,
        Code::InvalidParameterValueInvalidParameterValueLimit,
    )?;
    // Every image here runs on every instance type RunInstances accepts: the type is checked
    // as RunInstances checks it, and filters nothing out.
    if let Some(instance_type) = request.instance_type.as_deref() {
        cx.service.check_instance_type(instance_type)?;
    }
    let conditions = conditions(filters)?;
    let mut images = if ids.is_empty() {
        listed(cx, region, &kinds(&conditions))?
    } else {
        named(cx, region, &ids)?
    };
    images.retain(|image| matches(image, &conditions));
    Ok(DescribeImagesResponse {
        total_count: images.len() as u64,
        image_set: images
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(Lenient::Valid)
            .collect(),
    })
}

/// The filters DescribeImages documents (`tag:<key>` aside).
const FILTER_NAMES: [&str; 8] = [
    "image-id",
    "image-type",
    "image-name",
    "platform",
    "tag-key",
    "tag-value",
    "dedicated-cluster-id",
    "cdc-cache-status",
];

/// Checks each filter: at most 5 values, and a name DescribeImages knows.
fn conditions(filters: Vec<Filter>) -> Result<Vec<Condition>> {
    let mut conditions = Vec::new();
    for Filter { name, values } in filters {
        if values.len() > 5 {
            return Err(Error::new(
                Code::InvalidFilterValueLimitExceeded,
                format!("filter {name} has more than 5 values"),
            ));
        }
        let known = FILTER_NAMES.contains(&name.as_str()) || name.starts_with("tag:");
        if !known {
            return Err(Error::new(
                Code::InvalidFilter,
                format!("unknown filter `{name}`"),
            ));
        }
        conditions.push((name, values));
    }
    Ok(conditions)
}

/// The kinds of image to list: those an `image-type` filter names, else all but marketplace.
fn kinds(conditions: &[Condition]) -> Vec<ImageKind> {
    match conditions.iter().find(|(n, _)| n == "image-type") {
        Some((_, types)) => ImageKind::ALL
            .into_iter()
            .filter(|k| types.iter().any(|t| t == k.image_type()))
            .collect(),
        // The current API lists no marketplace type unless asked for it by name.
        None => vec![ImageKind::Public, ImageKind::Custom, ImageKind::Shared],
    }
}

/// Every image of those kinds the account sees in the region.
fn listed(cx: &Context, region: &str, kinds: &[ImageKind]) -> Result<Vec<Image>> {
    let mut images = Vec::new();
    for &kind in kinds {
        for entry in cx.service.list_images(region, kind)? {
            images.push(cx.service.image(region, kind, &entry.image_id)?);
        }
    }
    Ok(images)
}

/// The images named by ID that the account sees (others are left out).
fn named(cx: &Context, region: &str, ids: &[String]) -> Result<Vec<Image>> {
    let mut images = Vec::new();
    for id in ids {
        let id = ImageId::parse(id)?;
        if let Ok(kind) = cx.kind_of(region, &id) {
            images.push(cx.service.image(region, kind, &id)?);
        }
    }
    Ok(images)
}

/// Whether an image passes every filter (any of a filter's values matching).
fn matches(image: &Image, conditions: &[Condition]) -> bool {
    conditions.iter().all(|(name, values)| {
        values.iter().any(|v| match name.as_str() {
            "image-id" => image.image_id.as_str() == v,
            "image-type" => image.image_type == *v,
            "image-name" => image.image_name.contains(v.as_str()),
            "platform" => image.platform.to_lowercase().contains(&v.to_lowercase()),
            "tag-key" => image.tags.iter().any(|t| t.key == *v),
            "tag-value" => image.tags.iter().any(|t| t.value == *v),
            // No dedicated cluster (CDC) holds images here: no image is cached in one.
            "dedicated-cluster-id" => false,
            "cdc-cache-status" => {
                !image.cdc_cache_status.is_empty()
                    && (v == "CACHED_ALL" || image.cdc_cache_status == *v)
            }
            tag => tag
                .strip_prefix("tag:")
                .is_some_and(|k| image.tags.iter().any(|t| t.key == k && t.value == *v)),
        })
    })
}

pub(super) fn modify_image_attribute(
    cx: &Context,
    request: ModifyImageAttributeRequest,
) -> Result<ModifyImageAttributeResponse> {
    let region = cx.region()?;
    let image = ImageId::parse(&request.image_id)?;
    cx.service
        .modify_image(region, &image, &ImageChanges::from(request))?;
    Ok(ModifyImageAttributeResponse {})
}

/// DeleteImages: all of them or none (or, as a dry run, only checked).
pub(super) fn delete_images(
    cx: &Context,
    request: DeleteImagesRequest,
) -> Result<DeleteImagesResponse> {
    let region = cx.region()?;
    let ids = params::ids(&request.image_ids, ImageId::parse)?;
    let dry_run = request.dry_run.unwrap_or(false);
    cx.service
        .dry_run_if(dry_run, || cx.service.delete_images(region, &ids))?;
    Ok(DeleteImagesResponse {})
}

/// From an instance (the emulator makes no images of snapshots: `InstanceId` is required).
pub(super) fn create_image(
    cx: &Context,
    request: CreateImageRequest,
) -> Result<CreateImageResponse> {
    let region = cx.region()?;
    let named = request.instance_id.as_deref().ok_or_else(|| {
        Error::new(
            Code::MissingParameter,
            "The request is missing a required parameter `InstanceId`.",
        )
    })?;
    // CreateImage lists no InvalidInstanceId.Malformed: a text that is no instance ID names
    // no instance.
    let instance = InstanceId::parse(named)
        .map_err(|e| Error::new(Code::InvalidInstanceIdNotFound, e.message().to_string()))?;
    // A dry run makes no image: its answer is its RequestId only.
    let image = cx.service.create_image(region, &instance, &request)?;
    Ok(CreateImageResponse {
        image_id: image.map(|image| image.to_string()),
    })
}

/// DescribeImageFromFamily: the family's image now, or `null`.
pub(super) fn describe_image_from_family(
    cx: &Context,
    request: DescribeImageFromFamilyRequest,
) -> Result<DescribeImageFromFamilyResponse> {
    let region = cx.region()?;
    let image = match request.image_family.as_deref() {
        Some(family) if !family.is_empty() => cx.service.image_from_family(region, family)?,
        _ => None,
    };
    Ok(DescribeImageFromFamilyResponse { image })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn filters(v: serde_json::Value) -> Vec<Filter> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn filters_are_checked_in_order() {
        let checked = conditions(filters(
            json!([{"Name": "image-type", "Values": ["PUBLIC_IMAGE"]}]),
        ))
        .unwrap();
        assert_eq!(
            checked,
            [("image-type".to_string(), vec!["PUBLIC_IMAGE".to_string()])]
        );
        assert_eq!(kinds(&checked), [ImageKind::Public]);
        let e = conditions(filters(json!([{"Name": "colour", "Values": ["red"]}]))).unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (Code::InvalidFilter.as_str(), "unknown filter `colour`")
        );
        // Too many values is found before an unknown name.
        let e = conditions(filters(
            json!([{"Name": "colour", "Values": ["1", "2", "3", "4", "5", "6"]}]),
        ))
        .unwrap_err();
        assert_eq!(e.code(), Code::InvalidFilterValueLimitExceeded);
        assert!(conditions(filters(json!([{"Name": "tag:team", "Values": []}]))).is_ok());
    }

    /// Every filter the API documents is known, and those about dedicated clusters (CDC)
    /// match no image, as no CDC caches images here.
    #[test]
    fn every_documented_filter_is_known() {
        for name in FILTER_NAMES.iter().copied().chain(["tag:team"]) {
            let checked = conditions(filters(json!([{"Name": name, "Values": ["x"]}])));
            assert!(checked.is_ok(), "{name}: {checked:?}");
        }
        let image: Image = serde_json::from_value(json!({
            "ImageId": "img-9qabwvbn", "OsName": "CentOS 7.6 64位", "ImageType": "PUBLIC_IMAGE",
            "CreatedTime": "2020-09-22T00:00:00Z", "ImageName": "CentOS 7.6 64位",
            "ImageDescription": "", "ImageSize": 50, "Architecture": "x86_64",
            "ImageState": "NORMAL", "Platform": "CentOS", "ImageCreator": "tencent",
            "ImageSource": "OFFICIAL"
        }))
        .unwrap();
        let passes = |name: &str, value: &str| {
            matches(&image, &[(name.to_string(), vec![value.to_string()])])
        };
        assert!(passes("platform", "centos"));
        assert!(passes("image-name", "7.6"));
        assert!(!passes("dedicated-cluster-id", "cluster-12345678"));
        assert!(!passes("cdc-cache-status", "CACHED_ALL"));
    }

    #[test]
    fn listing_leaves_marketplace_out_unless_asked() {
        assert_eq!(
            kinds(&[]),
            [ImageKind::Public, ImageKind::Custom, ImageKind::Shared]
        );
        let asked = [("image-type".to_string(), vec!["MARKET_IMAGE".to_string()])];
        assert_eq!(kinds(&asked), [ImageKind::Marketplace]);
    }
}
