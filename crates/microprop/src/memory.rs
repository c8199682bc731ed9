//! Process-wide allocator settings for the programs that run the models.
//!
//! A forward pass allocates its large tensors afresh, layer after layer. With glibc's
//! defaults each allocation above its (adaptive, at most 32 MiB) threshold is a new `mmap`,
//! and memory freed at the top of the heap is given back to the kernel, so every pass faults
//! the same pages in again and the kernel zeroes each one: measured on the project's machine,
//! about 150,000 page faults (0.6 GB zeroed) per DINOv2-B batch of 8, 530,000 per DINOv2-L
//! pass on a 658 × 728 crop and 4.6 million per SAM-H pass. Keeping freed memory in the
//! process removes nearly all of them (`cargo xtask bench vit` prints the page faults per
//! pass).

/// Keeps memory freed by the program for its later allocations instead of returning it to the
/// operating system, so that repeated passes do not fault their pages in again; returns
/// whether the setting took effect (glibc on Linux only; elsewhere nothing changes).
///
/// For programs (the `microprop` command line, `xtask`), called once at start-up, before other
/// threads allocate: it changes the allocator of the whole process. The resident memory then
/// stays near its peak instead of shrinking between passes; the peak itself stays about the
/// same (within 3 % on the paper's workloads).
pub fn retain_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // Large blocks come from the heap instead of their own mappings, and the heap's free
        // top is returned to the kernel only beyond 2 GiB. One arena for all threads: a
        // thread's own arena grows in heaps of at most 64 MiB and maps anything larger
        // anyway (SAM-H's and batch-32 tensors); small blocks still come from each
        // thread's cache without a lock.
        // SAFETY: `mallopt` only sets allocator parameters, under the allocator's own lock.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1) == 1
                && libc::mallopt(libc::M_MMAP_MAX, 0) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// This process's minor page faults so far (Linux `/proc/self/stat`, field 10), if known.
pub fn minor_page_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    rest.split(' ').nth(7)?.parse().ok()
}
