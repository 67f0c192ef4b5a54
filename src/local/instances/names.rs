//! Names for a batch of instances, as RunInstances makes them from `InstanceName` and
//! `HostName`: the patterns `{R:x}` (numbers x, x+1, ... for the instances of the batch) and
//! `{R:x,F:y}` (the same, zero-padded to y digits, y from 0 to 8; a number with more digits
//! keeps them), and for host names `{IP}` (the instance's private address). A text in braces
//! that is not one of these is plain text (`{}` stays `{}`), and a name may hold several
//! patterns. A name without a pattern gets the suffixes 1, 2, ... n when n > 1 instances are
//! launched.

/// A name as written, cut into text and patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NamePattern {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    /// `{R:start}` or `{R:start,F:width}`.
    Sequence {
        start: u64,
        width: usize,
    },
    /// `{IP}` (host names only).
    Ip,
}

/// The largest start a sequence may have: its last number (at most 500 instances on) must
/// still be a number.
const MAX_START: u64 = u64::MAX - 1_000;

impl NamePattern {
    /// Reads a name; `host` lets `{IP}` be a pattern.
    pub(super) fn parse(text: &str, host: bool) -> NamePattern {
        let mut parts = Vec::new();
        let mut plain = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            plain.push_str(&rest[..open]);
            let candidate = &rest[open..];
            match candidate
                .find('}')
                .and_then(|close| pattern(&candidate[1..close], host).map(|part| (part, close)))
            {
                Some((part, close)) => {
                    if !plain.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut plain)));
                    }
                    parts.push(part);
                    rest = &candidate[close + 1..];
                }
                None => {
                    plain.push('{');
                    rest = &candidate[1..];
                }
            }
        }
        plain.push_str(rest);
        if !plain.is_empty() {
            parts.push(Part::Text(plain));
        }
        NamePattern { parts }
    }

    fn has_pattern(&self) -> bool {
        self.parts.iter().any(|p| !matches!(p, Part::Text(_)))
    }
}

/// The pattern between `{` and `}`, if it is one.
fn pattern(inner: &str, host: bool) -> Option<Part> {
    if host && inner == "IP" {
        return Some(Part::Ip);
    }
    let spec = inner.strip_prefix("R:")?;
    let (start, width) = match spec.split_once(",F:") {
        Some((start, width)) => (start, width),
        None => (spec, "0"),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(start) || !digits(width) {
        return None;
    }
    let start: u64 = start.parse().ok().filter(|s| *s <= MAX_START)?;
    let width: usize = width.parse().ok().filter(|w| *w <= 8)?;
    Some(Part::Sequence { start, width })
}

/// The name of the `index`th (from 0) of `count` instances; `ip` fills `{IP}`.
pub(super) fn expand(pattern: &NamePattern, index: u64, count: u64, ip: Option<&str>) -> String {
    let mut name = String::new();
    for part in &pattern.parts {
        match part {
            Part::Text(text) => name.push_str(text),
            Part::Sequence { start, width } => {
                name.push_str(&format!("{:0width$}", start + index, width = *width))
            }
            Part::Ip => name.push_str(ip.unwrap_or_default()),
        }
    }
    if count > 1 && !pattern.has_pattern() {
        name.push_str(&(index + 1).to_string());
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str, count: u64) -> Vec<String> {
        let pattern = NamePattern::parse(text, false);
        (0..count)
            .map(|i| expand(&pattern, i, count, None))
            .collect()
    }

    /// The examples of the reference's `InstanceName` and `HostName` docs.
    #[test]
    fn the_reference_examples_hold() {
        assert_eq!(names("server_{R:3}", 1), ["server_3"]);
        assert_eq!(names("server_{R:3}", 2), ["server_3", "server_4"]);
        assert_eq!(names("server_{R:3,F:3}", 2), ["server_003", "server_004"]);
        assert_eq!(names("app_{R:99,F:2}", 2), ["app_99", "app_100"]);
        assert_eq!(names("server_", 2), ["server_1", "server_2"]);
        assert_eq!(names("server_", 1), ["server_"]);
        let host = NamePattern::parse("web-{IP}-{R:1}", true);
        assert_eq!(expand(&host, 0, 2, Some("10.0.12.8")), "web-10.0.12.8-1");
        assert_eq!(expand(&host, 1, 2, Some("10.0.12.9")), "web-10.0.12.9-2");
    }

    #[test]
    fn malformed_patterns_are_plain_text() {
        assert_eq!(names("a{}b", 2), ["a{}b1", "a{}b2"]);
        assert_eq!(names("{R:x}", 1), ["{R:x}"]);
        assert_eq!(names("{R:1,F:9}", 1), ["{R:1,F:9}"]);
        assert_eq!(names("{R:1,F:}", 1), ["{R:1,F:}"]);
        assert_eq!(
            names("{R:99999999999999999999999}", 1),
            ["{R:99999999999999999999999}"]
        );
        assert_eq!(
            names("{IP}", 2),
            ["{IP}1", "{IP}2"],
            "{{IP}} is for host names"
        );
        assert_eq!(names("{{R:1}}", 2), ["{1}", "{2}"]);
        assert_eq!(names("x{R:1", 1), ["x{R:1"]);
    }

    #[test]
    fn several_patterns_count_together() {
        assert_eq!(names("{R:1}-{R:10,F:3}", 2), ["1-010", "2-011"]);
        assert_eq!(names("n{R:0,F:0}", 3), ["n0", "n1", "n2"]);
    }
}
