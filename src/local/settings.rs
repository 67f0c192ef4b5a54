//! The store's settings, in one table: the name `imagefs store settings` and `imagefs store
//! set` use, the `meta` key that holds each, its default and what it means; and the look-ups
//! of `meta` values.
//!
//! A setting is read two ways: inside a command's transaction a value that is not a number
//! reads as the default ([`setting_in`]), so the command still runs; outside one
//! (`quota.json`, the transition delay) `Store::setting_u64` reports it as a broken store.

use rusqlite::{Connection, OptionalExtension};

use crate::error::Result;

/// A setting of the store, kept in its `meta` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The name `imagefs store` knows it by.
    pub name: &'static str,
    /// The `meta` key that holds it.
    pub key: &'static str,
    /// Its value when unset (the seed document's limits).
    pub default: u64,
    /// What it means, as `imagefs store settings` shows it.
    pub description: &'static str,
}

/// Custom images an account may hold in one region.
pub const CUSTOM_IMAGE_QUOTA: Setting = Setting {
    name: "custom-image-quota",
    key: "custom_image_quota",
    default: 10,
    description: "custom images per account and region",
};

/// Accounts one image can be shared with.
pub const SHARE_LIMIT: Setting = Setting {
    name: "share-limit",
    key: "share_limit",
    default: 50,
    description: "accounts one image can be shared with",
};

/// How long asynchronous work (create, import, copy, launch, reset) takes by default.
pub const TRANSITION_DELAY: Setting = Setting {
    name: "transition-delay",
    key: "transition_delay_ms",
    default: 2000,
    description: "milliseconds asynchronous work takes",
};

/// The settings `imagefs store` knows.
pub const SETTINGS: [Setting; 3] = [CUSTOM_IMAGE_QUOTA, SHARE_LIMIT, TRANSITION_DELAY];

/// A value of the `meta` table (a setting, a pending injection, the catalog...).
pub(crate) fn meta_value(c: &Connection, key: &str) -> Result<Option<String>> {
    Ok(c.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

/// A number of the `meta` table as a command reads it: `default` when unset or not a number.
pub(crate) fn meta_number(c: &Connection, key: &str, default: u64) -> Result<u64> {
    Ok(meta_value(c, key)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(default))
}

/// A setting as a command reads it, inside its transaction (see [`meta_number`]).
pub(crate) fn setting_in(c: &Connection, setting: &Setting) -> Result<u64> {
    meta_number(c, setting.key, setting.default)
}
