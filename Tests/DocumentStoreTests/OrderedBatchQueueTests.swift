import Dispatch
import Foundation
import Synchronization
import Testing
import TestSupport
@testable import DocumentStore

/// `OrderedBatchQueue`: every batch processed exactly once, delivered in submission order on the
/// caller's thread, with at most `workers` batches processed at once and at most `workers + queued`
/// in flight — whatever the processing times.
@Suite struct OrderedBatchQueueTests {
    final class Probe: Sendable {
        let running = Atomic<Int>(0)
        let mostRunning = Atomic<Int>(0)
        let processed = Atomic<Int>(0)
    }

    final class Item: @unchecked Sendable {  // one thread at a time: the queue hands it over
        let number: Int
        let delayMicroseconds: UInt32
        var timesProcessed = 0
        init(_ number: Int, delayMicroseconds: UInt32) {
            self.number = number
            self.delayMicroseconds = delayMicroseconds
        }
    }

    @Test(arguments: [1, 2, 3, 4], [0, 2])
    func deliversEveryBatchOnceInOrderWithinItsLimits(workers: Int, queued: Int) throws {
        let probe = Probe()
        var generator = SplitMix64(seed: UInt64(workers * 10 + queued))
        let queue = OrderedBatchQueue<Item>(workers: workers, queued: queued, label: "test.ordered") { item in
            let now = probe.running.add(1, ordering: .sequentiallyConsistent).newValue
            probe.mostRunning.max(now, ordering: .sequentiallyConsistent)
            if item.delayMicroseconds > 0 { usleep(item.delayMicroseconds) }
            item.timesProcessed += 1
            probe.processed.add(1, ordering: .sequentiallyConsistent)
            probe.running.subtract(1, ordering: .sequentiallyConsistent)
        }
        var delivered: [Int] = []
        var outstanding = 0  // submitted, not yet delivered
        var mostOutstanding = 0
        let deliver = { (item: Item) in
            #expect(item.timesProcessed == 1)
            delivered.append(item.number)
            outstanding -= 1
        }
        let count = 300
        for number in 0..<count {
            // Mostly quick batches, some slow ones, so workers finish out of order.
            let delay = generator.next() % 5 == 0 ? UInt32(generator.next() % 3000) : UInt32(generator.next() % 50)
            outstanding += 1
            try queue.submit(Item(number, delayMicroseconds: delay), deliver: deliver)
            mostOutstanding = max(mostOutstanding, outstanding)
        }
        try queue.drain(deliver: deliver)
        #expect(delivered == Array(0..<count))
        #expect(probe.processed.load(ordering: .sequentiallyConsistent) == count)
        #expect(probe.mostRunning.load(ordering: .sequentiallyConsistent) <= max(1, workers))
        #expect(mostOutstanding <= max(1, workers) + queued)
        if workers > 1 {
            // The slow batches overlap: more than one was processed at a time at some point.
            #expect(probe.mostRunning.load(ordering: .sequentiallyConsistent) > 1)
        }
    }

    /// A queue dropped with batches in flight (a delivery threw) waits for the ones being
    /// processed and skips the ones no thread has taken: nothing touches a batch afterwards.
    @Test func droppingTheQueueWaitsForBatchesBeingProcessed() throws {
        struct Stop: Error {}
        let items = (0..<40).map { Item($0, delayMicroseconds: 2000) }
        let processed = Probe()
        do {
            let queue = OrderedBatchQueue<Item>(workers: 3, queued: 4, label: "test.drop") { item in
                usleep(item.delayMicroseconds)
                item.timesProcessed += 1
                processed.processed.add(1, ordering: .sequentiallyConsistent)
            }
            #expect(throws: Stop.self) {
                for item in items { try queue.submit(item) { _ in throw Stop() } }
            }
        }
        let afterDrop = processed.processed.load(ordering: .sequentiallyConsistent)
        usleep(20_000)
        #expect(processed.processed.load(ordering: .sequentiallyConsistent) == afterDrop)
        #expect(items.allSatisfy { $0.timesProcessed <= 1 })
        #expect(afterDrop < items.count)  // the first delivery threw: the rest was never queued or was skipped
    }
}
