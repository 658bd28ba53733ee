import ClassyCore
import Foundation
import Testing

@Suite("BruteForcePolicy")
struct BruteForcePolicyTests {
    let policy = BruteForcePolicy()

    @Test("defaults are DESIGN.md's")
    func defaults() {
        #expect(policy.email.threshold == 5)
        #expect(policy.email.window == 15 * 60)
        #expect(policy.email.baseLock == 60)
        #expect(policy.email.maxLock == 3600)
        #expect(policy.ip.threshold == 20)
        #expect(policy.ip.window == 15 * 60)
        #expect(policy.ip.baseBlock == 15 * 60)
        #expect(policy.ip.maxBlock == 24 * 3600)
        #expect(policy.ip.permanentAfter == 5)
        #expect(policy.ip.permanenceWindow == 24 * 3600)
        #expect(policy.allowList.isEmpty)
    }

    @Test("attempts within the thresholds are admitted; counts past them are refused unchecked")
    func admission() {
        #expect(policy.admission(emailFailures: 1, ipFailures: 1) == .admit)
        #expect(policy.admission(emailFailures: 5, ipFailures: 20) == .admit)
        #expect(policy.admission(emailFailures: 6, ipFailures: 20) == .overEmailLimit)
        #expect(policy.admission(emailFailures: 6, ipFailures: 21) == .overIPLimit)
        #expect(policy.admission(emailFailures: 1, ipFailures: 21) == .overIPLimit)
        #expect(policy.admission(emailFailures: 5, ipFailures: nil) == .admit)
        #expect(policy.admission(emailFailures: nil, ipFailures: nil) == .admit)
    }

    @Test("the failure that reaches a threshold locks or blocks")
    func thresholds() {
        #expect(!policy.locksEmail(failures: 4))
        #expect(policy.locksEmail(failures: 5))
        #expect(!policy.blocksIP(failures: 19))
        #expect(policy.blocksIP(failures: 20))
    }

    @Test("locks double from 1 min up to 1 h")
    func lockEscalation() {
        let durations = (1...9).map { policy.lockDuration(forLockNumber: $0) }
        #expect(durations == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600])
        #expect(policy.lockDuration(forLockNumber: 0) == 60)
        #expect(policy.lockDuration(forLockNumber: 10_000) == 3600)
    }

    @Test("the lock number restarts when the previous lock is older than the escalation memory")
    func lockNumber() {
        let now = Date(timeIntervalSince1970: 1_000_000)
        #expect(policy.nextLockNumber(previousLockCount: nil, previousLockTime: nil, now: now) == 1)
        #expect(
            policy.nextLockNumber(previousLockCount: 3, previousLockTime: now.addingTimeInterval(-600), now: now) == 4)
        #expect(
            policy.nextLockNumber(previousLockCount: 3, previousLockTime: now.addingTimeInterval(-25 * 3600), now: now)
                == 1
        )
        #expect(policy.escalationResetBefore(now: now) == now.addingTimeInterval(-24 * 3600))
    }

    @Test("blocks double from 15 min; the 5th within 24 h is permanent")
    func blockEscalation() {
        #expect(policy.block(previousBlocksInWindow: 0) == .temporary(15 * 60))
        #expect(policy.block(previousBlocksInWindow: 1) == .temporary(30 * 60))
        #expect(policy.block(previousBlocksInWindow: 2) == .temporary(60 * 60))
        #expect(policy.block(previousBlocksInWindow: 3) == .temporary(120 * 60))
        #expect(policy.block(previousBlocksInWindow: 4) == .permanent)
        #expect(policy.block(previousBlocksInWindow: 40) == .permanent)

        var never = policy
        never.ip.permanentAfter = 0
        #expect(never.block(previousBlocksInWindow: 4) == .temporary(240 * 60))
        #expect(never.block(previousBlocksInWindow: 20) == .temporary(24 * 3600))
    }

    @Test("IPv4 addresses are their own key; IPv6 addresses are grouped by /64")
    func ipKeys() {
        #expect(BruteForcePolicy.ipKey(for: IPAddress("203.0.113.7")!) == "203.0.113.7")
        #expect(BruteForcePolicy.ipKey(for: IPAddress("2001:db8:1:2:aaaa::1")!) == "2001:db8:1:2::/64")
        #expect(BruteForcePolicy.ipKey(for: IPAddress("2001:db8:1:2:ffff::9")!) == "2001:db8:1:2::/64")
        #expect(BruteForcePolicy.ipKey(for: IPAddress("::ffff:198.51.100.1")!) == "198.51.100.1")
    }

    @Test("the allow-list covers addresses in its ranges, and blocks that overlap it")
    func allowList() {
        let policy = BruteForcePolicy(allowList: [IPNetwork("10.0.0.0/8")!, IPNetwork("2001:db8::/32")!])
        #expect(policy.isAllowListed(IPAddress("10.1.2.3")!))
        #expect(!policy.isAllowListed(IPAddress("11.1.2.3")!))
        #expect(policy.isAllowListed(IPAddress("2001:db8:5::1")!))
        #expect(!policy.isAllowListed(IPAddress("2001:db9::1")!))
        #expect(policy.overlapsAllowList(IPNetwork("10.2.0.0/16")!))
        #expect(policy.overlapsAllowList(IPNetwork("0.0.0.0/0")!))
        #expect(policy.overlapsAllowList(IPNetwork("10.9.9.9")!))
        #expect(!policy.overlapsAllowList(IPNetwork("192.168.0.0/16")!))
        #expect(policy.overlapsAllowList(IPNetwork("::/0")!))
    }
}
