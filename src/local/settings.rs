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
    /// How its value is shown and written (the store may keep it in a finer unit).
    pub unit: Unit,
    /// What it means, as `imagefs store settings` shows it after the value and its unit.
    pub description: &'static str,
}

/// The unit of a setting as users see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A whole number of things (the word names them), 1 to 100000.
    Count(&'static str),
    /// Seconds for users (fractions allowed, 0 to 86400); kept in milliseconds in `meta`.
    SecondsKeptAsMilliseconds,
}

/// The largest count a setting takes.
const MAX_COUNT: u64 = 100_000;
/// The longest delay a setting takes, in seconds (a day).
const MAX_SECONDS: f64 = 86_400.0;

impl Setting {
    /// A stored value as users read it, with its unit: `10 images`, `2 seconds`.
    pub fn show(&self, stored: u64) -> String {
        match self.unit {
            Unit::Count(things) => format!("{stored} {things}"),
            Unit::SecondsKeptAsMilliseconds => format!("{} seconds", stored as f64 / 1000.0),
        }
    }

    /// What `imagefs store set NAME VALUE` accepts, as the message of a refusal shows it.
    pub fn accepted(&self) -> String {
        match self.unit {
            Unit::Count(things) => format!("a whole number of {things} from 1 to {MAX_COUNT}"),
            Unit::SecondsKeptAsMilliseconds => {
                format!("a number of seconds from 0 to {MAX_SECONDS} (e.g. 2, 0.5 or 2s)")
            }
        }
    }

    /// A value a user wrote (in the unit [`Setting::show`] names; a trailing `s` or
    /// ` seconds` is allowed on seconds), as the store keeps it; `None` when out of range.
    pub fn parse_value(&self, text: &str) -> Option<u64> {
        let text = text.trim();
        match self.unit {
            Unit::Count(things) => {
                let number = text.strip_suffix(things).unwrap_or(text).trim();
                number
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=MAX_COUNT).contains(n))
            }
            Unit::SecondsKeptAsMilliseconds => {
                let number = ["seconds", "second", "sec", "s"]
                    .iter()
                    .find_map(|suffix| text.strip_suffix(suffix))
                    .unwrap_or(text)
                    .trim();
                let seconds: f64 = number.parse().ok()?;
                (seconds.is_finite() && (0.0..=MAX_SECONDS).contains(&seconds))
                    .then(|| (seconds * 1000.0).round() as u64)
            }
        }
    }
}

/// Custom images an account may hold in one region.
pub const CUSTOM_IMAGE_QUOTA: Setting = Setting {
    name: "custom-image-quota",
    key: "custom_image_quota",
    default: 10,
    unit: Unit::Count("images"),
    description: "custom images one account may hold in one region",
};

/// Accounts one image can be shared with.
pub const SHARE_LIMIT: Setting = Setting {
    name: "share-limit",
    key: "share_limit",
    default: 50,
    unit: Unit::Count("accounts"),
    description: "accounts one custom image can be shared with",
};

/// How long asynchronous work (create, import, copy, launch, reset) takes by default.
pub const TRANSITION_DELAY: Setting = Setting {
    name: "transition-delay",
    key: "transition_delay_ms",
    default: 2000,
    unit: Unit::SecondsKeptAsMilliseconds,
    description:
        "how long asynchronous work (launch, create_image, import, copy, reset) takes; \
                  0 finishes it before the write returns; a mount's --transition-delay overrides it",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transition_delay_is_shown_and_written_in_seconds() {
        assert_eq!(TRANSITION_DELAY.show(TRANSITION_DELAY.default), "2 seconds");
        assert_eq!(TRANSITION_DELAY.show(500), "0.5 seconds");
        assert_eq!(TRANSITION_DELAY.parse_value("1.5"), Some(1500));
        assert_eq!(TRANSITION_DELAY.parse_value("2s"), Some(2000));
        assert_eq!(TRANSITION_DELAY.parse_value("0 seconds"), Some(0));
        assert_eq!(TRANSITION_DELAY.parse_value("86401"), None);
        assert_eq!(TRANSITION_DELAY.parse_value("-1"), None);
        assert!(!TRANSITION_DELAY.description.contains("milli"));
    }

    #[test]
    fn counts_are_whole_numbers_in_range() {
        assert_eq!(CUSTOM_IMAGE_QUOTA.show(10), "10 images");
        assert_eq!(SHARE_LIMIT.parse_value("7"), Some(7));
        assert_eq!(SHARE_LIMIT.parse_value("7 accounts"), Some(7));
        assert_eq!(SHARE_LIMIT.parse_value("0"), None);
        assert_eq!(SHARE_LIMIT.parse_value("1.5"), None);
        assert_eq!(SHARE_LIMIT.parse_value("100001"), None);
    }
}
