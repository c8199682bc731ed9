//! `memory::retain_freed_memory`: a large buffer freed and allocated again does not fault its
//! pages in again. Its own test binary, so that the allocator setting and the fault counts
//! belong to this test alone.

/// Minor page faults of the calling thread so far (`/proc/thread-self/stat`, field 10).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("reading thread stat");
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let rest = &stat[stat.rfind(')').expect("stat has a command name") + 2..];
    rest.split(' ')
        .nth(7)
        .and_then(|f| f.parse().ok())
        .expect("field 10 (minflt) is a number")
}

/// Page faults while allocating `bytes`, writing every page, and freeing them.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn faults_of_one_pass(bytes: usize) -> u64 {
    let before = minor_faults();
    let buffer = vec![1u8; bytes];
    std::hint::black_box(&buffer);
    drop(buffer);
    minor_faults() - before
}

#[test]
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn a_freed_buffer_is_reused_without_page_faults() {
    // Above glibc's largest mmap threshold (32 MiB): by default each such buffer is a fresh
    // mapping whose every page faults in, pass after pass.
    const BYTES: usize = 40 << 20;
    let pages = (BYTES / 4096) as u64;
    let default_pass = faults_of_one_pass(BYTES);
    if default_pass <= pages / 2 {
        // Transparent huge pages (`always`) fault 2 MiB at a time: no difference to see.
        eprintln!(
            "skipped: glibc's default faulted {default_pass} times for {pages} pages here, so \
             the setting's effect cannot be told apart"
        );
        return;
    }
    assert!(microprop::memory::retain_freed_memory());
    let first = faults_of_one_pass(BYTES);
    let again: Vec<u64> = (0..3).map(|_| faults_of_one_pass(BYTES)).collect();
    assert!(
        again.iter().all(|&f| f < pages / 100),
        "after retain_freed_memory: {first} faults on the first pass, then {again:?} for \
         {pages} pages"
    );
}
