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

#[cfg(test)]
mod tests {
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
