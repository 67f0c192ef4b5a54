//! Regions and zones: DescribeRegions and DescribeZones.

use super::Context;
use crate::error::Result;
use crate::model::api::{
    DescribeRegionsRequest, DescribeRegionsResponse, DescribeZonesRequest, DescribeZonesResponse,
    RegionInfo, ZoneInfo,
};
use crate::service::ImageService;

/// Every region, whatever region the request names.
pub(super) fn describe_regions(
    cx: &Context,
    _request: DescribeRegionsRequest,
) -> Result<DescribeRegionsResponse> {
    let regions: Vec<RegionInfo> = cx
        .service
        .regions()?
        .into_iter()
        .map(|r| RegionInfo {
            region: r.region,
            region_name: r.region_name,
            region_state: r.region_state,
        })
        .collect();
    Ok(DescribeRegionsResponse {
        total_count: regions.len() as u64,
        region_set: regions,
    })
}

/// The region's zones, from the catalog: each with its published ZoneId, English name (the
/// API's answer without a language) and state.
pub(super) fn describe_zones(
    cx: &Context,
    _request: DescribeZonesRequest,
) -> Result<DescribeZonesResponse> {
    let region = cx.region()?;
    let zones: Vec<ZoneInfo> = cx
        .service
        .zones(region)?
        .into_iter()
        .map(|z| ZoneInfo {
            zone: z.zone.clone(),
            zone_name: z.zone_name.clone(),
            zone_id: z.zone_id.clone().unwrap_or_default(),
            zone_state: z.zone_state.clone(),
        })
        .collect();
    Ok(DescribeZonesResponse {
        total_count: zones.len() as u64,
        zone_set: zones,
    })
}
