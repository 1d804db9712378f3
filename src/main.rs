fn main() {
    return_large_allocations();
    std::process::exit(gatehouse::cli::main());
}

/// Serve allocations of 1 MiB and more with their own mappings, returned to the system
/// when freed. glibc otherwise raises this threshold after the first large free, and the
/// 19 MiB of each password hash then stay in the heap of whichever thread ran it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_allocations() {
    // SAFETY: mallopt only sets an allocator parameter; it is called before any thread
    // is started.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_allocations() {}
