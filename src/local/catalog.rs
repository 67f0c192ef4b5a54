//! The seed catalog: regions, public and marketplace images, import OS list, fees.
//!
//! It is data (`catalog/seed.json` in the repository, compiled in), replaceable with
//! `--catalog FILE`.

use std::collections::HashSet;

use serde::Deserialize;

use crate::error::{Code, Error, Result};
use crate::model::{parse_api_time, Fee, ImageId, ImportImageOs};

/// The built-in catalog.
pub const BUILTIN_CATALOG: &str = include_str!("../../catalog/seed.json");

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Catalog {
    pub catalog_version: u32,
    pub regions: Vec<CatalogRegion>,
    pub public_images: Vec<CatalogImage>,
    pub marketplace_images: Vec<CatalogImage>,
    pub windows_license_fee: Fee,
    pub import_image_os: ImportImageOs,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CatalogRegion {
    pub region: String,
    pub region_name: String,
    pub mainland: bool,
    /// The region's availability zones, in zone-number order. A catalog written before zones
    /// were part of it has none: the built-in catalog's zones of the same region stand in
    /// (`LocalService::zones`).
    #[serde(default)]
    pub zones: Vec<CatalogZone>,
}

/// An availability zone (`ZoneInfo` of the API), with where its facts come from
/// (`catalog/ZONES.md` lists the sources).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CatalogZone {
    pub zone: String,
    /// The numeric zone ID as the API spells it (a string of digits); `null` where no public
    /// source gives it. Such a zone is recorded but not served: imagefs invents no ID.
    pub zone_id: Option<String>,
    /// The English name, which DescribeZones answers without a language.
    pub zone_name: String,
    pub zone_name_zh: String,
    /// `AVAILABLE` or `UNAVAILABLE`.
    pub zone_state: String,
    /// Where the zone's code, ID, names and state were read.
    pub source: String,
    #[serde(default)]
    pub note: Option<String>,
}

impl CatalogZone {
    /// Whether the emulator serves the zone: it has a published ZoneId.
    pub fn served(&self) -> bool {
        self.zone_id.is_some()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CatalogImage {
    pub image_id: ImageId,
    pub image_name: String,
    pub os_name: String,
    pub image_description: String,
    pub platform: String,
    pub architecture: String,
    pub image_size: i64,
    pub created_time: String,
    pub is_support_cloudinit: bool,
    pub license_type: String,
    /// Marketplace only: the provider's account name shown as `ImageCreator`.
    #[serde(default)]
    pub image_creator: Option<String>,
    /// Marketplace only: the provider's display name.
    #[serde(default)]
    pub provider: Option<String>,
    /// Marketplace only: the provider's fee; `null` when free.
    #[serde(default)]
    pub price: Option<Fee>,
}

impl Catalog {
    /// Parses and checks a catalog: the rules a store relies on (valid, unique IDs; API
    /// timestamps; known regions) are refused here rather than found later.
    pub fn parse(text: &str) -> Result<Catalog> {
        let catalog: Catalog = serde_json::from_str(text).map_err(|e| {
            Error::new(Code::InvalidParameter, format!("catalog is not valid: {e}"))
        })?;
        catalog.check()?;
        Ok(catalog)
    }

    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::new(Code::InvalidParameter, format!("catalog: {m}")));
        if self.catalog_version != 1 {
            return bad(format!(
                "unsupported CatalogVersion {}",
                self.catalog_version
            ));
        }
        if self.regions.is_empty() {
            return bad("no regions".into());
        }
        if self.regions.len() > crate::fs::MAX_REGIONS {
            return bad(format!("more than {} regions", crate::fs::MAX_REGIONS));
        }
        let mut names = HashSet::new();
        for r in &self.regions {
            let valid = !r.region.is_empty()
                && r.region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid {
                return bad(format!("region `{}` is not a region ID", r.region));
            }
            if !names.insert(r.region.as_str()) {
                return bad(format!("region `{}` listed twice", r.region));
            }
            check_zones(r)?;
        }
        let mut ids = HashSet::new();
        for (kind, images) in [
            ("public", &self.public_images),
            ("marketplace", &self.marketplace_images),
        ] {
            for image in images {
                if !ids.insert(image.image_id.clone()) {
                    return bad(format!("image {} listed twice", image.image_id));
                }
                if parse_api_time(&image.created_time).is_none() {
                    return bad(format!(
                        "{kind} image {}: CreatedTime `{}` is not YYYY-MM-DDThh:mm:ssZ",
                        image.image_id, image.created_time
                    ));
                }
                if image.image_name.chars().count() > 60 {
                    return bad(format!(
                        "{kind} image {}: name over 60 characters",
                        image.image_id
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A region's zones: codes `<region>-<n>`, each once; digits for IDs; a known state.
fn check_zones(region: &CatalogRegion) -> Result<()> {
    let bad = |m: String| {
        Err(Error::new(
            Code::InvalidParameter,
            format!("catalog: region {}: {m}", region.region),
        ))
    };
    let mut codes = HashSet::new();
    for zone in &region.zones {
        let numbered = zone
            .zone
            .strip_prefix(region.region.as_str())
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !numbered {
            return bad(format!("zone `{}` is not {}-<n>", zone.zone, region.region));
        }
        if !codes.insert(zone.zone.as_str()) {
            return bad(format!("zone `{}` listed twice", zone.zone));
        }
        if let Some(id) = &zone.zone_id {
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                return bad(format!("zone {}: ZoneId `{id}` is not digits", zone.zone));
            }
        }
        if !matches!(zone.zone_state.as_str(), "AVAILABLE" | "UNAVAILABLE") {
            return bad(format!(
                "zone {}: ZoneState `{}` is not AVAILABLE or UNAVAILABLE",
                zone.zone, zone.zone_state
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn builtin_catalog_is_valid_and_realistic() {
        let c = Catalog::parse(BUILTIN_CATALOG).unwrap();
        assert_eq!(c.regions.len(), 18);
        assert_eq!(c.regions.iter().filter(|r| r.mainland).count(), 8);
        let hk = c
            .regions
            .iter()
            .find(|r| r.region == "ap-hongkong")
            .unwrap();
        assert!(!hk.mainland);
        let centos76 = c
            .public_images
            .iter()
            .find(|i| i.image_id.as_str() == "img-9qabwvbn")
            .unwrap();
        assert_eq!(centos76.platform, "CentOS");
        let win = c
            .public_images
            .iter()
            .find(|i| i.image_id.as_str() == "img-9tzezztj")
            .unwrap();
        assert_eq!(win.platform, "Windows");
        assert!(c.public_images.len() >= 60);
        assert!(c.marketplace_images.len() >= 6);
        assert!(c.marketplace_images.iter().any(|i| i.price.is_some()));
        assert!(c.marketplace_images.iter().any(|i| i.price.is_none()));
    }

    /// The built-in zones are the published ones (catalog/ZONES.md): 58 zones in the 18
    /// regions, four of them without a published ZoneId and so not served.
    #[test]
    fn builtin_zones_are_the_published_ones() {
        let c = Catalog::parse(BUILTIN_CATALOG).unwrap();
        let all: Vec<&CatalogZone> = c.regions.iter().flat_map(|r| &r.zones).collect();
        assert_eq!(all.len(), 58);
        let unserved: Vec<&str> = all
            .iter()
            .filter(|z| !z.served())
            .map(|z| z.zone.as_str())
            .collect();
        assert_eq!(
            unserved,
            [
                "ap-shanghai-9",
                "ap-beijing-8",
                "ap-shanghai-fsi-4",
                "ap-jakarta-3"
            ]
        );
        assert!(c.regions.iter().all(|r| r.zones.iter().any(|z| z.served())));
        let zone = |code: &str| *all.iter().find(|z| z.zone == code).unwrap();
        let gz3 = zone("ap-guangzhou-3");
        assert_eq!(gz3.zone_id.as_deref(), Some("100003"));
        assert_eq!(gz3.zone_name, "Guangzhou Zone 3");
        assert_eq!(gz3.zone_name_zh, "广州三区");
        assert_eq!(zone("ap-guangzhou-1").zone_state, "UNAVAILABLE");
        assert_eq!(zone("ap-shanghai-2").zone_id.as_deref(), Some("200002"));
        assert_eq!(zone("ap-shenzhen-fsi-1").zone_id.as_deref(), Some("110001"));
        assert_eq!(zone("na-ashburn-2").zone_name, "Virginia Zone 2");
        assert!(zone("ap-beijing-8").note.is_some());
    }

    #[test]
    fn malformed_zones_are_refused() {
        for (member, value, why) in [
            ("Zone", json!("ap-shanghai-2"), "is not ap-guangzhou-<n>"),
            ("Zone", json!("ap-guangzhou-x"), "is not ap-guangzhou-<n>"),
            ("ZoneId", json!("10000a"), "is not digits"),
            ("ZoneState", json!("SOLD_OUT"), "is not AVAILABLE"),
        ] {
            let mut v: serde_json::Value = serde_json::from_str(BUILTIN_CATALOG).unwrap();
            v["Regions"][0]["Zones"][1][member] = value;
            let e = Catalog::parse(&v.to_string()).unwrap_err();
            assert!(e.message().contains(why), "{member}: {e}");
        }
        let mut v: serde_json::Value = serde_json::from_str(BUILTIN_CATALOG).unwrap();
        let first = v["Regions"][0]["Zones"][0].clone();
        v["Regions"][0]["Zones"].as_array_mut().unwrap().push(first);
        let e = Catalog::parse(&v.to_string()).unwrap_err();
        assert!(e.message().contains("listed twice"), "{e}");
    }

    #[test]
    fn a_catalog_without_zones_still_reads() {
        let mut v: serde_json::Value = serde_json::from_str(BUILTIN_CATALOG).unwrap();
        for region in v["Regions"].as_array_mut().unwrap() {
            region.as_object_mut().unwrap().remove("Zones");
        }
        let c = Catalog::parse(&v.to_string()).unwrap();
        assert!(c.regions.iter().all(|r| r.zones.is_empty()));
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let mut v: serde_json::Value = serde_json::from_str(BUILTIN_CATALOG).unwrap();
        let first = v["PublicImages"][0].clone();
        v["PublicImages"].as_array_mut().unwrap().push(first);
        let e = Catalog::parse(&v.to_string()).unwrap_err();
        assert!(e.message().contains("listed twice"), "{e}");
    }

    #[test]
    fn malformed_ids_and_times_are_refused() {
        let mut v: serde_json::Value = serde_json::from_str(BUILTIN_CATALOG).unwrap();
        v["PublicImages"][0]["ImageId"] = "img-BAD".into();
        assert!(Catalog::parse(&v.to_string()).is_err());
        let mut v: serde_json::Value = serde_json::from_str(BUILTIN_CATALOG).unwrap();
        v["PublicImages"][0]["CreatedTime"] = "last week".into();
        assert!(Catalog::parse(&v.to_string()).is_err());
    }
}
