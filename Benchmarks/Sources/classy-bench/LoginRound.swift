import Foundation

/// One Login measurement with the raw hash rates measured right before and right after it.
struct LoginRound {
    var summary: LatencyRecorder.Summary
    /// The mean of the raw rates before and after (so a drift of the machine's speed does not bias it either way).
    var hashRates: RPCBenchmark.HashRates

    /// Login's rate against one core's raw hash rate times the cores, in percent (the target).
    var percentOfSingleCoreTimesCores: Double { 100 * summary.perSecond / hashRates.singleCoreTimesCores }
    /// Login's rate against the raw rate with every core hashing at once, in percent.
    var percentOfAllCores: Double { 100 * summary.perSecond / hashRates.allCores }
    /// How the raw rate scales to every core, in percent of one core's rate times the cores: what Login's first
    /// ratio would be if the server spent nothing but the hash.
    var hashScalingPercent: Double { 100 * hashRates.allCores / hashRates.singleCoreTimesCores }

    /// The round with the median first ratio (the lower middle one of an even count).
    static func median(of rounds: [LoginRound]) -> LoginRound {
        precondition(!rounds.isEmpty, "no Login round")
        return rounds.sorted { $0.percentOfSingleCoreTimesCores < $1.percentOfSingleCoreTimesCores }[
            (rounds.count - 1) / 2]
    }

    /// The median of `values` (the mean of the middle two of an even count).
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count.isMultiple(of: 2) ? (sorted[middle - 1] + sorted[middle]) / 2 : sorted[middle]
    }

    /// The lines that compare Login with the raw rates: one per round when there are several, then the verdict.
    static func report(_ rounds: [LoginRound]) -> [String] {
        var lines: [String] = []
        if rounds.count > 1 {
            for (index, round) in rounds.enumerated() {
                lines.append(
                    String(
                        format:
                            "Login round %d: %.0f/s; / (raw hash rate x cores): %.1f %%; / all-cores hash rate: %.1f %%; "
                            + "raw hash scaling to all cores: %.1f %%",
                        index + 1, round.summary.perSecond, round.percentOfSingleCoreTimesCores,
                        round.percentOfAllCores, round.hashScalingPercent))
            }
        }
        let strict = rounds.map(\.percentOfSingleCoreTimesCores)
        let allCores = rounds.map(\.percentOfAllCores)
        let scaling = rounds.map(\.hashScalingPercent)
        let spread =
            rounds.count > 1
            ? String(format: " median of %d rounds (%.1f–%.1f %%)", rounds.count, strict.min()!, strict.max()!) : ""
        lines.append(
            String(
                format: "Login / (raw hash rate x cores): %.1f %%%@ (target >= 90 %%); / all-cores hash rate: %.1f %%",
                median(strict), spread, median(allCores)))
        lines.append(
            String(
                format:
                    "raw hash scaling: all cores hashing at once give %.1f %% of one core's rate x cores "
                    + "(Login's first ratio if the server did nothing but hash)",
                median(scaling)))
        return lines
    }
}
