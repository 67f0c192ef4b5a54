//! Availability zones: each region's real zones, from the catalog (`catalog/ZONES.md` says
//! where each comes from), and the zone a launch may use.

use std::sync::OnceLock;

use super::catalog::{Catalog, CatalogZone, BUILTIN_CATALOG};
use super::LocalService;
use crate::error::{Code, Error, Result};

/// The built-in catalog's zones stand in for a store seeded before zones were in the catalog.
fn builtin_catalog() -> Option<&'static Catalog> {
    static BUILTIN: OnceLock<Option<Catalog>> = OnceLock::new();
    BUILTIN
        .get_or_init(|| Catalog::parse(BUILTIN_CATALOG).ok())
        .as_ref()
}

impl LocalService {
    /// Every zone the catalog records for `region`, served or not, in zone-number order.
    fn recorded_zones(&self, region: &str) -> Result<&[CatalogZone]> {
        self.region(region)?;
        let own = self
            .catalog
            .regions
            .iter()
            .find(|r| r.region == region)
            .map(|r| r.zones.as_slice())
            .unwrap_or_default();
        if !own.is_empty() {
            return Ok(own);
        }
        Ok(builtin_catalog()
            .and_then(|c| c.regions.iter().find(|r| r.region == region))
            .map(|r| r.zones.as_slice())
            .unwrap_or_default())
    }

    /// DescribeZones: the region's zones that have a published ZoneId (others are recorded in
    /// the catalog but not served: imagefs invents no ID).
    pub fn zones(&self, region: &str) -> Result<Vec<&CatalogZone>> {
        Ok(self
            .recorded_zones(region)?
            .iter()
            .filter(|z| z.served())
            .collect())
    }

    /// The zone a launch into `region` may use, or the refusal the cloud's RunInstances gives.
    pub(super) fn launch_zone(&self, region: &str, zone: &str) -> Result<&CatalogZone> {
        if let Some(found) = self.recorded_zones(region)?.iter().find(|z| z.zone == zone) {
            if !found.served() {
                return Err(Error::new(
                    Code::InvalidParameterValueZoneNotSupported,
                    format!(
                        "zone {zone} is not served by imagefs: no public source gives its ZoneId"
                    ),
                ));
            }
            if found.zone_state != "AVAILABLE" {
                return Err(Error::new(
                    Code::ResourceInsufficientAvailabilityZoneSoldOut,
                    format!("zone {zone} is {}: it is sold out", found.zone_state),
                ));
            }
            return Ok(found);
        }
        let elsewhere = self.regions.iter().find(|r| {
            r.region != region
                && self
                    .recorded_zones(&r.region)
                    .is_ok_and(|zones| zones.iter().any(|z| z.zone == zone))
        });
        let message = match elsewhere {
            Some(other) => format!(
                "zone `{zone}` is in {}, not in {region} (see DescribeZones)",
                other.region
            ),
            None => format!("zone `{zone}` does not exist (see DescribeZones for {region}'s)"),
        };
        // The RunInstances error list has one code for both: its text is "the specified zone
        // does not exist".
        Err(Error::new(Code::InvalidZoneMismatchRegion, message))
    }

    /// Where a launch that names no zone goes: the region's first available zone.
    pub(super) fn first_available_zone(&self, region: &str) -> Result<&CatalogZone> {
        self.zones(region)?
            .into_iter()
            .find(|z| z.zone_state == "AVAILABLE")
            .ok_or_else(|| {
                Error::new(
                    Code::ResourceInsufficientAvailabilityZoneSoldOut,
                    format!("{region} has no available zone"),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use crate::error::Code;
    use crate::local::testing::*;

    #[test]
    fn each_region_serves_its_published_zones() {
        let w = world();
        let s = w.service(OWNER, 0);
        let gz: Vec<(&str, &str, &str)> = s
            .zones(GZ)
            .unwrap()
            .iter()
            .map(|z| {
                (
                    z.zone.as_str(),
                    z.zone_id.as_deref().unwrap(),
                    z.zone_state.as_str(),
                )
            })
            .collect();
        assert_eq!(gz.len(), 7);
        assert_eq!(gz[0], ("ap-guangzhou-1", "100001", "UNAVAILABLE"));
        assert_eq!(gz[2], ("ap-guangzhou-3", "100003", "AVAILABLE"));
        let beijing: Vec<String> = s
            .zones("ap-beijing")
            .unwrap()
            .iter()
            .map(|z| z.zone.clone())
            .collect();
        assert_eq!(beijing.len(), 7, "ap-beijing-8 has no published ZoneId");
        assert!(!beijing.contains(&"ap-beijing-8".to_string()));
        assert_eq!(code(s.zones("ap-nowhere")), Code::InvalidRegionNotFound);
    }

    /// A store seeded from a catalog without zones (one written before they were in it) gets
    /// the built-in catalog's zones of its regions.
    #[test]
    fn a_catalog_without_zones_uses_the_builtin_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut catalog: serde_json::Value =
            serde_json::from_str(crate::local::catalog::BUILTIN_CATALOG).unwrap();
        for region in catalog["Regions"].as_array_mut().unwrap() {
            region.as_object_mut().unwrap().remove("Zones");
        }
        let store = std::sync::Arc::new(
            crate::local::store::Store::open(&dir.path().join("s.db"), Some(&catalog.to_string()))
                .unwrap(),
        );
        let s = crate::local::LocalService::open(store, None).unwrap();
        assert_eq!(s.zones(GZ).unwrap().len(), 7);
        assert_eq!(s.first_available_zone(GZ).unwrap().zone, "ap-guangzhou-2");
    }

    #[test]
    fn launch_zones_are_checked_as_the_cloud_checks_them() {
        let w = world();
        let s = w.service(OWNER, 0);
        assert_eq!(
            s.launch_zone(GZ, "ap-guangzhou-3").unwrap().zone,
            "ap-guangzhou-3"
        );
        for (zone, expected) in [
            ("ap-shanghai-2", Code::InvalidZoneMismatchRegion),
            ("ap-guangzhou-99", Code::InvalidZoneMismatchRegion),
            ("mars-1", Code::InvalidZoneMismatchRegion),
            (
                "ap-guangzhou-1",
                Code::ResourceInsufficientAvailabilityZoneSoldOut,
            ),
        ] {
            assert_eq!(code(s.launch_zone(GZ, zone)), expected, "{zone}");
        }
        assert_eq!(
            code(s.launch_zone("ap-beijing", "ap-beijing-8")),
            Code::InvalidParameterValueZoneNotSupported
        );
        assert_eq!(s.first_available_zone(GZ).unwrap().zone, "ap-guangzhou-2");
        assert_eq!(
            s.first_available_zone("ap-shanghai").unwrap().zone,
            "ap-shanghai-1"
        );
    }
}
