internal import CCurl

/// The first read of many ready sockets in one system call (`dsd_rx_batch`: an io_uring whose
/// requests are `recvmsg` calls with `MSG_DONTWAIT`). Loop thread only.
final class RxBatch {
    private let raw: OpaquePointer
    /// The most sockets one `read` takes, and the bytes each read may bring.
    let slots: Int
    let slotSize: Int

    /// nil where io_uring is not there (not Linux, a kernel before 6.0, io_uring disabled or
    /// refused by a seccomp filter).
    init?(slots: Int, slotSize: Int) {
        guard let raw = dsd_rx_batch_create(Int32(slots), Int32(slotSize)) else { return nil }
        self.raw = raw
        self.slots = slots
        self.slotSize = slotSize
    }

    deinit { dsd_rx_batch_destroy(raw) }

    /// Reads each of the `n` (at most `slots`) sockets at `fds` once, never waiting for data:
    /// `results[i]` the count of bytes read into `slot(i)`, 0 at end of file, or −errno (−EAGAIN:
    /// nothing was there); `stamps[i]` the kernel's receive stamp (real-time ns; 0: none). False
    /// when nothing could be submitted: then nothing was read.
    func read(_ fds: UnsafePointer<Int32>, _ n: Int, results: UnsafeMutablePointer<Int>,
              stamps: UnsafeMutablePointer<Int64>) -> Bool {
        dsd_rx_batch_read(raw, fds, Int32(n), results, stamps) == 0
    }

    /// Where read `i` of the last `read` put its bytes (valid until the next `read`).
    func slot(_ i: Int) -> UnsafeMutableRawPointer { dsd_rx_batch_slot(raw, Int32(i)) }
}
