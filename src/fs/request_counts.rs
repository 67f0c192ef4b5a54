//! Kernel requests served, by kind.

/// Kernel requests served, by kind: logged on SIGUSR1 and at unmount, so a benchmark can
/// explain its figures.
#[derive(Default)]
pub struct RequestCounts {
    counts: [std::sync::atomic::AtomicU64; REQUEST_KINDS.len()],
}

const REQUEST_KINDS: [&str; 12] = [
    "lookup",
    "getattr",
    "setattr",
    "open",
    "read",
    "write",
    "release",
    "opendir",
    "readdir",
    "readdirplus",
    "releasedir",
    "other",
];

impl RequestCounts {
    pub(crate) fn count(&self, kind: &str) {
        let index = REQUEST_KINDS
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(REQUEST_KINDS.len() - 1);
        self.counts[index].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// `lookup=.. getattr=.. ...`, the counts so far.
    pub fn summary(&self) -> String {
        REQUEST_KINDS
            .iter()
            .zip(self.counts.iter())
            .map(|(k, c)| format!("{k}={}", c.load(std::sync::atomic::Ordering::Relaxed)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}
