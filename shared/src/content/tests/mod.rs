//! Tests of the content check, with samples built in code by [`build`].

mod binary;
mod build;
mod packages;
mod policy;
mod programs;
mod streaming;
mod text;

use super::{ContentCheck, Inspector, Policy, PolicyOptions};

/// Feeds the bytes in chunks of `size` bytes.
fn inspect_in_chunks(bytes: &[u8], size: usize) -> Inspector {
    let mut inspector = Inspector::new();
    bytes.chunks(size).for_each(|chunk| inspector.update(chunk));
    inspector
}

/// Checks a named sample with these options, and asserts that feeding it in one chunk, in
/// small odd-sized chunks and (for small samples) byte by byte gives the same result.
fn check_with(name: &str, bytes: &[u8], options: PolicyOptions) -> ContentCheck {
    let policy = Policy::with_options("", options).expect("the full table is a valid policy");
    let whole = policy.check(name, &inspect_in_chunks(bytes, bytes.len().max(1)));
    let mut sizes = vec![4093, 7];
    if bytes.len() <= 20_000 {
        sizes.push(1);
    }
    for size in sizes {
        let chunked = policy.check(name, &inspect_in_chunks(bytes, size));
        assert_eq!(chunked, whole, "{name} fed in chunks of {size} bytes");
    }
    whole
}

/// Checks a named sample with the default options.
fn check(name: &str, bytes: &[u8]) -> ContentCheck {
    check_with(name, bytes, PolicyOptions::default())
}

/// Asserts that the check accepts the sample, showing the reason when it does not.
fn assert_accepted(check: &ContentCheck) {
    assert_eq!(check.reason, None);
    assert!(check.matches);
}

/// Asserts that the check rejects the sample for exactly this reason.
fn assert_rejected(check: &ContentCheck, reason: &str) {
    assert_eq!(check.reason.as_deref(), Some(reason));
    assert!(!check.matches);
}

const ALLOW_ALL: PolicyOptions = PolicyOptions {
    allow_executables: true,
    allow_active_content: true,
    allow_encrypted: true,
};
