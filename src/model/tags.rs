//! Resources as the tag service names them: six segments,
//! `qcs::cvm:REGION:uin/ACCOUNT:PREFIX/ID` (`image/img-...`, `instance/ins-...`).

use crate::error::{Code, Error, Result};

use super::{api, AccountId, ImageId, InstanceId, Tag};

/// An image or an instance, by its ID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaggedId {
    Image(ImageId),
    Instance(InstanceId),
}

/// A resource that holds tags: an image or instance of a region.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaggedResource {
    pub region: String,
    pub id: TaggedId,
}

/// A resource name, read: the resource, and the account it names (`None` when the account
/// segment is empty, as some tools send it: the caller's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceName {
    pub resource: TaggedResource,
    pub account: Option<AccountId>,
}

/// The service segment of every resource here.
pub const CVM_SERVICE: &str = "cvm";

impl TaggedResource {
    pub fn image(region: &str, id: &ImageId) -> TaggedResource {
        TaggedResource {
            region: region.to_string(),
            id: TaggedId::Image(id.clone()),
        }
    }

    pub fn instance(region: &str, id: &InstanceId) -> TaggedResource {
        TaggedResource {
            region: region.to_string(),
            id: TaggedId::Instance(id.clone()),
        }
    }

    /// The resource prefix: `image` or `instance`.
    pub fn prefix(&self) -> &'static str {
        match self.id {
            TaggedId::Image(_) => "image",
            TaggedId::Instance(_) => "instance",
        }
    }

    /// The resource's ID, as text.
    pub fn id_str(&self) -> &str {
        match &self.id {
            TaggedId::Image(id) => id.as_str(),
            TaggedId::Instance(id) => id.as_str(),
        }
    }

    /// Its six-segment name in `account`.
    pub fn name(&self, account: &AccountId) -> String {
        format!(
            "qcs::{CVM_SERVICE}:{}:uin/{account}:{}/{}",
            self.region,
            self.prefix(),
            self.id_str()
        )
    }

    /// The resource of a prefix and an ID, as DescribeResourceTags* name them. An image ID
    /// under `instance` is the image: some tools name images so.
    pub fn from_parts(region: &str, prefix: &str, id: &str) -> Result<TaggedResource> {
        let resource = match prefix {
            "image" | "instance" if id.starts_with("img-") => {
                TaggedResource::image(region, &ImageId::parse(id).map_err(id_invalid)?)
            }
            "instance" => {
                TaggedResource::instance(region, &InstanceId::parse(id).map_err(id_invalid)?)
            }
            "image" => {
                return Err(id_invalid(Error::internal(format!(
                    "`{id}` is not an image ID"
                ))))
            }
            other => {
                return Err(Error::new(
                    Code::InvalidParameterValueResourcePrefixInvalid,
                    format!(
                        "resource prefix `{other}`: cvm resources here are `image` and `instance`"
                    ),
                ))
            }
        };
        Ok(resource)
    }
}

fn id_invalid(e: Error) -> Error {
    Error::new(Code::InvalidParameterValueResourceIdInvalid, e.message())
}

impl ResourceName {
    /// Reads `qcs::cvm:REGION:uin/ACCOUNT:PREFIX/ID` (the account segment may be empty).
    pub fn parse(name: &str) -> Result<ResourceName> {
        let segments: Vec<&str> = name.split(':').collect();
        let [qcs, "", service, region, account, resource] = segments[..] else {
            return Err(malformed(name));
        };
        if qcs != "qcs" {
            return Err(malformed(name));
        }
        if service != CVM_SERVICE {
            return Err(Error::new(
                Code::InvalidParameterValueServiceTypeInvalid,
                format!("`{name}`: service `{service}` is not cvm, the only one served here"),
            ));
        }
        let account = match account {
            "" => None,
            uin => Some(
                uin.strip_prefix("uin/")
                    .and_then(|id| AccountId::parse(id).ok())
                    .ok_or_else(|| {
                        Error::new(
                            Code::InvalidParameterValueUinInvalid,
                            format!("`{name}`: `{uin}` is not uin/ and an account ID"),
                        )
                    })?,
            ),
        };
        let Some((prefix, id)) = resource.split_once('/') else {
            return Err(malformed(name));
        };
        Ok(ResourceName {
            resource: TaggedResource::from_parts(region, prefix, id)?,
            account,
        })
    }
}

fn malformed(name: &str) -> Error {
    Error::new(
        Code::InvalidParameterValueResourceDescriptionError,
        format!("`{name}` is not a resource name: qcs::cvm:REGION:uin/ACCOUNT:PREFIX/ID"),
    )
}

impl From<&api::tags::Tag> for Tag {
    fn from(tag: &api::tags::Tag) -> Tag {
        Tag {
            key: tag.tag_key.clone(),
            value: tag.tag_value.clone(),
        }
    }
}

impl From<&Tag> for api::tags::Tag {
    fn from(tag: &Tag) -> api::tags::Tag {
        api::tags::Tag {
            tag_key: tag.key.clone(),
            tag_value: tag.value.clone(),
            category: None,
        }
    }
}

impl From<&api::Tag> for Tag {
    fn from(tag: &api::Tag) -> Tag {
        Tag {
            key: tag.key.clone(),
            value: tag.value.clone(),
        }
    }
}

impl From<&Tag> for api::Tag {
    fn from(tag: &Tag) -> api::Tag {
        api::Tag {
            key: tag.key.clone(),
            value: tag.value.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names_read_as_the_cloud_writes_them() {
        let name = ResourceName::parse("qcs::cvm:ap-guangzhou:uin/100000000001:image/img-1a2b3c4d")
            .expect("an image");
        assert_eq!(name.resource.region, "ap-guangzhou");
        assert_eq!(name.resource.prefix(), "image");
        assert_eq!(
            name.account.map(|a| a.to_string()).as_deref(),
            Some("100000000001")
        );
        let account = AccountId::parse("100000000001").expect("an account");
        assert_eq!(
            name.resource.name(&account),
            "qcs::cvm:ap-guangzhou:uin/100000000001:image/img-1a2b3c4d"
        );
        // An image named under `instance`, and no account.
        let custodian = ResourceName::parse("qcs::cvm:ap-guangzhou::instance/img-1a2b3c4d")
            .expect("an image under instance/");
        assert_eq!(custodian.resource, name.resource);
        assert_eq!(custodian.account, None);
        let instance =
            ResourceName::parse("qcs::cvm:ap-guangzhou:uin/100000000001:instance/ins-1a2b3c4d")
                .expect("an instance");
        assert_eq!(instance.resource.prefix(), "instance");
    }

    #[test]
    fn malformed_names_are_refused_with_the_tag_services_codes() {
        for (name, code) in [
            (
                "qcs::cvm:ap-guangzhou",
                Code::InvalidParameterValueResourceDescriptionError,
            ),
            (
                "xyz::cvm:r:uin/100000000001:image/img-1a2b3c4d",
                Code::InvalidParameterValueResourceDescriptionError,
            ),
            (
                "qcs::cbs:r:uin/100000000001:volume/disk-1",
                Code::InvalidParameterValueServiceTypeInvalid,
            ),
            (
                "qcs::cvm:r:uin/100000000001:volume/disk-1",
                Code::InvalidParameterValueResourcePrefixInvalid,
            ),
            (
                "qcs::cvm:r:uin/100000000001:image/ins-1a2b3c4d",
                Code::InvalidParameterValueResourceIdInvalid,
            ),
            (
                "qcs::cvm:r:uin/100000000001:instance/ins-XX",
                Code::InvalidParameterValueResourceIdInvalid,
            ),
            (
                "qcs::cvm:r:uid/1:image/img-1a2b3c4d",
                Code::InvalidParameterValueUinInvalid,
            ),
        ] {
            assert!(
                ResourceName::parse(name).expect_err(name).is(code),
                "{name}"
            );
        }
    }
}
