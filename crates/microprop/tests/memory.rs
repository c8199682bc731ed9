//! `memory::retain_freed_memory`: a large buffer freed and allocated again does not fault its
//! pages in again, on the thread that called it and on threads started afterwards. Without
//! the test harness (`harness = false` in Cargo.toml): the setting must come before any other
//! thread allocates, as in the programs, and the fault counts belong to this binary alone (one
//! thread allocates at a time, so the process's count is the pass's).

#[cfg(all(target_os = "linux", target_env = "gnu"))]
use microprop::memory::minor_page_faults;

/// Page faults while allocating `bytes`, writing every page, and freeing them.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn faults_of_one_pass(bytes: usize) -> u64 {
    let before = minor_page_faults().expect("reading /proc/self/stat");
    let buffer = vec![1u8; bytes];
    std::hint::black_box(&buffer);
    drop(buffer);
    minor_page_faults().expect("reading /proc/self/stat") - before
}

/// Page faults of four passes on a new thread.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn passes_on_a_new_thread(bytes: usize) -> Vec<u64> {
    std::thread::spawn(move || (0..4).map(|_| faults_of_one_pass(bytes)).collect())
        .join()
        .expect("the allocating thread finished")
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn main() {
    // Above glibc's largest mmap threshold (32 MiB), where by default each buffer is a fresh
    // mapping whose every page faults in, pass after pass; and above the 64 MiB heaps of a
    // thread's own arena, which map larger blocks whatever the threshold.
    const BYTES: usize = 96 << 20;
    let pages = (BYTES / 4096) as u64;
    let default_pass = faults_of_one_pass(BYTES);
    if default_pass <= pages / 2 {
        // Transparent huge pages (`always`) fault 2 MiB at a time: no difference to see.
        println!(
            "memory: skipped: glibc's default faulted {default_pass} times for {pages} pages \
             here, so the setting's effect cannot be told apart"
        );
        return;
    }
    assert!(microprop::memory::retain_freed_memory());
    let main_thread: Vec<u64> = (0..4).map(|_| faults_of_one_pass(BYTES)).collect();
    let other_thread = passes_on_a_new_thread(BYTES);
    for (name, faults) in [("main", &main_thread), ("a new", &other_thread)] {
        assert!(
            faults[1..].iter().all(|&f| f < pages / 100),
            "after retain_freed_memory, on {name} thread: {faults:?} faults per pass for \
             {pages} pages (default: {default_pass})"
        );
    }
    println!(
        "memory: ok, {default_pass} faults per pass by default, then {main_thread:?} on the \
         main thread and {other_thread:?} on a new one, for {pages} pages"
    );
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn main() {
    assert!(!microprop::memory::retain_freed_memory());
}
