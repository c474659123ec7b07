import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Transparent huge pages for the malloc heap of large manifests.
///
/// Validating a 2,000-deployment manifest (1.5 MB) touches about 40 MB of fresh heap: 10,000 page
/// faults of 4 KiB, each a trip into the kernel and a zeroed page. Where the kernel offers
/// transparent huge pages on request (`/sys/kernel/mm/transparent_hugepage/enabled` set to
/// `madvise`, the default of Debian and Ubuntu, or `always`), the heap that is about to be used is
/// marked `MADV_HUGEPAGE` and is faulted in 2 MiB at a time instead. This is what glibc's own
/// `glibc.malloc.hugetlb=1` tunable does, which a process can only set before it starts.
///
/// How: a block of the expected size is allocated from this thread's malloc arena, its 2 MiB-aligned
/// interior marked, and the block shrunk to 64 bytes (kept). The memory stays in the arena
/// (`MallocTuning` raises malloc's trim threshold) and later allocations are carved from it;
/// nothing is touched until used, so the reservation costs address space, not memory. Each thread
/// that works on the manifest (`Parallel`'s workers) has its own arena and prepares it once. With
/// huge pages unavailable (`never`, or another libc) the advice is ignored and nothing changes.
public enum HugePageHeap {
    // Relies on `MallocTuning`: blocks below the raised mmap threshold come from the heap, and freed
    // ones stay in it below the raised trim threshold (glibc's defaults would return them at once).

    /// Bytes each worker thread's arena is prepared for (0: not requested).
    private static let perWorker = Atomic<Int>(0)
    private static let huge = 2 << 20
    private static let preparedKey = "dsdeploy.hugePageHeap"

    /// Prepares the calling thread's heap for `bytes` of allocations, and each worker thread's for
    /// its share once it first runs a `Parallel` item. Requests below 8 MiB are ignored. Returns the
    /// addresses of the calling thread's heap it marked (nil: none).
    @discardableResult
    public static func expect(bytes: Int, threads: Int) -> Range<UInt>? {
        guard bytes >= 8 << 20 else { return nil }
        MallocTuning.apply()
        let marked = prepare(bytes)
        Thread.current.threadDictionary[preparedKey] = true
        if threads > 1 { perWorker.store(bytes / threads, ordering: .relaxed) }
        return marked
    }

    /// Called by `Parallel` in each worker before its first item: prepares this thread's arena once.
    static func prepareWorker() {
        let bytes = perWorker.load(ordering: .relaxed)
        guard bytes > 0 else { return }
        let dictionary = Thread.current.threadDictionary
        guard dictionary[preparedKey] == nil else { return }
        dictionary[preparedKey] = true
        prepare(bytes)
    }

    /// At most 64 MiB on the main thread and 32 MiB on another: the block must come from the arena's
    /// heap, not a mapping of its own that `free` unmaps (another thread's arena grows in heaps of at
    /// most 64 MiB), and huge pages pay only up to a point. Measured on this project's VM (2 cores,
    /// virtio-balloon free-page reporting): with the whole expected heap marked (192 + 48 MiB),
    /// 20,000 deployments took 509 ms of system time instead of 200, zeroing 2 MiB pages the host
    /// had taken back; capped, the first 64 MiB — all of 2,000 deployments — fault in 2 MiB at a time.
    @discardableResult
    private static func prepare(_ bytes: Int) -> Range<UInt>? {
        #if canImport(Glibc)
        let bytes = min(bytes, Thread.isMainThread ? 64 << 20 : 32 << 20)
        guard let block = malloc(bytes) else { return nil }
        // Shrunk, not freed: the first 64 bytes stay allocated (for good) and the rest goes back to
        // the arena, where later allocations are carved from it. Freed whole, a block that filled a
        // fresh heap of a thread's arena would leave that heap empty, and glibc unmaps an empty heap.
        defer { _ = realloc(block, 64) }
        let start = (UInt(bitPattern: block) + UInt(huge - 1)) & ~UInt(huge - 1)
        let end = (UInt(bitPattern: block) + UInt(bytes)) & ~UInt(huge - 1)
        guard end > start, let p = UnsafeMutableRawPointer(bitPattern: start),
              madvise(p, Int(end - start), MADV_HUGEPAGE) == 0 else { return nil }
        return start..<end
        #else
        return nil
        #endif
    }
}

/// glibc malloc settings for a short-lived process that builds large arrays of values.
public enum MallocTuning {
    /// Applies the settings once (later calls do nothing).
    ///
    /// dsdeploy runs briefly and builds large arrays of values (a 2,000-deployment manifest: ~70 MB).
    /// glibc serves blocks over 128 KiB from fresh `mmap`s and unmaps them when freed, so every such
    /// array, each time it grows, costs page faults on zeroed pages (a fifth of validate's time in
    /// `clear_page`). Keeping them in the heap lets freed memory be reused.
    public static func apply() { _ = applied }

    private static let applied: Bool = {
        #if canImport(Glibc)
        // mallopt is declared in <malloc.h>, which Glibc's module does not export: found by name.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(nil, "mallopt") else { return false }  // nil: RTLD_DEFAULT
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        _ = mallopt(-3, 256 << 20)  // M_MMAP_THRESHOLD
        _ = mallopt(-1, 512 << 20)  // M_TRIM_THRESHOLD
        _ = mallopt(-2, 16 << 20)   // M_TOP_PAD
        return true
        #else
        return false
        #endif
    }()
}
