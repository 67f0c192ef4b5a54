//! Instances: RunInstances, DescribeInstances, ResetInstance and TerminateInstances.

use super::{params, Context};
use crate::error::Result;
use crate::error::{Code, Error};
use crate::model::api::{
    DescribeInstancesRequest, DescribeInstancesResponse, Lenient, ResetInstanceRequest,
    ResetInstanceResponse, RunInstancesRequest, RunInstancesResponse, TerminateInstancesRequest,
    TerminateInstancesResponse,
};
use crate::model::{ImageId, InstanceId};
use crate::service::ImageService;

pub(super) fn run_instances(
    cx: &Context,
    request: RunInstancesRequest,
) -> Result<RunInstancesResponse> {
    let region = cx.region()?;
    // Required unless a LaunchTemplate is given, which the emulator refuses.
    let named = request.image_id.as_deref().ok_or_else(|| {
        Error::new(
            Code::MissingParameter,
            "The request is missing a required parameter `ImageId`.",
        )
    })?;
    let image = ImageId::parse(named)?;
    let kind = cx.kind_of(region, &image)?;
    // A dry run checks everything and launches nothing: its answer is its RequestId only.
    let dry_run = request.dry_run.unwrap_or(false);
    let ids = cx.service.run_instances(region, kind, &image, &request)?;
    Ok(RunInstancesResponse {
        instance_id_set: (!dry_run).then_some(ids),
    })
}

/// By ID (unknown IDs are left out) or all, a page at a time.
pub(super) fn describe_instances(
    cx: &Context,
    request: DescribeInstancesRequest,
) -> Result<DescribeInstancesResponse> {
    let region = cx.region()?;
    let ids = request.instance_ids.unwrap_or_default();
    let (offset, limit) = params::signed_page(request.offset, request.limit)?;
    let mut instances = Vec::new();
    if ids.is_empty() {
        for entry in cx.service.list_instances(region)? {
            instances.push(cx.service.instance(region, &entry.instance_id)?);
        }
    } else {
        for id in &ids {
            if let Ok(instance) = cx.service.instance(region, &InstanceId::parse(id)?) {
                instances.push(instance);
            }
        }
    }
    Ok(DescribeInstancesResponse {
        total_count: instances.len() as u64,
        instance_set: instances
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(Lenient::Valid)
            .collect(),
    })
}

/// Reinstalls from `ImageId`, or from the instance's own image when none is given.
pub(super) fn reset_instance(
    cx: &Context,
    request: ResetInstanceRequest,
) -> Result<ResetInstanceResponse> {
    let region = cx.region()?;
    let instance = InstanceId::parse(&request.instance_id)?;
    let image = match request.image_id.as_deref() {
        Some(id) => ImageId::parse(id)?,
        None => cx.service.instance(region, &instance)?.image_id,
    };
    cx.service.reset_instance(region, &instance, &image)?;
    Ok(ResetInstanceResponse {})
}

/// All the instances or none.
pub(super) fn terminate_instances(
    cx: &Context,
    request: TerminateInstancesRequest,
) -> Result<TerminateInstancesResponse> {
    let region = cx.region()?;
    let ids = params::ids(&request.instance_ids, InstanceId::parse)?;
    cx.service.terminate_instances(region, &ids)?;
    Ok(TerminateInstancesResponse {})
}
