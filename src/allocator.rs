//! The process's allocator settings: glibc's malloc keeps the memory a run frees for the run's
//! next allocations instead of handing it back to the kernel at once.
//!
//! # Why
//!
//! A rollout's event queue moves a batch's answers from one buffer to the next as their time
//! comes near (`fleet-sim`'s calendar queue), so a large run allocates and frees buffers of a
//! few hundred kilobytes all along. glibc starts with thresholds of 128 KB: a freed block that
//! size is returned to the kernel (`munmap`, or the heap's top trimmed), and the next
//! allocation takes fresh pages, each a page fault that the kernel must zero. glibc raises its
//! thresholds itself, but only as far as the largest block freed so far. The reference rollout
//! at 10,000,000 devices trimmed and grew its heap by 155 MB over the run: 67,440 page faults,
//! about 160 ms of its 1.2 s in the kernel.
//!
//! # What
//!
//! Both thresholds start where glibc's own adjustment would end: blocks up to 32 MiB (its
//! largest dynamic mmap threshold on 64-bit targets) come from the heap, and the heap keeps up to
//! 64 MiB free at its top (twice that, as glibc's rule keeps it). Larger blocks (the per-device
//! columns of a fleet of 10 million) are still mapped and unmapped on their own. The same
//! rollout then takes 39,000 page faults and half the kernel time; its peak memory is unchanged
//! (docs/performance.md, sixth round).
//!
//! Other platforms and C libraries keep their defaults: this is a tuning, not a requirement.

/// The largest block served from the heap, not mapped on its own (glibc's `M_MMAP_THRESHOLD`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD_BYTES: i32 = 32 << 20;
/// The free memory the heap keeps at its top before it hands it back (`M_TRIM_THRESHOLD`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD_BYTES: i32 = 64 << 20;

/// Sets the allocator's thresholds (see the module documentation). Call once, first thing in
/// `main`, before any thread starts.
pub(crate) fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only sets malloc's parameters; it is called before any other
        // thread exists, with parameters and values glibc documents for it.
        let ok = unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
        };
        debug_assert!(ok, "glibc refused the malloc thresholds");
    }
}
