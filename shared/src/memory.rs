//! Process-wide allocator settings for the functions that handle whole files.

/// Makes the allocator give large blocks back to the system as soon as they are freed.
///
/// glibc raises its mmap threshold each time a mapped block is freed, up to 32 MiB, and from
/// then on serves blocks of that size from its heap, which it keeps. A function that once
/// handled a large file would hold the memory of its part buffers for the rest of its life.
/// A fixed threshold of 1 MiB turns that off. Call it at start-up, before any large
/// allocation; it does nothing where the C library is not glibc.
pub fn return_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        #[allow(unsafe_code)]
        // SAFETY: mallopt takes no pointers and changes a setting under glibc's own lock. A
        // value glibc does not accept makes it return 0.
        let accepted = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20) };
        if accepted != 1 {
            tracing::warn!(
                "setting a fixed mmap threshold failed; freed large blocks may stay mapped"
            );
        }
    }
}
