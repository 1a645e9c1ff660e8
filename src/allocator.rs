//! The process's allocator setting: glibc's malloc serves blocks of up to 32 MiB from its heap,
//! where a freed block is reused by the run's next allocations, instead of mapping each on its
//! own and handing it back to the kernel when freed.
//!
//! # Why
//!
//! A rollout's event queue moves a batch's answers from one buffer to the next as their time
//! comes near (`fleet-sim`'s calendar queue), so a large run allocates, grows and frees buffers
//! of a few hundred kilobytes all along. glibc maps a block of 128 KB or more on its own
//! (`mmap`) and unmaps it when freed, so the next such block takes fresh pages: a page fault
//! each, and a page the kernel must zero (about 1.6 us a page on the development machine).
//! glibc raises that threshold itself, but only as far as the largest block freed so far. The
//! reference rollout at 10,000,000 devices took 67,440 page faults where its peak memory needs
//! about 36,000, about 160 ms of its 1.2 s in the kernel.
//!
//! # What
//!
//! The threshold starts where glibc's own adjustment would end: 32 MiB, its largest dynamic
//! threshold on 64-bit targets. Larger blocks (the per-device columns of a fleet of 10 million)
//! are still mapped and unmapped on their own. Setting it fixes glibc's other threshold, the
//! free memory the heap keeps at its top before trimming, at its default of 128 KB; raising that
//! as well saved a few more faults but kept up to its size of freed memory in each thread's
//! heap (replications: 8 runs of 1M devices on 2 threads peaked at 57 MB instead of 49).
//! With the threshold alone the 10M rollout takes 44,000 page faults, its peak memory and the
//! replications' are unchanged (docs/performance.md, sixth round).
//!
//! Other platforms and C libraries keep their defaults: this is a tuning, not a requirement.

/// The largest block served from the heap, not mapped on its own (glibc's `M_MMAP_THRESHOLD`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD_BYTES: i32 = 32 << 20;

/// Sets the allocator's threshold (see the module documentation). Call once, first thing in
/// `main`, before any thread starts.
pub(crate) fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` takes malloc's lock and sets a parameter glibc documents, to a value
        // in its range. glibc marks it MT-unsafe because a concurrent allocation may still see
        // the old threshold, not for memory safety; called first thing in `main`, every
        // allocation of the run sees the new one.
        let ok = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) } == 1;
        debug_assert!(ok, "glibc refused the malloc threshold");
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Blocks mapped on their own, and their bytes (glibc's count).
    fn mapped() -> (usize, usize) {
        // SAFETY: `mallinfo2` only reads malloc's statistics.
        let info = unsafe { libc::mallinfo2() };
        (info.hblks, info.hblkhd)
    }

    #[test]
    fn blocks_below_the_threshold_come_from_the_heap() {
        tune();
        // glibc's default would map this block on its own (128 KB), and so would its dynamic
        // threshold unless a block this large had been freed before. The counts are
        // process-wide: the checks are one-sided, so that another test freeing a mapped block
        // meanwhile cannot fail them.
        let size = MMAP_THRESHOLD_BYTES as usize / 2;
        let before = mapped();
        let block = vec![1u8; size];
        assert!(
            mapped().1 < before.1 + size,
            "a {size}-byte block was mapped on its own"
        );
        drop(block);
        // Past the threshold, blocks are still mapped (and unmapped when freed).
        let before = mapped();
        let large = vec![1u8; MMAP_THRESHOLD_BYTES as usize * 2];
        assert!(mapped().1 >= before.1 + large.len());
    }
}
