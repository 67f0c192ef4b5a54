//! Instances: RunInstances, DescribeInstances, DescribeInstancesStatus, ResetInstance and
//! TerminateInstances.

use super::{params, Context};
use crate::error::{Code, Error, Result};
use crate::model::api::{
    DescribeInstancesRequest, DescribeInstancesResponse, DescribeInstancesStatusRequest,
    DescribeInstancesStatusResponse, Filter, Lenient, ResetInstanceRequest, ResetInstanceResponse,
    RunInstancesRequest, RunInstancesResponse, TerminateInstancesRequest,
    TerminateInstancesResponse,
};
use crate::model::{ImageId, InstanceId, LaunchSpec, PlacementSpec};
use crate::service::ImageService;

/// The API requires a `Placement` with its `Zone` (a `launch` does not: see
/// [`crate::local`]'s RunInstances).
pub(super) fn run_instances(
    cx: &Context,
    request: RunInstancesRequest,
) -> Result<RunInstancesResponse> {
    let region = cx.region()?;
    let image = ImageId::parse(&params::required(request.image_id, "ImageId")?)?;
    let placement = match request.placement {
        Lenient::Absent => {
            return Err(Error::new(
                Code::MissingParameter,
                "Placement is required: name the zone (DescribeZones lists them)",
            ))
        }
        Lenient::Invalid(_) => {
            return Err(Error::new(
                Code::InvalidParameter,
                "Placement must be an object with a Zone",
            ))
        }
        Lenient::Valid(placement) => placement,
    };
    let zone = params::required(placement.zone, "Placement.Zone")?;
    let project_id = member(placement.project_id, "Placement.ProjectId")?;
    let kind = cx.kind_of(region, &image)?;
    let spec = LaunchSpec {
        instance_count: request.instance_count.valid().copied(),
        instance_name: params::string(request.instance_name),
        instance_type: params::string(request.instance_type),
        instance_charge_type: params::string(request.instance_charge_type),
        instance_charge_prepaid: member(request.instance_charge_prepaid, "InstanceChargePrepaid")?,
        placement: Some(PlacementSpec { zone, project_id }),
        image_id: None,
        system_disk: member(request.system_disk, "SystemDisk")?,
        data_disks: member(request.data_disks, "DataDisks")?,
        virtual_private_cloud: member(request.virtual_private_cloud, "VirtualPrivateCloud")?,
        internet_accessible: member(request.internet_accessible, "InternetAccessible")?,
        security_group_ids: member(request.security_group_ids, "SecurityGroupIds")?,
        login_settings: member(request.login_settings, "LoginSettings")?,
        host_name: params::string(request.host_name),
        disable_api_termination: member(request.disable_api_termination, "DisableApiTermination")?,
        client_token: params::string(request.client_token),
    };
    // A dry run checks everything and launches nothing: its answer is its RequestId only.
    let dry_run = params::flag(&request.dry_run, "DryRun")?;
    let ids = cx.service.dry_run_if(dry_run, || {
        cx.service.run_instances(region, kind, &image, &spec)
    })?;
    Ok(RunInstancesResponse {
        instance_id_set: (!dry_run).then_some(ids),
    })
}

/// A member that is absent or of its type (an object's members as RunInstances takes them).
fn member<T>(member: Lenient<T>, name: &str) -> Result<Option<T>> {
    match member {
        Lenient::Absent => Ok(None),
        Lenient::Valid(value) => Ok(Some(value)),
        Lenient::Invalid(value) => Err(Error::new(
            Code::InvalidParameter,
            format!("{name} is not of its type, or has members imagefs does not take: {value}"),
        )),
    }
}

/// By ID (unknown IDs are left out), by filters, or all, a page at a time.
pub(super) fn describe_instances(
    cx: &Context,
    request: DescribeInstancesRequest,
) -> Result<DescribeInstancesResponse> {
    let region = cx.region()?;
    let ids = params::string_list(request.instance_ids, "InstanceIds")?;
    let filters = filters(request.filters)?;
    let (offset, limit) = params::page(&request.offset, &request.limit)?;
    let instances = cx.service.describe_instances(region, &ids, &filters)?;
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

/// The filters' names and values (one that is not a JSON object has neither).
fn filters(filters: Lenient<Vec<Lenient<Filter>>>) -> Result<Vec<(String, Vec<String>)>> {
    let filters = match filters {
        Lenient::Absent => Vec::new(),
        Lenient::Valid(filters) => filters,
        Lenient::Invalid(_) => {
            return Err(Error::new(Code::InvalidParameter, "Filters must be a list"))
        }
    };
    filters
        .into_iter()
        .map(|filter| {
            let filter = filter.into_result().unwrap_or_default();
            let name = params::string(filter.name).unwrap_or_default();
            Ok((name, params::string_list(filter.values, "Values")?))
        })
        .collect()
}

/// The states of the instances named, or of all, a page at a time.
pub(super) fn describe_instances_status(
    cx: &Context,
    request: DescribeInstancesStatusRequest,
) -> Result<DescribeInstancesStatusResponse> {
    let region = cx.region()?;
    let ids = params::string_list(request.instance_ids, "InstanceIds")?;
    let (offset, limit) = params::page(&request.offset, &request.limit)?;
    let statuses = cx.service.describe_instances_status(region, &ids)?;
    Ok(DescribeInstancesStatusResponse {
        total_count: statuses.len() as u64,
        instance_status_set: statuses.into_iter().skip(offset).take(limit).collect(),
    })
}

/// Reinstalls from `ImageId`, or from the instance's own image when none is given.
pub(super) fn reset_instance(
    cx: &Context,
    request: ResetInstanceRequest,
) -> Result<ResetInstanceResponse> {
    let region = cx.region()?;
    let instance = InstanceId::parse(&params::required(request.instance_id, "InstanceId")?)?;
    let image = match params::string(request.image_id) {
        Some(id) => ImageId::parse(&id)?,
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
    let ids = params::id_list(request.instance_ids, "InstanceIds", InstanceId::parse)?;
    if ids.is_empty() {
        return Err(Error::new(
            Code::MissingParameter,
            "InstanceIds is required",
        ));
    }
    cx.service.terminate_instances(region, &ids)?;
    Ok(TerminateInstancesResponse {})
}
