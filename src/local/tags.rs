//! Tags of custom images and instances: the rules a tag keeps (TagResources, UnTagResources,
//! ModifyResourceTags, the `tags` file, and `TagSpecification` of RunInstances, CreateImage and ImportImage), and
//! the tags kept in the store (the `tags` column of images and instances, JSON, in key order).
//!
//! The limits are those of Tencent Cloud's tag documentation ("Use Limits",
//! cloud.tencent.com/document/product/651/13354): a key of 1 to 127 characters, a value of 1
//! to 255, letters (Latin or Chinese), digits, spaces inside (not first or last) and
//! `+ - = . _ : / @ ( ) [ ] , ; > <` and the full-width `＋ － ＝ ／ ＠ （ ） 【 】 ：`; at most 50
//! tags on a resource. Reserved key prefixes: `qcloud`, `tencent` and `project` (the tag
//! API's error-code list) and `qcs:` (that page). Whether the cloud compares the prefixes
//! without regard to case is in none of imagefs's sources; they are compared as written.

use rusqlite::{params, Connection};

use super::images::OwnerAction;
use super::rows::json_column;
use super::LocalService;
use crate::error::{Code, Error, Result};
use crate::model::api::TagSpecification;
use crate::model::tags::{TaggedId, TaggedResource};
use crate::model::{ImageKind, Tag};

/// The most tags one resource holds.
pub const MAX_TAGS_PER_RESOURCE: usize = 50;
const MAX_KEY_CHARS: usize = 127;
const MAX_VALUE_CHARS: usize = 255;
const RESERVED_KEY_PREFIXES: [&str; 4] = ["qcloud", "tencent", "project", "qcs:"];

/// Whose codes a broken rule is refused with: CVM's (a `TagSpecification`) or the tag
/// service's (its actions, and the `tags` files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagCodes {
    Cvm,
    TagService,
}

/// A rule a set of tags breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Broken {
    KeyEmpty,
    KeyTooLong,
    KeyCharacter(char),
    KeyReserved,
    ValueEmpty,
    ValueTooLong,
    ValueCharacter(char),
    Duplicate,
    TooMany,
}

impl Broken {
    fn code(self, codes: TagCodes) -> Code {
        use Broken::*;
        match codes {
            TagCodes::Cvm => match self {
                KeyEmpty | KeyTooLong | KeyCharacter(_) => Code::FailedOperationIllegalTagKey,
                KeyReserved => Code::FailedOperationTagKeyReserved,
                ValueEmpty | ValueTooLong | ValueCharacter(_) => {
                    Code::FailedOperationIllegalTagValue
                }
                Duplicate => Code::InvalidParameterValueDuplicateTags,
                TooMany => Code::InvalidParameterValueTagQuotaLimitExceeded,
            },
            TagCodes::TagService => match self {
                KeyEmpty => Code::InvalidParameterValueTagKeyEmpty,
                KeyTooLong => Code::InvalidParameterValueTagKeyLengthExceeded,
                KeyCharacter(_) => Code::InvalidParameterValueTagKeyCharacterIllegal,
                KeyReserved => Code::InvalidParameterValueReservedTagKey,
                ValueEmpty => Code::InvalidParameterValueTagValueEmpty,
                ValueTooLong => Code::InvalidParameterValueTagValueLengthExceeded,
                ValueCharacter(_) => Code::InvalidParameterValueTagValueCharacterIllegal,
                Duplicate => Code::InvalidParameterValueTagKeyDuplicate,
                TooMany => Code::LimitExceededResourceAttachedTags,
            },
        }
    }

    fn error(self, codes: TagCodes, tag: &str) -> Error {
        let message = match self {
            Broken::KeyEmpty => "a tag key must not be empty".to_string(),
            Broken::KeyTooLong => {
                format!("tag key `{tag}` is longer than {MAX_KEY_CHARS} characters")
            }
            Broken::KeyCharacter(c) => {
                format!("tag key `{tag}` holds `{c}`, which tags do not take")
            }
            Broken::KeyReserved => format!(
                "tag key `{tag}` starts with a reserved prefix ({})",
                RESERVED_KEY_PREFIXES.join(", ")
            ),
            Broken::ValueEmpty => format!("the value of tag key `{tag}` must not be empty"),
            Broken::ValueTooLong => {
                format!("the value of tag key `{tag}` is longer than {MAX_VALUE_CHARS} characters")
            }
            Broken::ValueCharacter(c) => {
                format!("the value of tag key `{tag}` holds `{c}`, which tags do not take")
            }
            Broken::Duplicate => format!("tag key `{tag}` is given twice"),
            Broken::TooMany => {
                format!("a resource holds at most {MAX_TAGS_PER_RESOURCE} tags ({tag})")
            }
        };
        Error::new(self.code(codes), message)
    }
}

/// A character a tag key or value may hold.
fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || c == ' '
        || "+-=._:/@()[],;><".contains(c)
        || "＋－＝／＠（）【】：".contains(c)
        || is_han(c)
}

/// A Chinese character (the CJK ideograph blocks).
fn is_han(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// The first character of `text` tags do not take (a space first or last included).
fn bad_character(text: &str) -> Option<char> {
    if text.starts_with(' ') || text.ends_with(' ') {
        return Some(' ');
    }
    text.chars().find(|c| !allowed(*c))
}

fn check_key(key: &str) -> Option<Broken> {
    if key.is_empty() {
        Some(Broken::KeyEmpty)
    } else if key.chars().count() > MAX_KEY_CHARS {
        Some(Broken::KeyTooLong)
    } else if let Some(c) = bad_character(key) {
        Some(Broken::KeyCharacter(c))
    } else if RESERVED_KEY_PREFIXES.iter().any(|p| key.starts_with(p)) {
        Some(Broken::KeyReserved)
    } else {
        None
    }
}

fn check_value(value: &str) -> Option<Broken> {
    if value.is_empty() {
        Some(Broken::ValueEmpty)
    } else if value.chars().count() > MAX_VALUE_CHARS {
        Some(Broken::ValueTooLong)
    } else {
        bad_character(value).map(Broken::ValueCharacter)
    }
}

/// Checks tags given together: each key and value, no key twice.
pub fn check_tags(tags: &[Tag], codes: TagCodes) -> Result<()> {
    for (i, tag) in tags.iter().enumerate() {
        if let Some(broken) = check_key(&tag.key) {
            return Err(broken.error(codes, &tag.key));
        }
        if let Some(broken) = check_value(&tag.value) {
            return Err(broken.error(codes, &tag.key));
        }
        if tags[..i].iter().any(|t| t.key == tag.key) {
            return Err(Broken::Duplicate.error(codes, &tag.key));
        }
    }
    Ok(())
}

/// Checks the number of tags a resource would hold.
fn check_count(count: usize, codes: TagCodes) -> Result<()> {
    if count > MAX_TAGS_PER_RESOURCE {
        return Err(Broken::TooMany.error(codes, &format!("{count} asked for")));
    }
    Ok(())
}

/// The tags a new resource gets from a request's `TagSpecification`s: those of
/// `resource_type` (`image` for CreateImage and ImportImage, `instance` for RunInstances;
/// another type is refused), checked with CVM's codes, in key order.
pub(super) fn creation_tags(
    specs: Option<&[TagSpecification]>,
    resource_type: &str,
) -> Result<Vec<Tag>> {
    let mut tags = Vec::new();
    for spec in specs.unwrap_or_default() {
        if spec.resource_type != resource_type {
            return Err(Error::new(
                Code::InvalidParameterValue,
                format!(
                    "TagSpecification.ResourceType `{}`: this action tags `{resource_type}` only",
                    spec.resource_type
                ),
            ));
        }
        tags.extend(spec.tags.iter().map(Tag::from));
    }
    check_tags(&tags, TagCodes::Cvm)?;
    check_count(tags.len(), TagCodes::Cvm)?;
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(tags)
}

/// Stores the tags of a resource (in key order).
pub(super) fn write_tags(c: &Connection, resource: &TaggedResource, tags: &[Tag]) -> Result<()> {
    let mut tags = tags.to_vec();
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    let text = serde_json::to_string(&tags)
        .map_err(|e| Error::internal(format!("cannot store tags: {e}")))?;
    let sql = match resource.id {
        TaggedId::Image(_) => "UPDATE images SET tags = ?1 WHERE region = ?2 AND image_id = ?3",
        TaggedId::Instance(_) => {
            "UPDATE instances SET tags = ?1 WHERE region = ?2 AND instance_id = ?3"
        }
    };
    c.prepare_cached(sql)?
        .execute(params![text, resource.region, resource.id_str()])?;
    Ok(())
}

impl LocalService {
    /// The tags of one of this account's own resources, for a change: an image it sees but
    /// does not own is refused (`AuthFailure.UnauthorizedOperation`), one it does not see
    /// and an instance it does not have are `InvalidParameterValue.ResourceIdInvalid`.
    fn own_tags_in(&self, c: &Connection, resource: &TaggedResource) -> Result<Vec<Tag>> {
        let region = &resource.region;
        let found = match &resource.id {
            TaggedId::Image(id) => self
                .own_custom_in(c, region, id, OwnerAction::TagResources)
                .map(|row| row.image.tags),
            TaggedId::Instance(id) => self.instance_in(c, region, id).map(|row| row.instance.tags),
        };
        found.map_err(|e| {
            if e.is(Code::InvalidImageIdNotFound)
                || e.is(Code::InvalidInstanceIdNotFound)
                || e.is(Code::InvalidRegionNotFound)
            {
                Error::new(Code::InvalidParameterValueResourceIdInvalid, e.message())
            } else {
                e
            }
        })
    }
}

/// The `tags` file: the resource's whole set of tags becomes `tags`.
pub(super) fn set_tags(
    service: &LocalService,
    resource: &TaggedResource,
    tags: &[Tag],
) -> Result<()> {
    check_tags(tags, TagCodes::TagService)?;
    check_count(tags.len(), TagCodes::TagService)?;
    service.command_tx(|tx| {
        service.own_tags_in(tx, resource)?;
        write_tags(tx, resource, tags)
    })
}

/// The tags a resource holds after a write: `held` with the keys of `replace` taking their
/// new values (a key it lacks is added) and the keys of `delete` removed (a key it does not
/// hold is no error).
fn modified(mut held: Vec<Tag>, replace: &[Tag], delete: &[String]) -> Vec<Tag> {
    held.retain(|t| !replace.iter().any(|n| n.key == t.key) && !delete.contains(&t.key));
    held.extend(replace.iter().cloned());
    held
}

/// TagResources: each resource takes the tags (a key it holds takes the new value); all the
/// resources or none.
pub(super) fn tag_resources(
    service: &LocalService,
    resources: &[TaggedResource],
    tags: &[Tag],
) -> Result<()> {
    check_tags(tags, TagCodes::TagService)?;
    service.command_tx(|tx| {
        for resource in resources {
            let held = modified(service.own_tags_in(tx, resource)?, tags, &[]);
            check_count(held.len(), TagCodes::TagService)?;
            write_tags(tx, resource, &held)?;
        }
        Ok(())
    })
}

/// UnTagResources: each resource loses the keys (a key it does not hold is no error); all
/// the resources or none.
pub(super) fn untag_resources(
    service: &LocalService,
    resources: &[TaggedResource],
    keys: &[String],
) -> Result<()> {
    service.command_tx(|tx| {
        for resource in resources {
            let held = modified(service.own_tags_in(tx, resource)?, &[], keys);
            write_tags(tx, resource, &held)?;
        }
        Ok(())
    })
}

/// ModifyResourceTags: one resource takes `replace` and loses the keys of `delete`, both or
/// neither; a key in both is refused (`InvalidParameterValue.DeleteTagsParamError`), and the
/// count is that of the tags it holds afterwards.
pub(super) fn modify_resource_tags(
    service: &LocalService,
    resource: &TaggedResource,
    replace: &[Tag],
    delete: &[String],
) -> Result<()> {
    check_tags(replace, TagCodes::TagService)?;
    if let Some(both) = replace.iter().find(|t| delete.contains(&t.key)) {
        return Err(Error::new(
            Code::InvalidParameterValueDeleteTagsParamError,
            format!(
                "tag key `{}` is both in ReplaceTags and in DeleteTags",
                both.key
            ),
        ));
    }
    service.command_tx(|tx| {
        let held = modified(service.own_tags_in(tx, resource)?, replace, delete);
        check_count(held.len(), TagCodes::TagService)?;
        write_tags(tx, resource, &held)
    })
}

/// The tags of each resource the account sees (an image of any kind: a shared or public
/// image shows its own tags); the others are left out.
pub(super) fn resource_tags(
    service: &LocalService,
    resources: &[TaggedResource],
) -> Result<Vec<(TaggedResource, Vec<Tag>)>> {
    service.store.with_conn(|c| {
        let mut found = Vec::new();
        for resource in resources {
            let tags = match &resource.id {
                TaggedId::Image(id) => ImageKind::ALL
                    .iter()
                    .find_map(|kind| service.visible_row_in(c, &resource.region, *kind, id).ok())
                    .map(|row| row.image.tags),
                TaggedId::Instance(id) => service
                    .instance_in(c, &resource.region, id)
                    .ok()
                    .map(|row| row.instance.tags),
            };
            if let Some(tags) = tags {
                found.push((resource.clone(), tags));
            }
        }
        Ok(found)
    })
}

/// Every resource of the account that holds tags (its custom images and its instances), in
/// resource order.
pub(super) fn tagged_resources(service: &LocalService) -> Result<Vec<(TaggedResource, Vec<Tag>)>> {
    service.store.with_conn(|c| {
        let mut found = Vec::new();
        for (sql, image) in [
            (
                "SELECT region, image_id, tags FROM images
                 WHERE owner = ?1 AND kind = 'CUSTOM' AND tags <> '[]'",
                true,
            ),
            (
                "SELECT region, instance_id, tags FROM instances WHERE owner = ?1 AND tags <> '[]'",
                false,
            ),
        ] {
            let mut statement = c.prepare_cached(sql)?;
            let rows = statement.query_map(params![service.account.as_str()], |r| {
                let tags: String = r.get(2)?;
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    json_column::<Vec<Tag>>(2, &tags)?,
                ))
            })?;
            for row in rows {
                let (region, id, tags) = row?;
                let prefix = if image { "image" } else { "instance" };
                // A row the store holds is well formed; one that is not is left out.
                let Ok(resource) = TaggedResource::from_parts(&region, prefix, &id) else {
                    continue;
                };
                found.push((resource, tags));
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(key: &str, value: &str) -> Tag {
        Tag {
            key: key.to_string(),
            value: value.to_string(),
        }
    }

    fn refusal(tags: &[Tag], codes: TagCodes) -> Option<Code> {
        let e = check_tags(tags, codes).err()?;
        Code::ALL.iter().copied().find(|c| e.is(*c))
    }

    #[test]
    fn keys_and_values_follow_the_clouds_rules() {
        assert_eq!(
            refusal(
                &[tag("team", "web"), tag("环境", "生产 A")],
                TagCodes::TagService
            ),
            None
        );
        assert_eq!(
            refusal(&[tag("a=b", "x:y/z@(1)")], TagCodes::TagService),
            None
        );
        let long_key = "k".repeat(MAX_KEY_CHARS + 1);
        let long_value = "v".repeat(MAX_VALUE_CHARS + 1);
        for (tags, service, cvm) in [
            (
                vec![tag("", "v")],
                Code::InvalidParameterValueTagKeyEmpty,
                Code::FailedOperationIllegalTagKey,
            ),
            (
                vec![tag(&long_key, "v")],
                Code::InvalidParameterValueTagKeyLengthExceeded,
                Code::FailedOperationIllegalTagKey,
            ),
            (
                vec![tag("a!b", "v")],
                Code::InvalidParameterValueTagKeyCharacterIllegal,
                Code::FailedOperationIllegalTagKey,
            ),
            (
                vec![tag(" team", "v")],
                Code::InvalidParameterValueTagKeyCharacterIllegal,
                Code::FailedOperationIllegalTagKey,
            ),
            (
                vec![tag("qcloud:x", "v")],
                Code::InvalidParameterValueReservedTagKey,
                Code::FailedOperationTagKeyReserved,
            ),
            (
                vec![tag("project", "v")],
                Code::InvalidParameterValueReservedTagKey,
                Code::FailedOperationTagKeyReserved,
            ),
            (
                vec![tag("k", "")],
                Code::InvalidParameterValueTagValueEmpty,
                Code::FailedOperationIllegalTagValue,
            ),
            (
                vec![tag("k", &long_value)],
                Code::InvalidParameterValueTagValueLengthExceeded,
                Code::FailedOperationIllegalTagValue,
            ),
            (
                vec![tag("k", "a\tb")],
                Code::InvalidParameterValueTagValueCharacterIllegal,
                Code::FailedOperationIllegalTagValue,
            ),
            (
                vec![tag("k", "1"), tag("k", "2")],
                Code::InvalidParameterValueTagKeyDuplicate,
                Code::InvalidParameterValueDuplicateTags,
            ),
        ] {
            assert_eq!(
                refusal(&tags, TagCodes::TagService),
                Some(service),
                "{tags:?}"
            );
            assert_eq!(refusal(&tags, TagCodes::Cvm), Some(cvm), "{tags:?}");
        }
    }

    #[test]
    fn a_resource_holds_at_most_fifty_tags() {
        assert!(check_count(MAX_TAGS_PER_RESOURCE, TagCodes::TagService).is_ok());
        let e = check_count(MAX_TAGS_PER_RESOURCE + 1, TagCodes::TagService).expect_err("51");
        assert!(e.is(Code::LimitExceededResourceAttachedTags));
        let e = check_count(MAX_TAGS_PER_RESOURCE + 1, TagCodes::Cvm).expect_err("51");
        assert!(e.is(Code::InvalidParameterValueTagQuotaLimitExceeded));
    }

    #[test]
    fn only_the_owner_tags_and_a_resource_holds_fifty() {
        use crate::local::testing::*;
        let w = world();
        let owner = w.service(OWNER, 0);
        let image = custom(&owner, GZ, "tagged");
        let mine = TaggedResource::image(GZ, &image);
        let instance = TaggedResource::instance(GZ, &launch_one(&owner, GZ)[0]);
        owner
            .tag_resources(&[mine.clone(), instance.clone()], &[tag("team", "web")])
            .expect("tag");
        owner
            .set_tags(&mine, &[tag("env", "prod"), tag("app", "1")])
            .expect("set");
        let tagged = owner.tagged_resources().expect("tagged");
        assert_eq!(
            tagged,
            vec![
                (mine.clone(), vec![tag("app", "1"), tag("env", "prod")]),
                (instance.clone(), vec![tag("team", "web")]),
            ]
        );
        owner
            .untag_resources(std::slice::from_ref(&instance), &["team".into()])
            .expect("untag");
        assert_eq!(owner.tagged_resources().expect("tagged").len(), 1);

        // 49 more on top of the two it holds: one too many.
        let many: Vec<Tag> = (0..49).map(|i| tag(&format!("k{i}"), "v")).collect();
        let e = owner
            .tag_resources(std::slice::from_ref(&mine), &many)
            .expect_err("51");
        assert!(e.is(Code::LimitExceededResourceAttachedTags), "{e}");

        // Public and shared images are not the account's to tag; a friend sees the tags of an
        // image shared with it.
        let public = TaggedResource::image(GZ, &id("img-9qabwvbn"));
        let e = owner
            .set_tags(&public, &[tag("k", "v")])
            .expect_err("public");
        assert!(e.is(Code::AuthFailureUnauthorizedOperation), "{e}");
        let _ = w.service(FRIEND, 0);
        owner
            .share_image(GZ, &image, &[account(FRIEND)])
            .expect("share");
        let friend = w.service(FRIEND, 0);
        let e = friend
            .tag_resources(std::slice::from_ref(&mine), &[tag("k", "v")])
            .expect_err("shared");
        assert!(e.is(Code::AuthFailureUnauthorizedOperation), "{e}");
        let e = friend
            .set_tags(&instance, &[])
            .expect_err("not its instance");
        assert!(e.is(Code::InvalidParameterValueResourceIdInvalid), "{e}");
        assert_eq!(
            friend
                .resource_tags(&[mine.clone(), instance])
                .expect("read"),
            vec![(mine, vec![tag("app", "1"), tag("env", "prod")])]
        );
    }

    #[test]
    fn modify_replaces_and_deletes_in_one_change_counting_the_result() {
        use crate::local::testing::*;
        let w = world();
        let owner = w.service(OWNER, 0);
        let image = TaggedResource::image(GZ, &custom(&owner, GZ, "modified"));
        let fifty: Vec<Tag> = (0..50).map(|i| tag(&format!("k{i:02}"), "v")).collect();
        owner.set_tags(&image, &fifty).expect("fifty");
        // One added and one deleted: still fifty, so it is taken.
        owner
            .modify_resource_tags(&image, &[tag("k00", "w"), tag("new", "1")], &["k01".into()])
            .expect("modify");
        let held = &owner
            .resource_tags(std::slice::from_ref(&image))
            .expect("read")[0]
            .1;
        assert_eq!(held.len(), 50);
        assert!(held.contains(&tag("k00", "w")) && held.contains(&tag("new", "1")));
        assert!(!held.iter().any(|t| t.key == "k01"));
        // One more than that is refused, and nothing changes.
        let e = owner
            .modify_resource_tags(&image, &[tag("k01", "v"), tag("k00", "x")], &[])
            .expect_err("51");
        assert!(e.is(Code::LimitExceededResourceAttachedTags), "{e}");
        for (replace, delete, code) in [
            (
                vec![tag("k02", "1")],
                vec!["k02".to_string()],
                Code::InvalidParameterValueDeleteTagsParamError,
            ),
            (
                vec![tag("qcloud:x", "1")],
                vec![],
                Code::InvalidParameterValueReservedTagKey,
            ),
        ] {
            let e = owner
                .modify_resource_tags(&image, &replace, &delete)
                .expect_err("refused");
            assert!(e.is(code), "{e}");
        }
        let after = &owner
            .resource_tags(std::slice::from_ref(&image))
            .expect("read")[0]
            .1;
        assert_eq!(after, held);
        let public = TaggedResource::image(GZ, &id("img-9qabwvbn"));
        let e = owner
            .modify_resource_tags(&public, &[], &["k".into()])
            .expect_err("public");
        assert!(e.is(Code::AuthFailureUnauthorizedOperation), "{e}");
    }

    #[test]
    fn creation_tags_take_their_resource_type_only() {
        let spec = |resource_type: &str| TagSpecification {
            resource_type: resource_type.to_string(),
            tags: vec![crate::model::api::Tag {
                key: "b".into(),
                value: "1".into(),
            }],
        };
        let specs = [
            spec("image"),
            TagSpecification {
                tags: vec![crate::model::api::Tag {
                    key: "a".into(),
                    value: "2".into(),
                }],
                ..spec("image")
            },
        ];
        let tags = creation_tags(Some(&specs), "image").expect("image tags");
        assert_eq!(tags, vec![tag("a", "2"), tag("b", "1")]);
        let e = creation_tags(Some(&[spec("image")]), "instance").expect_err("wrong type");
        assert!(e.is(Code::InvalidParameterValue));
        assert!(creation_tags(None, "image").expect("none").is_empty());
    }
}
